import type { Logger } from 'pino';
import type { RawData, WebSocket } from 'ws';
import { errorBody, errors } from '../protocol/error-codes';
import { errorFrameOf, numberedFrame, pongFrame, resumedFrame } from '../protocol/frames';
import { CLOSE_CODES, type RequestId } from '../protocol/messages';
import type { EngineHandle } from '../sandbox/engine-handle';
import type { EngineInput, EngineOutput } from '../sandbox/engine-messages';
import { capEngineOutput, capText } from '../sandbox/frame-cap';
import { AuditLog, type TransactionOp } from './audit-log';
import type { GatewayLimits } from './config';
import type { CpuQuota } from './cpu-quota';
import type { DetachedSessions } from './detached-sessions';
import { FrameRateLimit } from './frame-rate-limit';
import { formatEngineOutput, formatError, parseClientFrame, requestIdOf } from './json-mode';
import type { MemoryBudget } from './memory-budget';
import type { GatewayMetrics } from './metrics';
import { type FrameKind, SessionOutbox, type SessionState } from './session-outbox';
import { rawLength, truncateReason, watchSocket } from './session-socket';
import { bannerText, TextModeSession } from './text-mode';

/**
 * One WebSocket connection = one session. This object owns the socket's side
 * of the session: attaching and detaching sockets (resume), frame dispatch
 * for its mode, the id ↔ ref mapping, limits (idle, lifetime, rate, CPU
 * quota), metrics and audit, and the single close path. The engine owns the
 * realm; the session only exchanges messages with it. Its parts live beside
 * it: the way out to the client with the replay buffer and backpressure
 * (session-outbox.ts), the socket's events (session-socket.ts), the rate
 * limits (frame-rate-limit.ts), text mode's commands and state (text-mode.ts)
 * and JSON frames (json-mode.ts).
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

/** Why a resume attempt was refused: a WebSocket close code and its reason. */
export type ResumeRefusal = { readonly code: number; readonly reason: string };

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
  readonly #out: SessionOutbox;
  #graceTimer: NodeJS.Timeout | undefined;
  readonly #pending = new Map<number, Pending>();
  /** Ids of recently finished requests: a timer's output after its eval ended still names it. */
  readonly #finished = new Map<number, RequestId | null>();
  #ref = 0;
  #state: SessionState = 'open';
  #idleTimer: NodeJS.Timeout | undefined;
  #lifetimeTimer: NodeJS.Timeout | undefined;
  readonly #rate: FrameRateLimit;
  /** Text mode only. */
  readonly #text: TextModeSession | undefined;
  #closed: Promise<void> | undefined;

  constructor(ctx: SessionContext) {
    this.#ctx = ctx;
    this.id = ctx.id;
    this.mode = ctx.mode;
    this.user = ctx.user;
    this.principal = ctx.principal;
    this.#address = ctx.address;
    this.#resumeToken = ctx.resume?.token;
    this.#rate = new FrameRateLimit(ctx.limits);
    this.#text = ctx.mode === 'text' ? new TextModeSession(ctx.evalTimeouts) : undefined;
    this.#out = new SessionOutbox(
      {
        state: () => this.#state,
        socket: () => this.#socket,
        pauseEngine: () => this.#engine.pause(),
        resumeEngine: () => this.#engine.resume(),
        close: (reason, code) => void this.close(reason, code),
      },
      {
        numbered: ctx.mode === 'json',
        replayBytes: ctx.mode === 'json' ? ctx.resume?.bufferBytes : undefined,
        limits: ctx.limits,
        budget: ctx.budget,
        metrics: ctx.metrics,
      },
    );
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
    this.#out.write(
      ctx.mode === 'json' ? numberedFrame(0, ctx.hello()) : bannerText(ctx.id, ctx.version, ctx.sharedVersion),
    );
  }

  get state(): SessionState {
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
    return this.#out.seq;
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
    if (!this.#out.canReplayAfter(lastSeq)) {
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
    const resume = { token: nextToken, graceMs: this.#ctx.resume?.graceMs ?? 0 };
    const replayed = this.#out.replay(lastSeq, (count, notKept) =>
      resumedFrame({ session: this.id, seq: this.#out.seq, replayed: count, notKept, resume }),
    );
    this.#engine.resume();
    this.#armIdle();
    this.#ctx.log.info({ session: this.id, user: this.user, address, replayed }, 'session resumed');
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
    this.#out.dropReplay();
    this.#ctx.onClosing(this);
    clearTimeout(this.#idleTimer);
    clearTimeout(this.#lifetimeTimer);
    this.#out.stopWatchingDrain();
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
    watchSocket(socket, this.#ctx.limits.maxFrameBytes, {
      frame: (data, isBinary) => {
        if (this.#socket === socket) this.#onFrame(data, isBinary);
      },
      pong: () => {
        this.alive = true;
      },
      closed: (code, violation) => {
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
      },
      violated: (reason, code) => {
        if (this.#socket === socket && !this.#ctx.resume) void this.close(reason, code);
      },
    });
  }

  /** The socket is gone but the session lives on for the grace period, buffering its frames. */
  #detach(): void {
    if (this.#state !== 'open' || !this.#ctx.resume) return;
    this.#state = 'detached';
    this.#socket = undefined;
    clearTimeout(this.#idleTimer);
    this.#out.stopWatchingDrain();
    // Output now goes to the bounded buffer, not to a socket: let evals run.
    this.#engine.resume();
    this.#graceTimer = setTimeout(() => void this.close('disconnected'), this.#ctx.resume.graceMs);
    this.#ctx.log.info({ session: this.id, user: this.user }, 'session detached');
    this.#out.detached();
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
    const admitted = this.#rate.admit(bytes);
    if (admitted !== 'pass') {
      this.#refuseForRate(admitted, data, isBinary);
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

  /** A frame over the rate limit gets LIMIT (with its id); persistent abuse ends the session (1008). */
  #refuseForRate(admitted: 'refuse' | 'close', data: RawData, isBinary: boolean): void {
    this.#ctx.metrics.framesRateLimited.inc();
    if (admitted === 'close') {
      void this.close('rate limit exceeded', CLOSE_CODES.policy);
      return;
    }
    const message = this.#rate.refusal;
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
    const action = this.#text?.onFrame(text);
    if (action?.kind === 'reply') this.#send(action.text, 'reply');
    else if (action?.kind === 'dispatch') this.#dispatch(action.input, null, action.code);
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
    if (this.#text) {
      const text = this.#text.render(message);
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

  #recordEval(pending: Pending, message: Extract<EngineOutput, { type: 'result' | 'error' | 'ok' }>): void {
    const outcome = message.type === 'error' ? message.error.code : 'ok';
    const stats = message.type === 'ok' ? undefined : message.stats;
    if (stats) this.#text?.recordStats(stats);
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

  #send(frame: string, kind: FrameKind, id: RequestId | null = null): void {
    this.#out.send(frame, kind, id);
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
