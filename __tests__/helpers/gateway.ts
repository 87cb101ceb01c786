import pino from 'pino';
import WebSocket from 'ws';
import { type Gateway, type StartOptions, startGateway } from '../../gateway/server';
import { JSON_SUBPROTOCOL } from '../../protocol/messages';

/** Gateways and clients opened by a test are closed after it, whatever happened. */
const gateways: Gateway[] = [];
const clients: WebSocket[] = [];
afterEach(async () => {
  for (const ws of clients.splice(0)) ws.terminate();
  await Promise.all(gateways.splice(0).map((g) => g.close()));
});

export async function startTestGateway(options: StartOptions = {}): Promise<Gateway> {
  const gateway = await startGateway({
    port: 0,
    sharedFile: undefined,
    logger: pino({ level: 'silent' }),
    ...options,
    limits: { heartbeatMs: 0, ...options.limits },
  });
  gateways.push(gateway);
  return gateway;
}

export type Frame = Record<string, unknown> & { type: string };

/** A WebSocket client that queues incoming frames so tests can await them in order. */
export class TestClient {
  readonly ws: WebSocket;
  readonly frames: unknown[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  #waiters: Array<() => void> = [];
  #cursor = 0;
  #nextId = 0;
  readonly json: boolean;
  /** The highest `seq` seen (JSON mode), and every frame's `seq` in arrival order. */
  lastSeq = 0;
  readonly seqs: number[] = [];

  constructor(url: string, options: { json?: boolean; headers?: Record<string, string>; protocols?: string[] } = {}) {
    this.json = options.json ?? true;
    const protocols = options.protocols ?? (this.json ? [JSON_SUBPROTOCOL] : []);
    this.ws = new WebSocket(url, protocols, { headers: options.headers ?? {} });
    clients.push(this.ws);
    this.ws.on('message', (data) => {
      const text = data.toString();
      if (this.json) {
        // `seq` numbers frames for resuming; tests compare frames without it.
        const frame = JSON.parse(text) as Record<string, unknown>;
        if (typeof frame.seq === 'number') {
          if (frame.seq > 0) this.lastSeq = frame.seq;
          this.seqs.push(frame.seq);
          delete frame.seq;
        }
        this.frames.push(frame);
      } else {
        this.frames.push(text);
      }
      for (const wake of this.#waiters.splice(0)) wake();
    });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
      this.ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    this.closed = new Promise((resolve) => {
      this.ws.once('close', (code, reason) => {
        resolve({ code, reason: reason.toString() });
        for (const wake of this.#waiters.splice(0)) wake();
      });
    });
  }

  /** The next frame not yet consumed (in arrival order). */
  async next(timeoutMs = 5_000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    while (this.#cursor >= this.frames.length) {
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error('socket closed while waiting for a frame');
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`no frame within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.frames[this.#cursor++] as Frame;
  }

  /** Frames received but not yet consumed by `next()`, consumed now. */
  drain(): Frame[] {
    const rest = this.frames.slice(this.#cursor) as Frame[];
    this.#cursor = this.frames.length;
    return rest;
  }

  /** Skips frames until one of `type` (and, if given, `id`) arrives; returns it and the skipped ones. */
  async until(type: string, id?: unknown): Promise<{ frame: Frame; before: Frame[] }> {
    const before: Frame[] = [];
    for (;;) {
      const frame = await this.next();
      if (frame.type === type && (id === undefined || frame.id === id)) return { frame, before };
      before.push(frame);
    }
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Sends an op with a fresh id and waits for its terminal frame; returns it with the logs before it. */
  async request(op: Record<string, unknown>): Promise<{ frame: Frame; logs: Frame[] }> {
    const id = `r${++this.#nextId}`;
    this.send({ ...op, id });
    for (const logs: Frame[] = []; ; ) {
      const frame = await this.next(15_000);
      if (frame.id !== id) continue;
      if (frame.type === 'log') logs.push(frame);
      else return { frame, logs };
    }
  }

  async eval(code: string, extra: Record<string, unknown> = {}): Promise<Frame> {
    return (await this.request({ op: 'eval', code, ...extra })).frame;
  }

  /** Text mode: sends a line and returns the next text frame. */
  async line(text: string): Promise<string> {
    this.ws.send(text);
    return (await this.next()) as unknown as string;
  }
}

export async function connect(
  gateway: Gateway | string,
  options?: ConstructorParameters<typeof TestClient>[1] & { path?: string },
): Promise<TestClient> {
  const base = typeof gateway === 'string' ? gateway : gateway.url;
  const client = new TestClient(`${base}${options?.path ?? '/'}`, options);
  await client.opened;
  return client;
}

/** Resolves with the HTTP status of a refused upgrade (or 101 when accepted). */
export function upgradeStatus(
  url: string,
  options: { headers?: Record<string, string>; protocols?: string[] } = {},
): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options.protocols ?? [], { headers: options.headers ?? {} });
    clients.push(ws);
    ws.once('open', () => {
      resolve(101);
      ws.terminate();
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
    });
    ws.once('error', (error) => {
      if (!(error.message ?? '').includes('Unexpected server response')) reject(error);
    });
  });
}

/** Polls `condition` until it holds (true) or `timeoutMs` passes (false). */
export async function waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}
