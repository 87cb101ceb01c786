import type { WebSocket } from 'ws';
import { errorFrameOf, logFrame, numberedFrame } from '../protocol/frames';
import { CLOSE_CODES, type RequestId } from '../protocol/messages';
import type { GatewayLimits } from './config';
import { formatEngineOutput } from './json-mode';
import type { MemoryBudget, ReplayHolder } from './memory-budget';
import type { GatewayMetrics } from './metrics';

/**
 * A session's way out to its client: numbering (JSON mode), the replay
 * buffer of a resumable session (kept while attached, filled while
 * detached), backpressure (the engine is paused while the client does not
 * read) and the memory budget every held byte counts against. Log output the
 * client is not reading, or that the budget has no room for, is dropped, and
 * the client is told how much once it reads again (docs/protocol.md,
 * "Resuming"; docs/operations.md, "Memory").
 */

export type SessionState = 'open' | 'detached' | 'closing' | 'closed';

/** What a frame is, for what may be dropped: log output may, replies (terminal frames, pongs) may not. */
export type FrameKind = 'log' | 'reply';

/** What the outbox needs of its session, read live: sending can shed or close the session itself. */
export interface OutboxSession {
  readonly state: () => SessionState;
  /** The current socket; undefined while detached. */
  readonly socket: () => WebSocket | undefined;
  readonly pauseEngine: () => void;
  readonly resumeEngine: () => void;
  readonly close: (reason: string, code: number) => void;
}

export interface OutboxOptions {
  /** JSON mode: frames are numbered (`seq`). */
  readonly numbered: boolean;
  /** Bytes of numbered frames kept for replay; undefined when the session cannot resume. */
  readonly replayBytes: number | undefined;
  readonly limits: GatewayLimits;
  readonly budget: MemoryBudget;
  readonly metrics: GatewayMetrics;
}

interface SentFrame {
  readonly seq: number;
  /** The frame, or a short stand-in saying it was too large to keep. */
  readonly frame: string;
  readonly bytes: number;
  readonly kept: boolean;
}

export class SessionOutbox implements ReplayHolder {
  readonly #session: OutboxSession;
  readonly #options: OutboxOptions;
  /** Sequence number of the last numbered frame. */
  #seq = 0;
  /** Recent frames, for replay after a drop (only when the session can resume). */
  readonly #sent: SentFrame[] = [];
  #sentBytes = 0;
  /** Log frames dropped (and their bytes) since the client last heard about it. */
  #droppedFrames = 0;
  #droppedBytes = 0;
  #drainTimer: NodeJS.Timeout | undefined;

  constructor(session: OutboxSession, options: OutboxOptions) {
    this.#session = session;
    this.#options = options;
  }

  /** Sequence number of the last frame sent (or buffered). */
  get seq(): number {
    return this.#seq;
  }

  /**
   * Sends a frame: numbered in JSON mode, kept for replay when the session
   * can resume, buffered only while detached. Every byte held counts against
   * the gateway's memory budget.
   */
  send(frame: string, kind: FrameKind, id: RequestId | null = null): void {
    const { budget, limits, numbered, replayBytes } = this.#options;
    const detached = this.#session.state() === 'detached';
    const bytes = Buffer.byteLength(frame) + 16;
    const backlog = this.#session.socket()?.bufferedAmount ?? 0;
    if (kind === 'log' && !detached && (this.#droppedFrames > 0 || backlog > limits.sendBufferSoftBytes)) {
      this.#drop(bytes);
      return;
    }
    if (kind === 'reply' && this.#droppedFrames > 0) this.#sayDropped();
    // A kept frame is held twice at worst: in the replay buffer and on the socket.
    const held = replayBytes !== undefined && numbered ? 2 * bytes : bytes;
    if (!budget.makeRoom(held)) {
      if (kind === 'log' && !detached) {
        this.#drop(bytes);
        return;
      }
      if (!this.#alive()) return;
      if (!budget.makeRoom(held, budget.ceiling) && (!budget.shed() || this.#session.state() !== 'open')) {
        if (this.#alive()) this.#session.close('gateway memory budget exhausted', CLOSE_CODES.policy);
        return;
      }
    }
    let text = frame;
    if (numbered) {
      const seq = ++this.#seq;
      text = numberedFrame(seq, frame);
      if (replayBytes !== undefined && this.#alive()) this.#keep(seq, text, bytes, kind, id, replayBytes);
      if (detached || this.#session.state() === 'closed') return;
    }
    this.write(text);
  }

  /** Writes to the socket as is (the greeting, `resumed` and replayed frames are not numbered again). */
  write(text: string): void {
    const socket = this.#session.socket();
    if (!socket || socket.readyState !== socket.OPEN) return;
    const bytes = Buffer.byteLength(text);
    const { metrics, limits, budget } = this.#options;
    // Counted until written out: ws calls back once the socket took the bytes (or failed to).
    budget.add(bytes);
    socket.send(text, () => {
      budget.release(bytes);
    });
    metrics.framesOut.inc();
    metrics.bytesOut.inc(bytes);
    // What the kernel has not taken yet is what the client has not read.
    const backlog = socket.bufferedAmount;
    if (backlog > limits.sendBufferHardBytes) {
      // A client that does not read will not read a close frame either:
      // give the handshake a moment, then drop the connection.
      this.#session.close('client is not reading its frames', CLOSE_CODES.policy);
      setTimeout(() => socket.terminate(), 1000).unref();
    } else if (backlog > limits.sendBufferSoftBytes) {
      this.#session.pauseEngine();
      this.#watchDrain();
    }
  }

  /** Whether every frame after `lastSeq` is still kept (a resume from there can be served). */
  canReplayAfter(lastSeq: number): boolean {
    const first = this.#sent[0]?.seq ?? this.#seq + 1;
    return lastSeq + 1 >= first;
  }

  /**
   * Writes `resumed` (built from the count of frames replayed and of those
   * not kept) and then every kept frame after `lastSeq`, in order. Returns
   * how many frames were replayed.
   */
  replay(lastSeq: number, resumed: (replayed: number, notKept: number) => string): number {
    const frames = this.#sent.filter((sent) => sent.seq > lastSeq);
    const notKept = frames.filter((sent) => !sent.kept).length;
    this.write(resumed(frames.length, notKept));
    for (const sent of frames) this.write(sent.frame);
    this.#options.budget.holdsReplay(this, this.#sent.length > 0);
    return frames.length;
  }

  /** The session detached: under pressure it is evicted whole rather than trimmed. */
  detached(): void {
    this.#options.budget.holdsReplay(this, false);
  }

  /** Lets go of the frames kept for replay (memory pressure, or the session ends). */
  dropReplay(): void {
    const { budget } = this.#options;
    budget.release(this.#sentBytes);
    budget.holdsReplay(this, false);
    this.#sent.length = 0;
    this.#sentBytes = 0;
  }

  stopWatchingDrain(): void {
    clearTimeout(this.#drainTimer);
    this.#drainTimer = undefined;
  }

  #alive(): boolean {
    const state = this.#session.state();
    return state === 'open' || state === 'detached';
  }

  /** Keeps a numbered frame for replay: a frame larger than the whole buffer is kept as a short stand-in. */
  #keep(seq: number, text: string, bytes: number, kind: FrameKind, id: RequestId | null, bufferBytes: number): void {
    const { budget } = this.#options;
    const kept = bytes <= bufferBytes;
    const frame = kept ? text : notKeptFrame(seq, kind, id, bytes, bufferBytes);
    const size = kept ? bytes : Buffer.byteLength(frame);
    this.#sent.push({ seq, frame, bytes: size, kept });
    this.#sentBytes += size;
    budget.add(size);
    if (this.#session.state() === 'detached') {
      if (this.#sentBytes > bufferBytes) {
        this.#session.close('session ended: output buffer overflowed while detached', CLOSE_CODES.normal);
      }
      return;
    }
    // Attached: keep only the most recent frames within the buffer.
    while (this.#sentBytes > bufferBytes && this.#sent.length > 0) {
      const dropped = this.#sent.shift() as SentFrame;
      this.#sentBytes -= dropped.bytes;
      budget.release(dropped.bytes);
    }
    budget.holdsReplay(this, this.#sent.length > 0);
  }

  /** Tells the client how much output it missed (before any later frame, so it knows where). */
  #sayDropped(): void {
    if (this.#droppedFrames === 0) return;
    const text = `[output dropped: ${this.#droppedFrames} log frame(s), ${this.#droppedBytes} bytes, while the client was not reading or the gateway was short of memory]`;
    this.#droppedFrames = 0;
    this.#droppedBytes = 0;
    const log = { type: 'log', ref: null, level: 'warn', text } as const;
    this.send(this.#options.numbered ? (formatEngineOutput(log, null) as string) : text, 'reply');
  }

  #drop(bytes: number): void {
    this.#droppedFrames++;
    this.#droppedBytes += bytes;
    this.#options.metrics.framesDropped.inc();
    this.#session.pauseEngine();
    this.#watchDrain();
  }

  /**
   * While paused (backpressure) or dropping output, resume once the client
   * has read enough and the budget has room, and say what was dropped.
   */
  #watchDrain(): void {
    if (this.#drainTimer) return;
    const check = () => {
      this.#drainTimer = undefined;
      const socket = this.#session.socket();
      if (this.#session.state() !== 'open' || !socket) return;
      const { limits, budget } = this.#options;
      if (socket.bufferedAmount > limits.sendBufferSoftBytes / 2 || budget.used > budget.limit * 0.9) {
        this.#drainTimer = setTimeout(check, 20);
        return;
      }
      this.#sayDropped();
      this.#session.resumeEngine();
    };
    this.#drainTimer = setTimeout(check, 20);
  }
}

/** The stand-in replayed for a frame too large for the resume buffer (docs/protocol.md, "Resuming"). */
function notKeptFrame(seq: number, kind: FrameKind, id: RequestId | null, bytes: number, bufferBytes: number): string {
  const what = `this ${kind === 'log' ? 'output' : 'reply'} (${bytes} bytes) was larger than the resume buffer (${bufferBytes} bytes) and was not kept for replay`;
  return numberedFrame(
    seq,
    kind === 'log' ? logFrame(id, 'warn', `[${what}]`, true) : errorFrameOf(id, 'LIMIT', what, { notKept: true }),
  );
}
