import { type ChildProcess, fork } from 'node:child_process';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { findPackageRoot } from '../common/package-root';
import { executorsUseNativeWatchdog, NATIVE_WATCHDOG_ARG, NATIVE_WATCHDOG_DIR } from '../sandbox/watchdog';
import { type Batched, MessageBatcher, unbatch } from './message-batch';
import type { ExecutorOptions } from './options';
import type { ExecutorInit, ExecutorReport, FromExecutor, TestResult, ToExecutor } from './protocol';
import type { EngineHost, RemoteEngine } from './remote-engine';

/**
 * The gateway's side of one executor process: starting it with as little
 * power as possible, the message channel, the heartbeat's bookkeeping, and
 * the one way it ends (`close` event → `onExit(why)`), whether it exited by
 * itself or was killed. The pool decides when to kill and what replaces it.
 */

export type ExecutorState = 'starting' | 'ready' | 'dead';

export interface ExecutorProcessHooks {
  readonly onReady: (executor: ExecutorProcess) => void;
  readonly onReport: (executor: ExecutorProcess, report: ExecutorReport) => void;
  readonly onExit: (executor: ExecutorProcess, why: string) => void;
}

const ROOT = findPackageRoot(__dirname);
/** Compiled TypeScript is not there when the gateway runs from sources (tests, `-r @swc-node/register`). */
const FROM_SOURCES = __filename.endsWith('.ts');
const ENTRY = path.join(__dirname, FROM_SOURCES ? 'child.ts' : 'child.js');
const STDERR_TAIL = 8 * 1024;

/**
 * What an executor may read: the code it runs and the packages it loads —
 * not the rest of the application directory (the embedded database's data,
 * config files, token files).
 */
function readablePaths(sharedFile: string | undefined): string[] {
  const code = FROM_SOURCES
    ? ['executors', 'common', 'sandbox', 'db', 'protocol', 'shared-state', 'tsconfig.json']
    : ['dist', path.join('sandbox', 'realm'), path.join('shared-state', 'realm')];
  const paths = [...code, 'node_modules', 'package.json'].map((entry) => path.join(ROOT, entry));
  if (executorsUseNativeWatchdog()) paths.push(NATIVE_WATCHDOG_DIR);
  if (sharedFile) paths.push(path.resolve(sharedFile));
  return paths;
}

export function executorArgs(options: ExecutorOptions, sharedFile: string | undefined): string[] {
  return [
    `--max-old-space-size=${options.heapMb}`,
    '--experimental-permission',
    ...readablePaths(sharedFile).map((p) => `--allow-fs-read=${p}`),
    // The watchdog addon (sandbox/watchdog.ts), and, running from TypeScript
    // sources, swc's native transformer (development and tests only).
    ...(FROM_SOURCES || executorsUseNativeWatchdog() ? ['--allow-addons'] : []),
    // Even the executor's own realm cannot compile strings: an escaped `Function` builds nothing.
    '--disallow-code-generation-from-strings',
    // Lets the realm credit ArrayBuffers freed during an entry (sandbox/realm/allocation-limits.js).
    '--harmony-weak-refs-with-cleanup-some',
    '--disable-warning=ExperimentalWarning',
    // Node warns about `--allow-addons` at every start: a choice made here (docs/security.md).
    ...(FROM_SOURCES || executorsUseNativeWatchdog() ? ['--disable-warning=SecurityWarning'] : []),
    ...(FROM_SOURCES ? ['-r', '@swc-node/register'] : []),
  ];
}

/** Built from nothing: no token, JWT secret, DATABASE_URL or anything else of the gateway's environment. */
function executorEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  if (process.env.TZ) env.TZ = process.env.TZ;
  // swc-node would write its cache to the temp directory, which the executor may not.
  if (FROM_SOURCES) {
    env.SWC_NODE_CACHE = '0';
    // The project's tsconfig.json lists directories an executor may not read.
    env.SWC_NODE_PROJECT = path.join(ROOT, 'executors', 'tsconfig.json');
  }
  return env;
}

export class ExecutorProcess implements EngineHost {
  readonly index: number;
  readonly generation: number;
  readonly startedAt = performance.now();
  readonly sessions = new Map<number, RemoteEngine<ExecutorProcess>>();
  state: ExecutorState = 'starting';
  pid: number | undefined;
  readyAt = 0;
  heapLimit = 0;
  /** performance.now() of the last message from the process (any message proves its loop turns). */
  lastHeard = performance.now();
  /**
   * When the oldest heartbeat request still unanswered was sent. Silence is
   * measured from it, not from `lastHeard`: if the gateway itself was too
   * busy to ask, the executor was not silent.
   */
  #awaitingSince: number | undefined;
  #inflightBudgetMs = 0;
  report: ExecutorReport | undefined;
  /** Round trip of the last heartbeat. */
  rttMs = 0;
  readonly #child: ChildProcess;
  readonly #hooks: ExecutorProcessHooks;
  readonly #log: Logger;
  #queue: ToExecutor[] = [];
  /** Messages of this turn, written together (message-batch.ts). */
  readonly #out = new MessageBatcher<ToExecutor>((message) => this.#writeNow(message));
  #killReason: string | undefined;
  #stderrTail = '';
  #pingSeq = 0;
  #pingSentAt = 0;
  #testSeq = 0;
  readonly #tests = new Map<number, (result: TestResult) => void>();
  readonly exited: Promise<void>;

  constructor(
    index: number,
    generation: number,
    options: ExecutorOptions,
    init: ExecutorInit,
    hooks: ExecutorProcessHooks,
    log: Logger,
  ) {
    this.index = index;
    this.generation = generation;
    this.#hooks = hooks;
    this.#log = log;
    // The executor loads the watchdog addon when it may (`--allow-addons`, the
    // addon readable); the argument only tells it to report a fallback.
    this.#child = fork(ENTRY, executorsUseNativeWatchdog() ? [NATIVE_WATCHDOG_ARG] : [], {
      cwd: ROOT,
      execPath: process.execPath,
      execArgv: executorArgs(options, init.sharedFile),
      env: executorEnv(),
      serialization: 'json',
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      // A process group of its own: a terminal's Ctrl-C (SIGINT to the
      // foreground group) is for the gateway, which shuts its executors down
      // in order. An executor still ends with the gateway: it exits when the
      // IPC channel closes (child.ts).
      detached: true,
    });
    this.pid = this.#child.pid;
    this.#child.stdout?.setEncoding('utf8');
    this.#child.stderr?.setEncoding('utf8');
    this.#child.stdout?.on('data', (text: string) => this.#output('stdout', text));
    this.#child.stderr?.on('data', (text: string) => {
      this.#stderrTail = (this.#stderrTail + text).slice(-STDERR_TAIL);
      this.#output('stderr', text);
    });
    this.#child.on('message', (message) => this.#onMessage(message));
    this.#child.on('error', (error) => {
      this.#log.warn({ executor: index, error: error.message }, 'executor process error');
    });
    this.exited = new Promise((resolve) => {
      this.#child.once('close', (code, signal) => {
        this.#onClose(code, signal);
        resolve();
      });
    });
    // The init message is the first thing on the channel (never the environment: it holds the database URL).
    this.#child.send(['init', init] satisfies ToExecutor);
  }

  get alive(): boolean {
    return this.state !== 'dead';
  }

  /** Queued until the process reports ready; dropped once it is dead. */
  /** Sum of the time budgets of the evals sent to it and not yet answered. */
  get inflightBudgetMs(): number {
    return this.#inflightBudgetMs;
  }

  addInflightBudget(ms: number): void {
    this.#inflightBudgetMs += ms;
  }

  release(sid: number): void {
    this.sessions.delete(sid);
  }

  send(message: ToExecutor): void {
    if (this.state === 'dead') return;
    if (this.state === 'starting') {
      this.#queue.push(message);
      return;
    }
    this.#write(message);
  }

  ping(): void {
    if (this.state !== 'ready') return;
    this.#pingSentAt = performance.now();
    this.#awaitingSince ??= this.#pingSentAt;
    this.#write(['ping', ++this.#pingSeq]);
  }

  /** How long a heartbeat request has gone unanswered (0 when none is waiting). */
  silentFor(now: number): number {
    return this.#awaitingSince === undefined ? 0 : now - this.#awaitingSince;
  }

  /** SIGKILL: nothing in the process can delay it (a builtin spinning, a full heap). */
  kill(why: string): void {
    if (this.state === 'dead' || this.#killReason !== undefined) return;
    this.#killReason = why;
    this.#log.warn({ executor: this.index, pid: this.pid, why }, 'killing executor');
    this.#child.kill('SIGKILL');
  }

  /** Asks the process to exit (its sessions are closed by then); kills it after `timeoutMs`. */
  async stop(timeoutMs: number): Promise<void> {
    if (this.state === 'dead') return;
    this.#killReason ??= 'gateway shutting down';
    if (this.state === 'ready') this.#write(['exit']);
    else this.#child.kill('SIGKILL');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** Tests: runs a probe inside the process (executors/test-probes.ts). */
  test(op: string): Promise<TestResult> {
    const id = ++this.#testSeq;
    return new Promise((resolve) => {
      this.#tests.set(id, resolve);
      this.send(['test', id, op]);
    });
  }

  #write(message: ToExecutor): void {
    this.#out.push(message);
  }

  #writeNow(message: Batched<ToExecutor>): void {
    if (!this.#child.connected) return;
    try {
      this.#child.send(message);
    } catch {
      // The channel closed under us: the close event follows.
    }
  }

  #output(stream: 'stdout' | 'stderr', text: string): void {
    for (const line of text.split('\n')) {
      if (line.trim() !== '') this.#log.warn({ executor: this.index, pid: this.pid, stream }, line.slice(0, 2000));
    }
  }

  #onMessage(raw: unknown): void {
    this.lastHeard = performance.now();
    this.#awaitingSince = undefined;
    if (!unbatch<FromExecutor>(raw, (message) => this.#onOne(message))) this.kill('protocol error');
  }

  #onOne(message: FromExecutor): void {
    switch (message[0]) {
      case 'out': {
        const engine = this.sessions.get(message[1]);
        if (!engine) return; // a session already gone
        if (!engine.deliver(message[2])) this.kill('protocol error');
        return;
      }
      case 'pong': {
        const report = message[2];
        if (!isReport(report)) {
          this.kill('protocol error');
          return;
        }
        if (message[1] === this.#pingSeq) this.rttMs = performance.now() - this.#pingSentAt;
        this.report = report;
        this.#hooks.onReport(this, report);
        return;
      }
      case 'ready': {
        if (this.state !== 'starting') return;
        this.state = 'ready';
        this.readyAt = performance.now();
        this.heapLimit = Number(message[1]?.heapLimit) || 0;
        for (const queued of this.#queue.splice(0)) this.#write(queued);
        this.#hooks.onReady(this);
        return;
      }
      case 'test': {
        const resolve = this.#tests.get(message[1]);
        this.#tests.delete(message[1]);
        resolve?.(message[2]);
        return;
      }
      case 'fatal':
        this.#log.error({ executor: this.index, error: String(message[1]) }, 'executor failed to start');
        this.#killReason ??= `failed to start: ${String(message[1])}`;
        return;
      default:
        this.kill('protocol error');
    }
  }

  #onClose(code: number | null, signal: NodeJS.Signals | null): void {
    this.state = 'dead';
    this.#queue = [];
    for (const resolve of this.#tests.values()) resolve({ ok: false, code: 'EXECUTOR_GONE' });
    this.#tests.clear();
    this.#hooks.onExit(this, this.#killReason ?? this.#whyExited(code, signal));
  }

  /** Why a process ended that nobody killed: V8's out-of-memory abort says so on stderr. */
  #whyExited(code: number | null, signal: NodeJS.Signals | null): string {
    if (/heap out of memory|Reached heap limit|Allocation failed|Fatal process out of memory/i.test(this.#stderrTail)) {
      return 'out of memory';
    }
    if (signal) return `crashed (${signal})`;
    return `exited (code ${code})`;
  }
}

function isReport(value: unknown): value is ExecutorReport {
  if (value === null || typeof value !== 'object') return false;
  const r = value as Record<string, unknown>;
  return (
    typeof r.rss === 'number' &&
    typeof r.heapUsed === 'number' &&
    typeof r.sessions === 'number' &&
    r.usage !== null &&
    typeof r.usage === 'object' &&
    Array.isArray((r.usage as { users?: unknown }).users)
  );
}
