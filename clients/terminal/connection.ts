import type { IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { clientFrame, parseServerFrame } from '../../protocol/frames';
import {
  CLOSE_CODES,
  type ClientOp,
  type HelloFrame,
  JSON_SUBPROTOCOL,
  RESUME_REFUSALS,
  type ReceivedFrame,
  SESSION_END_REASONS,
} from '../../protocol/messages';

/**
 * A JSON-mode (`vmgate.v1`) session seen from a client: requests with ids and
 * their terminal frames, a stream of every server frame, and resuming after a
 * dropped socket as docs/protocol.md ("Resuming a session") describes:
 *
 * - `hello.resume.token` and the highest `seq` seen are remembered;
 * - when the socket drops (any close but one the client asked for, or one
 *   with which the server ended the session on purpose), the client connects
 *   again with `?resume=<token>&last=<seq>`, backing off, until the grace
 *   period from `hello.resume.graceMs` has passed;
 * - after `resumed`, replayed frames arrive; a frame whose `seq` was already
 *   seen is dropped, so each reaches the listeners exactly once;
 * - a refusal (4403, 4404, 4409, 4410) or the end of the grace period means
 *   the session is lost: pending requests fail with `SessionLostError`.
 *   4409 ("attached to another connection") is retried for up to 10 s first:
 *   right after a drop it is usually our own dead socket, which the server
 *   has not noticed yet.
 *
 * Requests made while the socket is down wait in an outbox and go out after
 * the session resumed.
 */

/** The server's `hello` (protocol/messages.ts), as received: checked where it is used. */
export type Hello = Partial<Omit<HelloFrame, 'type' | 'session'>> & {
  readonly type: 'hello';
  readonly session: string;
  readonly seq?: number;
};

/** Any frame after `hello` (log, result, error, ok, pong, resumed, ...). */
export type ServerFrame = ReceivedFrame;

/** A request; the connection gives it its id. */
export type ClientRequest = ClientOp extends infer Op ? (Op extends ClientOp ? Omit<Op, 'id'> : never) : never;

export type ConnectionEvent =
  /** Every numbered frame once, in order (logs, terminal frames, frames for nobody's id). */
  | { readonly type: 'frame'; readonly frame: ServerFrame }
  /** The socket dropped; the client is trying to resume. */
  | { readonly type: 'dropped'; readonly code: number; readonly reason: string; readonly graceMs: number }
  /** An attempt to resume failed; another follows after `delayMs`. */
  | { readonly type: 'retrying'; readonly attempt: number; readonly delayMs: number; readonly why: string }
  /** The session is back; `replayed` frames it sent meanwhile follow (as 'frame' events). */
  | { readonly type: 'resumed'; readonly session: string; readonly replayed: number }
  /** The replay is over; `unanswered` requests sent before the drop still have no answer. */
  | { readonly type: 'replayed'; readonly unanswered: number }
  /** The session is gone for good (refused resume, grace period over, or ended by the server). */
  | { readonly type: 'lost'; readonly code: number; readonly reason: string; readonly message: string };

export interface ConnectionOptions {
  readonly url: string;
  /** Sent as `Authorization: Bearer <token>` on every (re)connection. */
  readonly token?: string;
  /** First delay before a resume attempt, doubled after each failure up to `maxBackoffMs`. */
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** Give up on an opening handshake (and on waiting for `hello`/`resumed`) after this long. */
  readonly handshakeTimeoutMs?: number;
  /** WebSocket ping interval; a missed pong drops the socket (and so resumes). 0 = off. */
  readonly pingIntervalMs?: number;
}

/** The session cannot continue: a refused resume, the grace period over, or closed by the server. */
export class SessionLostError extends Error {
  readonly code: number;
  readonly reason: string;
  constructor(code: number, reason: string, message: string) {
    super(message);
    this.name = 'SessionLostError';
    this.code = code;
    this.reason = reason;
  }
}

/** The first connection could not be made (refused upgrade, network error, no hello). */
export class ConnectError extends Error {
  readonly status: number | undefined;
  constructor(message: string, status?: number) {
    super(message);
    this.name = 'ConnectError';
    this.status = status;
  }
}

/** Close codes with which the server ends a session on purpose: no point in resuming. */
const ENDED_BY_SERVER = SESSION_END_REASONS;

export { RESUME_REFUSALS };

/** How long a 4409 (attached elsewhere) after a drop is retried before the session counts as lost. */
const CONFLICT_RETRY_MS = 10_000;

type State = 'connecting' | 'open' | 'reconnecting' | 'lost' | 'closed';

interface Pending {
  readonly id: number;
  readonly op: string;
  readonly resolve: (frame: ServerFrame) => void;
  readonly reject: (error: Error) => void;
  /** Sent before a drop and not answered in the replay: the server may never have received it. */
  uncertain: boolean;
}

type Listener = (event: ConnectionEvent) => void;

interface Handshake {
  readonly first: ServerFrame;
  /** Frames that arrived after the first one, before the socket was adopted. */
  readonly early: WebSocket.RawData[];
  /** Removes the handshake's listeners. */
  readonly release: () => void;
  /** The close that came after the first frame, before the socket was adopted. */
  readonly closed: () => { code: number; reason: string } | undefined;
}

export class SessionConnection {
  readonly url: string;
  #options: ConnectionOptions;
  #ws: WebSocket | undefined;
  #state: State = 'connecting';
  #hello: Hello | undefined;
  /** The resume token to present next: hello's, then the one in each `resumed` (the used one stops working). */
  #resume: { readonly token: string; readonly graceMs: number } | undefined;
  #lastSeq = 0;
  #nextId = 0;
  readonly #pending = new Map<number, Pending>();
  readonly #outbox: string[] = [];
  readonly #listeners = new Set<Listener>();
  #pingTimer: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #closedByUs: Promise<void> | undefined;
  #droppedAt = 0;

  constructor(options: ConnectionOptions) {
    this.#options = options;
    this.url = options.url;
  }

  get hello(): Hello | undefined {
    return this.#hello;
  }

  get state(): State {
    return this.#state;
  }

  /** The highest `seq` seen. */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  /** Whether the server offered to resume this session. */
  get resumable(): boolean {
    return Boolean(this.#resume?.token);
  }

  on(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Opens the session: resolves with `hello`, rejects with a `ConnectError`. */
  async open(): Promise<Hello> {
    const ws = this.#socket(this.url);
    const handshake = await this.#handshake(ws).catch((error: Error) => {
      ws.terminate();
      throw error instanceof ConnectError ? error : new ConnectError(error.message);
    });
    const first = handshake.first;
    if (first.type !== 'hello') {
      ws.terminate();
      throw new ConnectError(`expected a hello frame, got ${JSON.stringify(first.type)}`);
    }
    const hello = first as unknown as Hello;
    this.#hello = hello;
    this.#resume = hello.resume?.token ? hello.resume : undefined;
    this.#lastSeq = typeof hello.seq === 'number' ? hello.seq : 0;
    this.#state = 'open';
    this.#adopt(ws, handshake);
    return hello;
  }

  /**
   * Sends a request with a fresh id; resolves with its terminal frame (logs
   * for it go to the listeners). While the socket is down it waits in the
   * outbox. Rejects with `SessionLostError` when the session is lost first.
   */
  request(request: ClientRequest): { id: number; done: Promise<ServerFrame> } {
    const id = ++this.#nextId;
    const done = new Promise<ServerFrame>((resolve, reject) => {
      if (this.#state === 'lost' || this.#state === 'closed') {
        reject(new SessionLostError(0, 'closed', 'the session is closed'));
        return;
      }
      this.#pending.set(id, { id, op: request.op, resolve, reject, uncertain: false });
      this.#transmit(clientFrame({ ...request, id } as ClientOp));
    });
    return { id, done };
  }

  /** Whether a request is still waiting for its terminal frame. */
  isPending(id: number): boolean {
    return this.#pending.has(id);
  }

  /** Whether a pending request was sent just before a drop and not answered in the replay. */
  isUncertain(id: number): boolean {
    return this.#pending.get(id)?.uncertain ?? false;
  }

  /**
   * Stops waiting for a request (one the server may never have received):
   * its promise rejects with `error`. A late answer still reaches the listeners.
   */
  abandon(id: number, error: Error): void {
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.#pending.delete(id);
    pending.reject(error);
  }

  /** Ends the session (close 1000: the server rolls back and releases it). */
  close(): Promise<void> {
    this.#closedByUs ??= new Promise<void>((resolve) => {
      const wasLive = this.#state !== 'lost' && this.#state !== 'closed';
      this.#state = 'closed';
      this.#stopTimers();
      this.#failPending(new SessionLostError(CLOSE_CODES.normal, 'closed', 'the session was closed'));
      const ws = this.#ws;
      if (!ws || !wasLive || ws.readyState === WebSocket.CLOSED) return resolve();
      const timer = setTimeout(() => {
        ws.terminate();
        resolve();
      }, 1000);
      ws.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(CLOSE_CODES.normal, 'client closed the session');
    });
    return this.#closedByUs;
  }

  // ---- sockets -------------------------------------------------------------

  #socket(url: string): WebSocket {
    const headers: Record<string, string> = {};
    if (this.#options.token) headers.Authorization = `Bearer ${this.#options.token}`;
    const ws = new WebSocket(url, [JSON_SUBPROTOCOL], {
      headers,
      handshakeTimeout: this.#options.handshakeTimeoutMs ?? 10_000,
      perMessageDeflate: false,
    });
    // Errors are handled through 'close' and the handshake; an 'error' with
    // no listener (e.g. from terminate() during the handshake) would throw.
    ws.on('error', () => {});
    return ws;
  }

  /**
   * Waits for the socket to open and its first frame (`hello`, or `resumed`).
   * Frames right behind the first one (a replay follows `resumed` at once,
   * often in the same TCP segment) are kept in `early` for `#adopt`.
   * A refused upgrade is a ConnectError with its HTTP status; a close before
   * the first frame is a ConnectError whose `closeCode`/`closeReason` tell why.
   */
  #handshake(ws: WebSocket): Promise<Handshake> {
    return new Promise((resolve, reject) => {
      const timeoutMs = this.#options.handshakeTimeoutMs ?? 10_000;
      const timer = setTimeout(
        () => fail(new ConnectError(`no answer from the server within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const early: WebSocket.RawData[] = [];
      let first: ServerFrame | undefined;
      let closed: { code: number; reason: string } | undefined;
      const cleanup = () => {
        clearTimeout(timer);
        ws.off('unexpected-response', onResponse);
      };
      const release = () => {
        ws.off('message', onMessage);
        ws.off('close', onClose);
        ws.off('error', onError);
      };
      const fail = (error: Error) => {
        cleanup();
        release();
        reject(error);
      };
      const onMessage = (data: WebSocket.RawData) => {
        if (first !== undefined) {
          early.push(data);
          return;
        }
        first = parseServerFrame(data.toString());
        if (first === undefined) {
          fail(new ConnectError('the server did not speak vmgate.v1 (its first frame is not a JSON frame)'));
          return;
        }
        cleanup();
        resolve({ first, early, release, closed: () => closed });
      };
      const onError = (error: Error) => {
        if (first === undefined) fail(new ConnectError(describeNetworkError(error)));
      };
      const onClose = (code: number, reason: Buffer) => {
        if (first !== undefined) {
          closed = { code, reason: reason.toString() };
          return;
        }
        const error = new ConnectError(reason.length ? reason.toString() : `closed with code ${code}`);
        Object.assign(error, { closeCode: code, closeReason: reason.toString() });
        fail(error);
      };
      const onResponse = (_request: unknown, response: IncomingMessage) => {
        const status = response.statusCode ?? 0;
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          if (body.length < 500) body += chunk;
        });
        response.on('end', () => fail(new ConnectError(refusalMessage(status, body.trim()), status)));
        response.on('error', () => fail(new ConnectError(refusalMessage(status, ''), status)));
      };
      ws.on('message', onMessage);
      ws.on('error', onError);
      ws.on('close', onClose);
      ws.on('unexpected-response', onResponse);
      ws.once('open', () => {
        if (ws.protocol !== JSON_SUBPROTOCOL) {
          fail(
            new ConnectError(
              `the server did not accept the ${JSON_SUBPROTOCOL} subprotocol: is this a vmgate gateway?`,
            ),
          );
        }
      });
    });
  }

  /** Makes `ws` the live socket: frames go to the listeners, a drop starts resuming. */
  #adopt(ws: WebSocket, handshake: Handshake): void {
    this.#ws = ws;
    const onData = (data: WebSocket.RawData) => {
      if (this.#ws !== ws) return;
      const frame = parseServerFrame(data.toString());
      if (frame !== undefined) this.#onFrame(frame); // the server only sends JSON frames in this mode
    };
    // Synchronously, so no frame can slip between the handshake's listener and ours.
    handshake.release();
    ws.on('message', onData);
    for (const data of handshake.early.splice(0)) onData(data);
    ws.on('pong', () => {
      (ws as WebSocket & { vmgateAlive?: boolean }).vmgateAlive = true;
    });
    ws.on('close', (code, reason) => {
      if (this.#ws !== ws) return;
      this.#onDrop(code, reason.toString());
    });
    const closed = handshake.closed();
    if (closed) this.#onDrop(closed.code, closed.reason);
    else this.#startPing(ws);
  }

  #startPing(ws: WebSocket): void {
    clearInterval(this.#pingTimer);
    const every = this.#options.pingIntervalMs ?? 15_000;
    if (every <= 0) return;
    const alive = ws as WebSocket & { vmgateAlive?: boolean };
    alive.vmgateAlive = true;
    this.#pingTimer = setInterval(() => {
      if (this.#ws !== ws || ws.readyState !== WebSocket.OPEN) return;
      if (!alive.vmgateAlive) {
        ws.terminate(); // a dead peer: the close handler resumes
        return;
      }
      alive.vmgateAlive = false;
      ws.ping();
    }, every);
    this.#pingTimer.unref();
  }

  #onFrame(frame: ServerFrame): void {
    if (typeof frame.seq === 'number' && frame.type !== 'resumed' && frame.type !== 'hello') {
      if (frame.seq <= this.#lastSeq) return; // already seen before the drop: exactly once
      this.#lastSeq = frame.seq;
    }
    this.#emit({ type: 'frame', frame });
    if (frame.type === 'log' || frame.id === undefined || frame.id === null) return;
    const pending = typeof frame.id === 'number' ? this.#pending.get(frame.id) : undefined;
    if (!pending) return;
    this.#pending.delete(pending.id);
    pending.resolve(frame);
  }

  #transmit(text: string): void {
    const ws = this.#ws;
    if (this.#state === 'open' && ws && ws.readyState === WebSocket.OPEN) ws.send(text);
    else this.#outbox.push(text);
  }

  // ---- drops and resuming --------------------------------------------------

  #onDrop(code: number, reason: string): void {
    clearInterval(this.#pingTimer);
    if (this.#state === 'closed' || this.#state === 'lost') return;
    const ended = ENDED_BY_SERVER[code];
    if (ended !== undefined) {
      this.#lose(code, reason, reason || ended); // the server's reason says it best
      return;
    }
    const resume = this.#resume;
    if (!resume?.token) {
      this.#lose(code, reason, 'the connection dropped, and this server does not resume sessions');
      return;
    }
    this.#state = 'reconnecting';
    for (const pending of this.#pending.values()) pending.uncertain = true;
    this.#emit({ type: 'dropped', code, reason, graceMs: resume.graceMs });
    this.#droppedAt = Date.now();
    const deadline = this.#droppedAt + resume.graceMs;
    this.#scheduleResume(0, deadline, this.#options.initialBackoffMs ?? 100);
  }

  #scheduleResume(attempt: number, deadline: number, delayMs: number): void {
    this.#retryTimer = setTimeout(() => void this.#tryResume(attempt + 1, deadline), delayMs);
  }

  async #tryResume(attempt: number, deadline: number): Promise<void> {
    if (this.#state !== 'reconnecting') return;
    const resume = this.#resume;
    if (!resume) return;
    const url = new URL(this.url);
    url.searchParams.set('resume', resume.token);
    url.searchParams.set('last', String(this.#lastSeq));
    const ws = this.#socket(url.toString());
    let handshake: Handshake;
    try {
      handshake = await this.#handshake(ws);
    } catch (error) {
      ws.terminate();
      if (this.#state !== 'reconnecting') return;
      const closeCode = (error as { closeCode?: number }).closeCode;
      const closeReason = (error as { closeReason?: string }).closeReason ?? '';
      // 4409 right after a drop is most often our own dead connection, which
      // the server has not noticed yet: try again for a while.
      const conflictRetry =
        closeCode === CLOSE_CODES.resumeConflict && Date.now() < this.#droppedAt + CONFLICT_RETRY_MS;
      if (closeCode !== undefined && RESUME_REFUSALS[closeCode] !== undefined && !conflictRetry) {
        const detail = closeReason || RESUME_REFUSALS[closeCode];
        this.#lose(closeCode, closeReason, detail);
        return;
      }
      const status = (error as ConnectError).status;
      if (status === 401 || status === 403) {
        this.#lose(status, (error as Error).message, (error as Error).message);
        return;
      }
      const base = this.#options.initialBackoffMs ?? 100;
      const max = this.#options.maxBackoffMs ?? 4_000;
      const delay = Math.round(Math.min(max, base * 2 ** attempt) * (0.75 + Math.random() * 0.5));
      if (Date.now() + delay > deadline) {
        this.#lose(
          CLOSE_CODES.resumeNotFound,
          'grace period over',
          `could not reconnect within the grace period (${resume.graceMs} ms)`,
        );
        return;
      }
      this.#emit({ type: 'retrying', attempt, delayMs: delay, why: (error as Error).message });
      this.#scheduleResume(attempt, deadline, delay);
      return;
    }
    if (this.#state !== 'reconnecting') {
      ws.terminate();
      return;
    }
    const first = handshake.first;
    if (first.type !== 'resumed') {
      // A server that ignored the resume request opened a new session: not ours.
      ws.close(CLOSE_CODES.normal);
      this.#lose(
        CLOSE_CODES.resumeNotFound,
        'not resumed',
        `the server answered the resume with ${JSON.stringify(first.type)}, not "resumed"`,
      );
      return;
    }
    const next = first.resume as { token?: unknown } | undefined;
    if (typeof next?.token === 'string') this.#resume = { token: next.token, graceMs: resume.graceMs };
    const replayEnd = typeof first.seq === 'number' ? first.seq : this.#lastSeq;
    const replayed = typeof first.replayed === 'number' ? first.replayed : 0;
    this.#state = 'open';
    this.#emit({ type: 'resumed', session: String(first.session ?? this.#hello?.session), replayed });
    this.#adopt(ws, handshake);
    // The replayed frames follow `resumed` (in the handshake's early frames,
    // or right away): once they are in, send what waited in the outbox.
    this.#afterReplay(ws, replayEnd, () => {
      if (this.#ws !== ws) return;
      for (const text of this.#outbox.splice(0)) ws.send(text);
      const unanswered = [...this.#pending.values()].filter((p) => p.uncertain).length;
      this.#emit({ type: 'replayed', unanswered });
    });
  }

  /** Calls `then` once every frame up to `seq` has been seen (or after a short wait). */
  #afterReplay(ws: WebSocket, seq: number, then: () => void): void {
    if (this.#lastSeq >= seq) {
      then();
      return;
    }
    const check = () => {
      if (this.#lastSeq < seq) return;
      ws.off('message', check);
      clearTimeout(timer);
      setImmediate(then);
    };
    const timer = setTimeout(() => {
      ws.off('message', check);
      then();
    }, 2_000);
    ws.on('message', check);
  }

  #lose(code: number, reason: string, message: string): void {
    if (this.#state === 'lost' || this.#state === 'closed') return;
    this.#state = 'lost';
    this.#stopTimers();
    this.#outbox.length = 0;
    this.#failPending(new SessionLostError(code, reason, message));
    this.#emit({ type: 'lost', code, reason, message });
  }

  #failPending(error: Error): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(error);
  }

  #stopTimers(): void {
    clearInterval(this.#pingTimer);
    clearTimeout(this.#retryTimer);
  }

  #emit(event: ConnectionEvent): void {
    for (const listener of [...this.#listeners]) listener(event);
  }
}

function refusalMessage(status: number, body: string): string {
  const detail = body ? `: ${body.split('\n')[0]}` : '';
  const hint =
    status === 401
      ? ' (pass --token or set VMGATE_TOKEN)'
      : status === 429 || status === 503
        ? ' (try again later)'
        : '';
  return `the gateway refused the connection with HTTP ${status}${detail}${hint}`;
}

function describeNetworkError(error: Error & { code?: string }): string {
  switch (error.code) {
    case 'ECONNREFUSED':
      return 'connection refused (is the gateway running?)';
    case 'ENOTFOUND':
      return 'host not found';
    case 'ECONNRESET':
      return 'the connection was reset';
    case 'ETIMEDOUT':
      return 'the connection timed out';
    default:
      if (/no subprotocol/i.test(error.message)) {
        return `the server did not accept the ${JSON_SUBPROTOCOL} subprotocol: is this a vmgate gateway?`;
      }
      return error.message || String(error);
  }
}
