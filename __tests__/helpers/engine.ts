import type { EngineOutput } from '../../sandbox/engine-messages';
import { SessionEngine, type SessionEngineOptions } from '../../sandbox/session-engine';

type Terminal = Extract<EngineOutput, { type: 'result' | 'error' | 'ok' }>;
type Log = Extract<EngineOutput, { type: 'log' }>;

export interface EvalReply {
  readonly terminal: Terminal;
  readonly logs: Log[];
  /** `text` of a result, or of an error (`Uncaught …`), for terse assertions. */
  readonly text: string;
  /** The decoded-as-JSON `value` of a result (tags left as objects). */
  readonly value: unknown;
  readonly code: string | undefined;
}

/** A session engine driven like a client would: one eval at a time, awaiting its terminal message. */
export class TestSession {
  readonly engine: SessionEngine;
  readonly outputs: EngineOutput[] = [];
  #ref = 0;
  #waiters = new Map<number, (t: Terminal) => void>();

  constructor(options: Omit<SessionEngineOptions, 'emit'> = {}) {
    this.engine = new SessionEngine({
      ...options,
      emit: (message) => {
        this.outputs.push(message);
        if ((message.type === 'result' || message.type === 'error' || message.type === 'ok') && message.ref !== null) {
          this.#waiters.get(message.ref)?.(message);
          this.#waiters.delete(message.ref);
        }
      },
    });
  }

  async eval(code: string, timeoutMs?: number): Promise<EvalReply> {
    const ref = ++this.#ref;
    const done = new Promise<Terminal>((resolve) => this.#waiters.set(ref, resolve));
    this.engine.send({ type: 'eval', ref, code, ...(timeoutMs !== undefined ? { timeoutMs } : {}) });
    const terminal = await done;
    const logs = this.outputs.filter((m): m is Log => m.type === 'log' && m.ref === ref);
    if (terminal.type === 'result') {
      return { terminal, logs, text: terminal.text, value: JSON.parse(terminal.value), code: undefined };
    }
    if (terminal.type === 'error') {
      return {
        terminal,
        logs,
        text: terminal.error.text ?? terminal.error.message,
        value: undefined,
        code: terminal.error.code,
      };
    }
    return { terminal, logs, text: '', value: undefined, code: undefined };
  }

  /** Sends a request without waiting (e.g. to queue evals or interrupt one). */
  send(type: 'interrupt' | 'commit' | 'rollback'): Promise<Terminal> {
    const ref = ++this.#ref;
    const done = new Promise<Terminal>((resolve) => this.#waiters.set(ref, resolve));
    this.engine.send({ type, ref });
    return done;
  }

  /** Text of an eval's result, failing loudly on errors. */
  async text(code: string): Promise<string> {
    const reply = await this.eval(code);
    if (reply.terminal.type !== 'result')
      throw new Error(`expected a result for ${code}, got ${JSON.stringify(reply.terminal)}`);
    return reply.text;
  }

  close(): Promise<void> {
    return this.engine.close('test finished');
  }
}

const open: TestSession[] = [];
// Every session a test opens is closed after it, whatever the outcome.
afterEach(async () => {
  await Promise.all(open.splice(0).map((session) => session.close()));
});

export function openSession(options?: Omit<SessionEngineOptions, 'emit'>): TestSession {
  const session = new TestSession(options);
  open.push(session);
  return session;
}
