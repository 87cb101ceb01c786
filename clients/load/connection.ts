import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { clientFrame, parseServerFrame } from '../../protocol/frames';
import { CLOSE_CODES, type EvalStatsFrame, type HelloFrame, JSON_SUBPROTOCOL } from '../../protocol/messages';

/**
 * One load session: a JSON-mode WebSocket with at most a few evals in flight,
 * each matched to its terminal frame by id. Never reconnects or resumes by
 * itself; the runner decides what to do with a dropped session.
 */

/** The server's `hello` (protocol/messages.ts): what a load run reads of it. */
export type Hello = Pick<HelloFrame, 'type' | 'session'> & Partial<Pick<HelloFrame, 'limits'>>;

export type OpenResult =
  | {
      readonly ok: true;
      readonly connection: LoadConnection;
      readonly hello: Hello;
      readonly openMs: number;
      /** Time from the connect call to the end of the WebSocket handshake ('open'), before `hello`. */
      readonly upgradeMs: number;
    }
  /** `reason`: `HTTP 401`, `ECONNREFUSED`, `OPEN_TIMEOUT`, `CLOSE 4404`, `NOT_VMGATE`, `CANCELLED`, ... */
  | { readonly ok: false; readonly reason: string; readonly detail: string };

export type EvalOutcome =
  | {
      readonly kind: 'result';
      readonly ms: number;
      readonly wire: unknown;
      readonly text: string;
      readonly stats: EvalStatsFrame;
      readonly logs: readonly string[];
    }
  | {
      readonly kind: 'error';
      readonly ms: number;
      readonly code: string;
      readonly message: string;
      readonly stats: EvalStatsFrame | undefined;
    }
  /** No terminal frame: `CLIENT_TIMEOUT` (none within the guard) or `DISCONNECTED` (the socket closed first). */
  | { readonly kind: 'lost'; readonly code: 'CLIENT_TIMEOUT' | 'DISCONNECTED'; readonly message: string };

interface Pending {
  readonly start: number;
  readonly logs: string[] | undefined;
  readonly timer: NodeJS.Timeout;
  readonly resolve: (outcome: EvalOutcome) => void;
}

export interface OpenOptions {
  readonly headers: Readonly<Record<string, string>>;
  readonly openTimeoutMs: number;
  /** Local source address (many sessions spread over 127.0.0.x to get past one address pair's ports). */
  readonly localAddress?: string;
}

/** A handle on a connection attempt, so a run that stops can cancel it. */
export interface Opening {
  readonly result: Promise<OpenResult>;
  cancel(): void;
}

export class LoadConnection {
  readonly #ws: WebSocket;
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  #closing = false;
  /** Set when the socket closed without us asking: the close code (1006 when it just dropped). */
  dropCode: number | undefined;
  readonly closed: Promise<void>;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    this.closed = new Promise((resolve) => {
      ws.once('close', (code) => {
        if (!this.#closing) this.dropCode = code;
        for (const [id, pending] of this.#pending) {
          clearTimeout(pending.timer);
          this.#pending.delete(id);
          pending.resolve({ kind: 'lost', code: 'DISCONNECTED', message: `the socket closed (${code})` });
        }
        resolve();
      });
    });
    ws.on('message', (data) => this.#onFrame(data.toString()));
    ws.on('error', () => {
      // a 'close' follows every error; the drop is recorded there
    });
  }

  /** Connects and waits for `hello`; `openMs` is the time from the connect call to `hello`. */
  static open(url: string, options: OpenOptions): Opening {
    const start = performance.now();
    const ws = new WebSocket(url, [JSON_SUBPROTOCOL], {
      headers: { ...options.headers },
      perMessageDeflate: false,
      handshakeTimeout: options.openTimeoutMs,
      followRedirects: false,
      maxPayload: 64 * 1024 * 1024,
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    });
    let settle: (make: () => OpenResult) => void = () => {};
    let upgradeMs = Number.NaN;
    const result = new Promise<OpenResult>((resolve) => {
      let settled = false;
      const timer = setTimeout(
        () => fail('OPEN_TIMEOUT', `no hello within ${options.openTimeoutMs} ms`),
        options.openTimeoutMs,
      );
      // The listeners of the attempt go before the outcome is built: a
      // LoadConnection installs its own.
      settle = (make) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        ws.removeAllListeners('open');
        ws.removeAllListeners('message');
        ws.removeAllListeners('error');
        ws.removeAllListeners('close');
        const outcome = make();
        if (!outcome.ok) {
          ws.on('error', () => {});
          ws.terminate();
        }
        resolve(outcome);
      };
      const fail = (reason: string, detail: string) => settle(() => ({ ok: false, reason, detail }));
      ws.once('error', (error: Error & { code?: string }) => {
        const status = /Unexpected server response: (\d+)/.exec(error.message)?.[1];
        if (status) fail(`HTTP ${status}`, error.message);
        else if (/handshake has timed out/.test(error.message)) fail('OPEN_TIMEOUT', error.message);
        else fail(error.code ?? 'CONNECT_ERROR', error.message);
      });
      ws.once('close', (code, reason) => fail(`CLOSE ${code}`, `closed before hello: ${code} ${reason.toString()}`));
      ws.once('open', () => {
        upgradeMs = performance.now() - start;
        if (ws.protocol !== JSON_SUBPROTOCOL) fail('NOT_VMGATE', `the server did not accept ${JSON_SUBPROTOCOL}`);
      });
      ws.once('message', (data) => {
        const frame = parseServerFrame(data.toString()) as Hello | undefined;
        if (frame?.type !== 'hello' || typeof frame.session !== 'string') {
          fail('NOT_VMGATE', 'the first frame was not a vmgate hello');
          return;
        }
        const openMs = performance.now() - start;
        const hello = frame;
        settle(() => ({ ok: true, connection: new LoadConnection(ws), hello, openMs, upgradeMs }));
      });
    });
    return { result, cancel: () => settle(() => ({ ok: false, reason: 'CANCELLED', detail: 'the run stopped' })) };
  }

  get isOpen(): boolean {
    return this.#ws.readyState === WebSocket.OPEN;
  }

  /**
   * Sends one eval and resolves with its terminal frame. `guardMs` bounds the
   * wait on our side (the server's own budget is `timeoutMs`); past it the
   * eval counts as `CLIENT_TIMEOUT` and a late answer is ignored.
   */
  eval(code: string, options: { timeoutMs?: number; guardMs: number; collectLogs: boolean }): Promise<EvalOutcome> {
    if (!this.isOpen) {
      return Promise.resolve({ kind: 'lost', code: 'DISCONNECTED', message: 'the socket is not open' });
    }
    const id = ++this.#nextId;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        resolve({ kind: 'lost', code: 'CLIENT_TIMEOUT', message: `no answer within ${options.guardMs} ms` });
      }, options.guardMs);
      this.#pending.set(id, { start: performance.now(), logs: options.collectLogs ? [] : undefined, timer, resolve });
      const timeout = options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {};
      this.#ws.send(clientFrame({ op: 'eval', id, code, ...timeout }));
    });
  }

  #onFrame(text: string): void {
    const frame = parseServerFrame(text);
    if (frame === undefined) return;
    const pending = typeof frame.id === 'number' ? this.#pending.get(frame.id) : undefined;
    if (!pending) return;
    if (frame.type === 'log') {
      pending.logs?.push(String(frame.text));
      return;
    }
    if (frame.type !== 'result' && frame.type !== 'error') return;
    const ms = performance.now() - pending.start;
    clearTimeout(pending.timer);
    this.#pending.delete(frame.id as number);
    if (frame.type === 'result') {
      pending.resolve({
        kind: 'result',
        ms,
        wire: frame.value,
        text: String(frame.text),
        stats: frame.stats as EvalStatsFrame,
        logs: pending.logs ?? [],
      });
    } else {
      const error = (frame.error ?? {}) as { code?: unknown; message?: unknown; text?: unknown };
      pending.resolve({
        kind: 'error',
        ms,
        code: typeof error.code === 'string' ? error.code : 'UNKNOWN',
        message: String(error.text ?? error.message ?? ''),
        stats: frame.stats as EvalStatsFrame | undefined,
      });
    }
  }

  /** Waits (at most `ms`) for the socket to be closed, e.g. after the peer's close frame arrived. */
  async waitClosed(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.closed, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
    clearTimeout(timer);
  }

  /** Ends the session (close 1000: the gateway rolls back and frees it at once); bounded to `graceMs`. */
  async close(graceMs = 2_000): Promise<void> {
    this.#closing = true;
    if (this.#ws.readyState === WebSocket.CLOSED) return;
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.close(CLOSE_CODES.normal, 'load run finished');
    const timer = setTimeout(() => this.#ws.terminate(), graceMs);
    await this.closed;
    clearTimeout(timer);
  }

  /** Drops the socket at once (pending evals resolve as `DISCONNECTED`). */
  terminate(): void {
    this.#closing = true;
    this.#ws.terminate();
  }
}
