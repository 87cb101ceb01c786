import type { Logger } from 'pino';
import type { RawData, WebSocket } from 'ws';
import { errorBody, errors } from '../protocol/error-codes';
import { errorFrameOf, logFrame, numberedFrame, pongFrame, resumedFrame } from '../protocol/frames';
import { CLOSE_CODES, type RequestId } from '../protocol/messages';
import type { EngineHandle } from '../sandbox/engine-handle';
import type { EngineInput, EngineOutput, EvalStats } from '../sandbox/engine-messages';
import { capEngineOutput, capText } from '../sandbox/frame-cap';
import { AuditLog, type TransactionOp } from './audit-log';
import type { GatewayLimits } from './config';
import type { CpuQuota } from './cpu-quota';
import type { DetachedSessions } from './detached-sessions';
import { formatEngineOutput, formatError, parseClientFrame } from './json-mode';
import type { MemoryBudget } from './memory-budget';
import type { GatewayMetrics } from './metrics';
import {
  applyTimeoutCommand,
  bannerText,
  helpText,
  OPEN_WRITES_NOTE,
  parseTextFrame,
  renderEngineOutput,
  renderStats,
} from './text-mode';
import { TokenBucket } from './token-bucket';

/**
 * One WebSocket connection = one session. This object owns the socket's side
 * of the session: frame parsing for its mode, the id ↔ ref mapping, limits
 * (idle, lifetime, backpressure) and the single close path. The engine owns
 * the realm; the session only exchanges messages with it.
 */

export type SessionMode = 'json' | 'text';

/** Resuming after a dropped socket (JSON mode): see docs/protocol.md. */
export interface ResumeOptions {
  /** The first token (hello); every resume replaces it. */
  readonly token: string;
  /** How long a detached session waits for its client. */
  readonly graceMs: number;
  /** Frames kept for replay (while attached) and buffered (while detached). */
  readonly bufferBytes: number;
}

export interface SessionContext {
  readonly id: string;
  readonly mode: SessionMode;
  readonly socket: WebSocket;
  /** Undefined when the session cannot resume (text mode, or resuming is off). */
  readonly resume: ResumeOptions | undefined;
  readonly user: string | null;
  /** What a resume must authenticate as (gateway/auth.ts); never shown. */
  readonly principal: string;
  /** The client's address (gateway/client-address.ts). */
  readonly address: string;
  readonly limits: GatewayLimits;
  /** Eval budgets: the default when a client names none, and the most a client may ask for. */
  readonly evalTimeouts: { readonly defaultMs: number; readonly maxMs: number };
  /** The gateway-wide budget every frame held for a client counts against. */
  readonly budget: MemoryBudget;
  /** Where the session waits while detached (budgeted, oldest evicted first). */
  readonly detached: DetachedSessions<Session>;
  readonly metrics: GatewayMetrics;
  readonly log: Logger;
  readonly audit: AuditLog | undefined;
  /** Shared by every session of the gateway: CPU per user (or address). */
  readonly cpuQuota: CpuQuota;
  readonly version: string;
  readonly sharedVersion: string | undefined;
  readonly hello: () => string;
  /** Creates the engine; its `emit` must go to `session.onEngineOutput`. */
  readonly createEngine: (emit: (message: EngineOutput) => void) => EngineHandle;
  /** The session starts closing: it no longer holds a place among the sessions. */
  readonly onClosing: (session: Session) => void;
  readonly onClosed: (session: Session, reason: string) => void;
}

interface Pending {
  readonly id: RequestId | null;
  readonly kind: EngineInput['type'];
  readonly started: number;
  readonly codeBytes: number;
  readonly codeSha256: string | undefined;
}

type State = 'open' | 'detached' | 'closing' | 'closed';

/** Why a resume attempt was refused: a WebSocket close code and its reason. */
export type ResumeRefusal = { readonly code: number; readonly reason: string };

interface SentFrame {
  readonly seq: number;
  /** The frame, or a short stand-in saying it was too large to keep. */
  readonly frame: string;
  readonly bytes: number;
  readonly kept: boolean;
}

/** What a frame is, for what may be dropped: log output may, replies (terminal frames, pongs) may not. */
type FrameKind = 'log' | 'reply';

export class Session {
  readonly id: string;
  readonly mode: SessionMode;
  readonly user: string | null;
  readonly principal: string;
  readonly openedAt = Date.now();
  /** Heartbeat: set on every pong, cleared on every ping. */
  alive = true;
  readonly #ctx: SessionContext;
  #socket: WebSocket | undefined;
  /** The client's address on the current (or last) connection. */
  #address: string;
  #resumeToken: string | undefined;
  readonly #engine: EngineHandle;
  /** Sequence number of the last numbered frame (JSON mode). */
  #seq = 0;
  /** Recent frames, for replay after a drop (only when the session can resume). */
  readonly #sent: SentFrame[] = [];
  #sentBytes = 0;
  #graceTimer: NodeJS.Timeout | undefined;
  readonly #pending = new Map<number, Pending>();
  /** Ids of recently finished requests: a timer's output after its eval ended still names it. */
  readonly #finished = new Map<number, RequestId | null>();
  #ref = 0;
  #state: State = 'open';
  #idleTimer: NodeJS.Timeout | undefined;
  #lifetimeTimer: NodeJS.Timeout | undefined;
  #drainTimer: NodeJS.Timeout | undefined;
  /** Log frames dropped (and their bytes) since the client last heard about it. */
  #droppedFrames = 0;
  #droppedBytes = 0;
  /** Per-connection rate limits, and the rejections that lead to 1008. */
  readonly #frames: TokenBucket | undefined;
  readonly #bytes: TokenBucket | undefined;
  readonly #strikes: TokenBucket | undefined;
  #lastStats: EvalStats | undefined;
  /** The budget set with `.timeout` in text mode (JSON mode names one per eval). */
  #textTimeoutMs: number | undefined;
  /** Text mode: the open transaction's uncommitted changes were pointed out already. */
  #toldOpenWrites = false;
  #closed: Promise<void> | undefined;

  constructor(ctx: SessionContext) {
    this.#ctx = ctx;
    this.id = ctx.id;
    this.mode = ctx.mode;
    this.user = ctx.user;
    this.principal = ctx.principal;
    this.#address = ctx.address;
    this.#resumeToken = ctx.resume?.token;
    const { maxFramesPerSecond, maxBytesPerSecond } = ctx.limits;
    if (maxFramesPerSecond > 0) this.#frames = new TokenBucket(maxFramesPerSecond, 2 * maxFramesPerSecond);
    if (maxBytesPerSecond > 0) {
      this.#bytes = new TokenBucket(maxBytesPerSecond, Math.max(2 * maxBytesPerSecond, ctx.limits.maxFrameBytes));
    }
    // A client that keeps sending past its limit for about ten seconds' worth of frames is closed.
    if (this.#frames || this.#bytes)
      this.#strikes = new TokenBucket(maxFramesPerSecond / 10 || 10, maxFramesPerSecond || 100);
    this.#engine = ctx.createEngine((message) => this.#onEngineOutput(message));
    this.#attach(ctx.socket);

    const { idleTimeoutMs, maxLifetimeMs } = ctx.limits;
    if (idleTimeoutMs > 0) this.#armIdle();
    if (maxLifetimeMs > 0) {
      this.#lifetimeTimer = setTimeout(
        () => void this.close('session lifetime exceeded', CLOSE_CODES.lifetime),
        maxLifetimeMs,
      );
    }
    // The greeting is not numbered: replay never repeats it (docs/protocol.md).
    this.#write(
      ctx.mode === 'json' ? numberedFrame(0, ctx.hello()) : bannerText(ctx.id, ctx.version, ctx.sharedVersion),
    );
  }

  get state(): State {
    return this.#state;
  }

  /** The token a client presents to resume this session, if it can (it changes at every resume). */
  get resumeToken(): string | undefined {
    return this.#resumeToken;
  }

  get address(): string {
    return this.#address;
  }

  /** Sequence number of the last frame sent (or buffered). */
  get seq(): number {
    return this.#seq;
  }

  /**
   * A client comes back after a drop with the last `seq` it saw: the session
   * takes the new socket and replays every frame after `lastSeq`, in order,
   * exactly once. `nextToken` replaces the token just used (sent in
   * `resumed`). Returns why it refuses, or undefined when resumed.
   */
  resume(socket: WebSocket, lastSeq: number, nextToken: string, address: string): ResumeRefusal | undefined {
    if (this.#state === 'open') {
      return { code: CLOSE_CODES.resumeConflict, reason: 'session is attached to another connection' };
    }
    if (this.#state !== 'detached') return { code: CLOSE_CODES.resumeNotFound, reason: 'no such session' };
    const first = this.#sent[0]?.seq ?? this.#seq + 1;
    if (lastSeq + 1 < first) {
      const reason = `session ended: frames after seq ${lastSeq} are no longer available`;
      void this.close(reason);
      return { code: CLOSE_CODES.resumeGone, reason };
    }
    clearTimeout(this.#graceTimer);
    this.#graceTimer = undefined;
    this.#ctx.detached.delete(this);
    this.#state = 'open';
    this.#resumeToken = nextToken;
    this.#address = address;
    this.#attach(socket);
    const replay = this.#sent.filter((sent) => sent.seq > lastSeq);
    const resume = { token: nextToken, graceMs: this.#ctx.resume?.graceMs ?? 0 };
    const notKept = replay.filter((sent) => !sent.kept).length;
    this.#write(resumedFrame({ session: this.id, seq: this.#seq, replayed: replay.length, notKept, resume }));
    for (const sent of replay) this.#write(sent.frame);
    this.#ctx.budget.holdsReplay(this, this.#sent.length > 0);
    this.#engine.resume();
    this.#armIdle();
    this.#ctx.log.info({ session: this.id, user: this.user, address, replayed: replay.length }, 'session resumed');
    return undefined;
  }

  /**
   * The one close path: the socket closing, a limit, shutdown and the
   * heartbeat all end here. Idempotent; later calls share the first promise.
   */
  close(reason: string, code: number = CLOSE_CODES.normal): Promise<void> {
    this.#closed ??= this.#close(reason, code);
    return this.#closed;
  }

  async #close(reason: string, code: number): Promise<void> {
    this.#state = 'closing';
    // Held frames are let go at once: an eviction must free memory now, not after the engine closes.
    this.#ctx.detached.delete(this);
    this.dropReplay();
    this.#ctx.onClosing(this);
    clearTimeout(this.#idleTimer);
    clearTimeout(this.#lifetimeTimer);
    clearTimeout(this.#drainTimer);
    clearTimeout(this.#graceTimer);
    // The engine answers queued requests while the socket may still be open,
    // then releases the realm (and, with a database, rolls back).
    await this.#engine.close(reason);
    this.#state = 'closed';
    const socket = this.#socket;
    if (socket && (socket.readyState === socket.OPEN || socket.readyState === socket.CONNECTING)) {
      socket.close(code, truncateReason(reason));
    }
    this.#ctx.log.info({ session: this.id, user: this.user, reason, code }, 'session closed');
    this.#ctx.onClosed(this, reason);
  }

  /** Ends a detached session to make room (docs/operations.md): its client gets 4404 on resume. */
  evict(reason: string): void {
    void this.close(`session evicted: ${reason}`);
  }

  /** Lets go of the frames kept for replay (memory pressure, or the session ends). */
  dropReplay(): void {
    this.#ctx.budget.release(this.#sentBytes);
    this.#ctx.budget.holdsReplay(this, false);
    this.#sent.length = 0;
    this.#sentBytes = 0;
  }

  /** Bytes on the socket the client has not read yet. */
  get backlog(): number {
    return this.#state === 'open' ? (this.#socket?.bufferedAmount ?? 0) : 0;
  }

  /** Cuts off a client that does not read while the gateway is out of memory for frames. */
  shed(): void {
    const socket = this.#socket;
    void this.close('gateway memory budget exhausted: the client is not reading', CLOSE_CODES.policy);
    socket?.terminate();
  }

  ping(): void {
    if (this.#socket?.readyState === this.#socket?.OPEN) this.#socket?.ping();
  }

  /** Drops the connection without a close handshake (dead peer); a resumable session detaches. */
  terminate(reason: string): void {
    const socket = this.#socket;
    if (this.#ctx.resume && this.#state === 'open') this.#detach();
    else void this.close(reason);
    socket?.terminate();
  }

  // ---- the socket ------------------------------------------------------------

  #attach(socket: WebSocket): void {
    this.#socket = socket;
    this.alive = true;
    socket.on('message', (data, isBinary) => {
      if (this.#socket === socket) this.#onFrame(data, isBinary);
    });
    socket.on('pong', () => {
      this.alive = true;
    });
    // ws emits 'error' only for protocol violations (a frame over the limit,
    // invalid UTF-8...): the session ends, it does not wait to be resumed.
    // ws has already sent its close frame by then, with the status code and
    // no reason: give that frame a reason a person can read.
    let violation: string | undefined;
    const wsClose = socket.close.bind(socket);
    socket.close = (code?: number, reason?: string | Buffer) =>
      wsClose(code, reason ?? (code === CLOSE_CODES.tooBig ? this.#tooBigReason(socket) : undefined));
    socket.on('close', (code) => {
      if (this.#socket !== socket) return;
      if (violation !== undefined) {
        void this.close(violation, code);
        return;
      }
      // A client that says goodbye (1000, or a close frame without a code:
      // 1005) ends its session; any other drop (1006, a browser's 1001 on
      // reload) detaches a resumable one.
      const ends = code === CLOSE_CODES.normal || code === CLOSE_CODES.noStatus;
      if (this.#ctx.resume && this.#state === 'open' && !ends) {
        this.#detach();
        return;
      }
      void this.close('disconnected');
    });
    socket.on('error', (error: Error & { code?: string }) => {
      const tooBig = error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH';
      violation = tooBig ? this.#tooBigReason(socket) : `protocol violation: ${error.message}`;
      // The status ws closed with: 1009 too big, 1007 invalid UTF-8, 1002 any other violation.
      const code = tooBig
        ? CLOSE_CODES.tooBig
        : error.code === 'WS_ERR_INVALID_UTF8'
          ? CLOSE_CODES.invalidPayload
          : CLOSE_CODES.protocolError;
      if (this.#socket === socket && !this.#ctx.resume) void this.close(violation, code);
    });
  }

  /** The reason of a 1009 close: the frame's size (ws knows it from the header) and the limit. */
  #tooBigReason(socket: WebSocket): string {
    const size = (socket as unknown as { _receiver?: { _payloadLength?: unknown } })._receiver?._payloadLength;
    const limit = this.#ctx.limits.maxFrameBytes;
    return typeof size === 'number' && size > limit
      ? `frame too large (${size} bytes; the limit is ${limit})`
      : `frame too large (the limit is ${limit} bytes)`;
  }

  /** The socket is gone but the session lives on for the grace period, buffering its frames. */
  #detach(): void {
    if (this.#state !== 'open' || !this.#ctx.resume) return;
    this.#state = 'detached';
    this.#socket = undefined;
    clearTimeout(this.#idleTimer);
    clearTimeout(this.#drainTimer);
    this.#drainTimer = undefined;
    // Output now goes to the bounded buffer, not to a socket: let evals run.
    this.#engine.resume();
    this.#graceTimer = setTimeout(() => void this.close('disconnected'), this.#ctx.resume.graceMs);
    this.#ctx.log.info({ session: this.id, user: this.user }, 'session detached');
    // Under pressure a detached session is evicted whole rather than trimmed.
    this.#ctx.budget.holdsReplay(this, false);
    this.#ctx.detached.add(this);
  }

  // ---- client → engine -----------------------------------------------------

  #onFrame(data: RawData, isBinary: boolean): void {
    if (this.#state !== 'open') return;
    const { metrics } = this.#ctx;
    const bytes = rawLength(data);
    metrics.framesIn.inc();
    metrics.bytesIn.inc(bytes);
    this.#armIdle();
    if (!this.#withinRate(bytes)) {
      this.#rejectForRate(data, isBinary);
      return;
    }
    if (isBinary) {
      const message = 'binary frames are not accepted: send text frames';
      this.#send(
        this.mode === 'json' ? errorFrameOf(null, 'BAD_REQUEST', message) : `Error [BAD_REQUEST]: ${message}`,
        'reply',
      );
      return;
    }
    const text = data.toString();
    if (this.mode === 'json') this.#onJsonFrame(text);
    else this.#onTextFrame(text);
  }

  /** A refused frame still spends a frame token: refusing is work too. */
  #withinRate(bytes: number): boolean {
    const now = performance.now();
    if (this.#frames && !this.#frames.take(1, now)) return false;
    if (this.#bytes && !this.#bytes.take(bytes, now)) return false;
    return true;
  }

  /** A frame over the rate limit gets LIMIT (with its id); persistent abuse ends the session (1008). */
  #rejectForRate(data: RawData, isBinary: boolean): void {
    const { limits, metrics } = this.#ctx;
    metrics.framesRateLimited.inc();
    if (this.#strikes && !this.#strikes.take(1)) {
      void this.close('rate limit exceeded', CLOSE_CODES.policy);
      return;
    }
    const message = `rate limit: at most ${limits.maxFramesPerSecond} frames and ${limits.maxBytesPerSecond} bytes per second; this frame was not processed`;
    if (this.mode === 'text') {
      this.#send(`Error [LIMIT]: ${message}`, 'reply');
      return;
    }
    // The id is read only from a small frame: a large one is not parsed at all.
    const id = !isBinary && rawLength(data) <= 4096 ? requestIdOf(data.toString()) : null;
    this.#send(errorFrameOf(id, 'LIMIT', message), 'reply');
  }

  #onJsonFrame(text: string): void {
    const parsed = parseClientFrame(text);
    if (!parsed.ok) {
      this.#send(formatError(parsed.id, parsed.error), 'reply');
      return;
    }
    const op = parsed.op;
    const id = op.id ?? null;
    switch (op.op) {
      case 'ping':
        this.#send(pongFrame(id), 'reply');
        return;
      case 'eval':
        this.#dispatch(
          { type: 'eval', ref: 0, code: op.code, ...(op.timeoutMs !== undefined ? { timeoutMs: op.timeoutMs } : {}) },
          id,
          op.code,
        );
        return;
      case 'complete':
        this.#dispatch({ type: 'complete', ref: 0, code: op.code, cursor: op.cursor ?? op.code.length }, id);
        return;
      case 'commit':
      case 'rollback':
      case 'interrupt':
        this.#dispatch({ type: op.op, ref: 0 }, id);
        return;
    }
  }

  #onTextFrame(text: string): void {
    const command = parseTextFrame(text);
    switch (command.kind) {
      case 'eval': {
        if (command.code.trim() === '') return;
        const budget = this.#textTimeoutMs !== undefined ? { timeoutMs: this.#textTimeoutMs } : {};
        this.#dispatch({ type: 'eval', ref: 0, code: command.code, ...budget }, null, command.code);
        return;
      }
      case 'timeout': {
        const limits = this.#ctx.evalTimeouts;
        const { reply, timeoutMs } = applyTimeoutCommand(
          command.value,
          this.#textTimeoutMs ?? limits.defaultMs,
          limits,
        );
        if (timeoutMs !== undefined) this.#textTimeoutMs = timeoutMs;
        this.#send(reply, 'reply');
        return;
      }
      case 'help':
        this.#send(helpText(), 'reply');
        return;
      case 'stats':
        this.#send(renderStats(this.#lastStats), 'reply');
        return;
      case 'unknown':
        this.#send(`Unknown command ${command.name}. Type .help for help.`, 'reply');
        return;
      case 'complete':
        this.#dispatch({ type: 'complete', ref: 0, code: command.code, cursor: command.code.length }, null);
        return;
      default:
        this.#dispatch({ type: command.kind, ref: 0 }, null);
    }
  }

  #dispatch(input: EngineInput, id: RequestId | null, code?: string): void {
    const ref = ++this.#ref;
    this.#pending.set(ref, {
      id,
      kind: input.type,
      started: performance.now(),
      codeBytes: code === undefined ? 0 : Buffer.byteLength(code),
      codeSha256: code !== undefined && this.#ctx.audit ? AuditLog.hash(code) : undefined,
    });
    if (input.type === 'eval') {
      const { cpuQuota } = this.#ctx;
      const retryAfterMs = cpuQuota.retryAfterMs(this.#quotaKey);
      if (retryAfterMs > 0) {
        const { quotaMs, windowMs } = cpuQuota;
        const refusal = errors.quotaExceeded(retryAfterMs, quotaMs, windowMs);
        const error = errorBody(refusal.code, refusal.message, { retryAfterMs, quotaMs, windowMs });
        this.#onEngineOutput({ type: 'error', ref, error });
        return;
      }
    }
    this.#engine.send({ ...input, ref } as EngineInput);
  }

  /** Whose CPU quota this session draws on: its JWT user, or its client address. */
  get #quotaKey(): string {
    return this.user !== null ? `user:${this.user}` : `address:${this.address}`;
  }

  // ---- engine → client -----------------------------------------------------

  #onEngineOutput(message: EngineOutput): void {
    if (message.type === 'closed') return;
    if (message.type === 'transaction') {
      // The client sees the log line that comes with it; this is for the audit log.
      this.auditTransaction(message.end, 'ok', undefined, message.statement);
      return;
    }
    const pending = message.ref === null ? undefined : this.#pending.get(message.ref);
    const id = pending?.id ?? (message.ref === null ? null : (this.#finished.get(message.ref) ?? null));
    if (message.type !== 'log' && pending) {
      this.#pending.delete(message.ref as number);
      this.#finished.set(message.ref as number, pending.id);
      if (this.#finished.size > 64) this.#finished.delete(this.#finished.keys().next().value as number);
      if (pending.kind === 'eval' && message.type !== 'completions') this.#recordEval(pending, message);
      else if (pending.kind === 'commit' || pending.kind === 'rollback') {
        const outcome = message.type === 'error' ? message.error.code : 'ok';
        this.auditTransaction(pending.kind, outcome, performance.now() - pending.started);
      }
    }
    const kind: FrameKind = message.type === 'log' ? 'log' : 'reply';
    const cap = this.#ctx.limits.maxReplyFrameBytes;
    if (this.mode === 'text') {
      const text = this.#renderText(message);
      if (text !== undefined) this.#send(capText(text, cap), kind, id);
      return;
    }
    let frame = formatEngineOutput(message, id);
    if (frame === undefined) return;
    // `seq` adds a few bytes later; the cap keeps room for it (and more) in its overhead.
    if (frame.length > cap / 6 && Buffer.byteLength(frame) > cap) {
      frame = formatEngineOutput(capEngineOutput(message, cap), id) as string;
    }
    this.#send(frame, kind, id);
  }

  /** Text mode: the engine's message, and once per transaction a note when an eval leaves changes uncommitted. */
  #renderText(message: EngineOutput): string | undefined {
    const text = renderEngineOutput(message);
    // `ok` answers .commit / .rollback: the next changes are a new transaction's.
    if (message.type === 'ok') this.#toldOpenWrites = false;
    if (text === undefined || (message.type !== 'result' && message.type !== 'error') || !message.stats) return text;
    if (!message.stats.transactionWrites) {
      this.#toldOpenWrites = false;
      return text;
    }
    if (this.#toldOpenWrites) return text;
    this.#toldOpenWrites = true;
    return `${text}\n${OPEN_WRITES_NOTE}`;
  }

  #recordEval(pending: Pending, message: Extract<EngineOutput, { type: 'result' | 'error' | 'ok' }>): void {
    const outcome = message.type === 'error' ? message.error.code : 'ok';
    const stats = message.type === 'ok' ? undefined : message.stats;
    if (stats) this.#lastStats = stats;
    if (stats) this.#ctx.cpuQuota.charge(this.#quotaKey, stats.cpuMs);
    const ms = stats?.ms ?? performance.now() - pending.started;
    const { metrics, audit } = this.#ctx;
    metrics.evals.inc({ outcome });
    metrics.evalDuration.observe(ms / 1000);
    audit?.write({
      session: this.id,
      user: this.user,
      address: this.#address,
      op: 'eval',
      codeBytes: pending.codeBytes,
      codeSha256: pending.codeSha256 ?? '',
      outcome,
      ms,
    });
  }

  /**
   * An audit line for a transaction's end: `commit` / `rollback` asked for by
   * the client, and the hook for ends the engine reports itself (an implicit
   * commit by a DDL statement: `implicit-commit`). `outcome` is `ok` or the
   * error code.
   */
  auditTransaction(op: TransactionOp, outcome: string, ms?: number, statement?: string): void {
    this.#ctx.audit?.write({
      session: this.id,
      user: this.user,
      address: this.#address,
      op,
      outcome,
      ...(ms !== undefined ? { ms } : {}),
      ...(statement !== undefined ? { statement } : {}),
    });
  }

  /**
   * Sends a frame. In JSON mode every frame is numbered; a resumable session
   * keeps the recent ones for replay, and buffers them while detached. Every
   * byte held counts against the gateway's memory budget: log output the
   * client is not reading (or that the budget has no room for) is dropped,
   * and the client is told how much once it reads again.
   */
  #send(frame: string, kind: FrameKind, id: RequestId | null = null): void {
    const { budget, limits } = this.#ctx;
    const resume = this.#ctx.resume;
    const detached = this.#state === 'detached';
    const bytes = Buffer.byteLength(frame) + 16;
    const backlog = this.#socket?.bufferedAmount ?? 0;
    if (kind === 'log' && !detached && (this.#droppedFrames > 0 || backlog > limits.sendBufferSoftBytes)) {
      this.#drop(bytes);
      return;
    }
    if (kind === 'reply' && this.#droppedFrames > 0) this.#sayDropped();
    // A kept frame is held twice at worst: in the replay buffer and on the socket.
    const held = resume && this.mode === 'json' ? 2 * bytes : bytes;
    if (!budget.makeRoom(held)) {
      if (kind === 'log' && !detached) {
        this.#drop(bytes);
        return;
      }
      if (this.#state !== 'open' && this.#state !== 'detached') return;
      if (!budget.makeRoom(held, budget.ceiling) && (!budget.shed() || this.#state !== 'open')) {
        if (this.#state === 'open' || this.#state === 'detached') {
          void this.close('gateway memory budget exhausted', CLOSE_CODES.policy);
        }
        return;
      }
    }
    let text = frame;
    if (this.mode === 'json') {
      const seq = ++this.#seq;
      text = numberedFrame(seq, frame);
      if (resume && (this.#state === 'open' || detached)) this.#keep(seq, text, bytes, kind, id, resume.bufferBytes);
      if (detached || this.#state === 'closed') return;
    }
    this.#write(text);
  }

  /** Keeps a numbered frame for replay: a frame larger than the whole buffer is kept as a short stand-in. */
  #keep(seq: number, text: string, bytes: number, kind: FrameKind, id: RequestId | null, bufferBytes: number): void {
    const { budget } = this.#ctx;
    const kept = bytes <= bufferBytes;
    const frame = kept ? text : notKeptFrame(seq, kind, id, bytes, bufferBytes);
    const size = kept ? bytes : Buffer.byteLength(frame);
    this.#sent.push({ seq, frame, bytes: size, kept });
    this.#sentBytes += size;
    budget.add(size);
    if (this.#state === 'detached') {
      if (this.#sentBytes > bufferBytes) void this.close('session ended: output buffer overflowed while detached');
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
    this.#send(this.mode === 'json' ? (formatEngineOutput(log, null) as string) : text, 'reply');
  }

  #drop(bytes: number): void {
    this.#droppedFrames++;
    this.#droppedBytes += bytes;
    this.#ctx.metrics.framesDropped.inc();
    this.#engine.pause();
    this.#watchDrain();
  }

  #write(text: string): void {
    const socket = this.#socket;
    if (!socket || socket.readyState !== socket.OPEN) return;
    const bytes = Buffer.byteLength(text);
    const { metrics, limits, budget } = this.#ctx;
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
      void this.close('client is not reading its frames', CLOSE_CODES.policy);
      setTimeout(() => socket.terminate(), 1000).unref();
    } else if (backlog > limits.sendBufferSoftBytes) {
      this.#engine.pause();
      this.#watchDrain();
    }
  }

  /**
   * While paused (backpressure) or dropping output, resume once the client
   * has read enough and the budget has room, and say what was dropped.
   */
  #watchDrain(): void {
    if (this.#drainTimer) return;
    const check = () => {
      this.#drainTimer = undefined;
      if (this.#state !== 'open' || !this.#socket) return;
      const { limits, budget } = this.#ctx;
      if (this.#socket.bufferedAmount > limits.sendBufferSoftBytes / 2 || budget.used > budget.limit * 0.9) {
        this.#drainTimer = setTimeout(check, 20);
        return;
      }
      this.#sayDropped();
      this.#engine.resume();
    };
    this.#drainTimer = setTimeout(check, 20);
  }

  #armIdle(): void {
    const { idleTimeoutMs } = this.#ctx.limits;
    if (idleTimeoutMs <= 0 || this.#state !== 'open') return;
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => {
      // Something still running (or queued) is not idleness.
      if (this.#engine.pending > 0) this.#armIdle();
      else void this.close('idle timeout', CLOSE_CODES.idle);
    }, idleTimeoutMs);
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

/** The `id` of a JSON frame, when it has a valid one (for errors about frames that were not processed). */
function requestIdOf(text: string): RequestId | null {
  try {
    const id = (JSON.parse(text) as { id?: unknown })?.id;
    return (typeof id === 'string' && id.length <= 256) || (typeof id === 'number' && Number.isFinite(id)) ? id : null;
  } catch {
    return null;
  }
}

function rawLength(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((n, b) => n + b.length, 0);
  return (data as Buffer | ArrayBuffer).byteLength;
}

/** A close reason is limited to 123 bytes by the protocol. */
function truncateReason(reason: string): string {
  return Buffer.byteLength(reason) <= 123 ? reason : `${Buffer.from(reason).subarray(0, 120).toString()}...`;
}
