/**
 * One request/reply channel over Node's IPC for every benchmark that runs
 * parts of itself in child processes (servers, load clients, measuring
 * children). The parent calls; children answer, and may send events
 * (`{ event: ... }`, e.g. the marks of a measured window).
 */
import { type ChildProcess, fork } from 'node:child_process';

interface RpcRequest {
  readonly rpc: number;
  readonly cmd: string;
  readonly args: Record<string, unknown>;
}
interface RpcReply {
  readonly rpc: number;
  readonly ok: boolean;
  readonly result?: unknown;
  readonly error?: string;
}
export interface ChildEvent {
  readonly event: string;
  readonly [key: string]: unknown;
}

export type Handler = (args: Record<string, unknown>) => unknown;

/**
 * In a child: answer the parent's calls, then report `ready` (with `ready`'s
 * fields). Without a `stop` handler, `stop` ends the process.
 */
export function serveRpc(handlers: Record<string, Handler>, ready: Record<string, unknown> = {}): void {
  // A child whose parent is gone (killed, timed out) must not linger.
  process.on('disconnect', () => process.exit(0));
  // Not copied: a child may add handlers later (the gateway's, once it runs).
  handlers.stop ??= exitSoon;
  process.on('message', (message: RpcRequest) => {
    if (typeof message?.rpc !== 'number') return;
    void (async () => {
      let reply: RpcReply;
      try {
        const handler = handlers[message.cmd];
        if (!handler) throw new Error(`unknown command ${message.cmd}`);
        reply = { rpc: message.rpc, ok: true, result: await handler(message.args) };
      } catch (error) {
        const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
        reply = { rpc: message.rpc, ok: false, error: text };
      }
      process.send?.(reply);
    })();
  });
  emitEvent({ event: 'ready', pid: process.pid, ...ready });
}

/** Ends this process once the current reply has gone out. */
export function exitSoon(): true {
  setTimeout(() => process.exit(0), 50);
  return true;
}

export function emitEvent(event: ChildEvent): void {
  process.send?.(event);
}

export class Child {
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #next = 0;
  #exited = false;
  readonly ready: Promise<Record<string, unknown>>;
  readonly child: ChildProcess;

  /**
   * Forks `script` with `args`; the child runs with this process's execArgv
   * (the swc loader) minus a CPU profiler, plus `extraExecArgv`.
   */
  constructor(
    readonly name: string,
    script: string,
    args: readonly string[],
    extraExecArgv: readonly string[] = [],
    onEvent: (event: ChildEvent) => void = () => {},
  ) {
    const execArgv = [...process.execArgv.filter((a) => !a.startsWith('--cpu-prof')), ...extraExecArgv];
    this.child = fork(script, [...args], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let ready: (value: Record<string, unknown>) => void = () => {};
    let failed: (error: Error) => void = () => {};
    this.ready = new Promise((resolve, reject) => {
      ready = resolve;
      failed = reject;
    });
    // A child that dies before 'ready' rejects `ready`; nobody may be listening yet.
    this.ready.catch(() => {});
    this.child.on('message', (message: RpcReply | ChildEvent) => {
      if (typeof (message as RpcReply).rpc === 'number') {
        const reply = message as RpcReply;
        const pending = this.#pending.get(reply.rpc);
        if (!pending) return;
        this.#pending.delete(reply.rpc);
        if (reply.ok) pending.resolve(reply.result);
        else pending.reject(new Error(`${name}: ${reply.error}`));
      } else if ((message as ChildEvent).event === 'ready') {
        ready(message as Record<string, unknown>);
      } else {
        onEvent(message as ChildEvent);
      }
    });
    this.child.on('exit', (code, signal) => {
      this.#exited = true;
      const error = new Error(`${name} exited (${signal ?? code})`);
      failed(error);
      for (const pending of this.#pending.values()) pending.reject(error);
      this.#pending.clear();
    });
  }

  /** Forks this benchmark's own script in another role (`--role <role>`). */
  static role(
    script: string,
    role: string,
    args: readonly string[] = [],
    extraExecArgv: readonly string[] = [],
    onEvent?: (event: ChildEvent) => void,
  ): Child {
    return new Child(
      `${role}${args[1] ? `:${args[1]}` : ''}`,
      script,
      ['--role', role, ...args],
      extraExecArgv,
      onEvent,
    );
  }

  call<T>(cmd: string, args: Record<string, unknown> = {}, timeoutMs = 180_000): Promise<T> {
    if (this.#exited) return Promise.reject(new Error(`${this.name} has exited`));
    const rpc = ++this.#next;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(rpc);
        reject(new Error(`${this.name}: ${cmd} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(rpc, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.send({ rpc, cmd, args } satisfies RpcRequest);
    });
  }

  /** Asks the child to stop; kills it (by its pid) if it has not exited 15 s later. */
  async stop(): Promise<void> {
    if (this.#exited) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    try {
      await this.call('stop', {}, 15_000);
    } catch {
      // fall through to the kill below
    }
    const killer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(killer);
  }
}

/** Runs `main` unless this process is a child role; reports a failure and exits 1. */
export function runMain(main: () => Promise<unknown>): void {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}

/**
 * Runs the `run` call once in a fresh child process (`script --role child`)
 * and stops it: a measurement whose memory readings must not mix with any
 * other's. The child answers with `serveRpc({ run })`.
 */
export async function runInChild<T>(
  script: string,
  args: Record<string, unknown>,
  extraExecArgv: readonly string[] = ['--expose-gc'],
  timeoutMs = 10 * 60_000,
): Promise<T> {
  const child = Child.role(script, 'child', [], extraExecArgv);
  try {
    await child.ready;
    return await child.call<T>('run', args, timeoutMs);
  } finally {
    await child.stop();
  }
}
