import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { realmBundles } from '../common/realm-bundle';
import { StartError } from '../common/start-error';
import { kyselyBundle } from '../db/kysely-bundle';
import type { EngineHandle } from '../sandbox/engine-handle';
import type { EngineOutput } from '../sandbox/engine-messages';
import type { SessionLimits } from '../sandbox/session-limits';
import type { SharedState } from '../shared-state/load';
import type { SharedStateStore } from '../shared-state/store';
import type { EngineProvider, EngineStatus, EnginesDatabase, OpenEngineOptions } from './engine-provider';
import { ExecutorProcess } from './executor';
import { type EngineMetrics, restartLabel } from './metrics';
import type { ExecutorOptions } from './options';
import type { ExecutorInit, ExecutorReport, TestResult } from './protocol';
import { RemoteEngine } from './remote-engine';

/**
 * The executor pool: N executor processes, each hosting many sessions. New
 * sessions go to the least-loaded executor. A watchdog asks each executor for
 * a heartbeat every `heartbeatMs`; one that stays silent longer than the
 * budgets of the evals it was given allow (plus `unresponsiveMs`) — stuck in
 * a builtin no timeout interrupts — or whose memory passes `maxRssMb`, is
 * SIGKILLed. Whatever ends an executor (kill, out-of-memory abort, crash), its
 * sessions are told (1011 `executor restarted: <why>`), the database sees its
 * connections close (rolling their transactions back), and a new executor
 * takes its place. Sessions on the other executors notice nothing.
 */

export interface ExecutorPoolParams {
  readonly options: ExecutorOptions;
  readonly sessionLimits: SessionLimits;
  readonly shared: SharedStateStore | undefined;
  readonly database: EnginesDatabase;
  readonly metrics: EngineMetrics;
  readonly log: Logger;
}

export class ExecutorStartError extends StartError {
  constructor(message: string) {
    super('EXECUTOR_START', message);
  }
}

/** A restart this soon after the previous start counts as a failure (backoff grows). */
const STABLE_AFTER_MS = 5_000;
const MAX_BACKOFF_MS = 5_000;

export class ExecutorPool implements EngineProvider {
  readonly mode = 'executors';
  readonly options: ExecutorOptions;
  readonly #params: ExecutorPoolParams;
  readonly #init: ExecutorInit;
  readonly #slots: ExecutorProcess[] = [];
  readonly #failures: number[] = [];
  readonly #bySession = new Map<string, RemoteEngine<ExecutorProcess>>();
  readonly #timer: NodeJS.Timeout;
  readonly #onSharedReload: ((next: SharedState) => void) | undefined;
  #sid = 0;
  #restarts = 0;
  #closing = false;
  /** Set while starting: the first executor failure fails the start. */
  #startFailed: ((error: Error) => void) | undefined;

  static async start(params: ExecutorPoolParams): Promise<ExecutorPool> {
    const pool = new ExecutorPool(params);
    try {
      await pool.#allReady();
    } catch (error) {
      await pool.close();
      throw error;
    }
    return pool;
  }

  private constructor(params: ExecutorPoolParams) {
    this.#params = params;
    this.options = params.options;
    const { database, options } = params;
    const pool = database.pool;
    this.#init = {
      index: 0,
      sessionLimits: params.sessionLimits,
      sharedFile: params.shared?.file,
      database: pool
        ? {
            kind: 'pool',
            // The configured pool size is the total: shared out among the executors.
            options: {
              ...pool.options,
              poolSize: Math.max(1, Math.ceil(pool.options.poolSize / options.count)),
              // Likewise each mapped account's cap.
              ...(pool.options.accountPoolSize !== undefined
                ? { accountPoolSize: Math.max(1, Math.ceil(pool.options.accountPoolSize / options.count)) }
                : {}),
            },
          }
        : { kind: 'none', hint: database.engine.hint },
      kyselyBundle: kyselyBundle(),
      realmBundles: realmBundles(),
      testHooks: options.testHooks,
    };
    for (let index = 0; index < options.count; index++) {
      this.#failures.push(0);
      this.#slots.push(this.#spawn(index, 0));
    }
    if (params.shared) {
      const store = params.shared;
      this.#onSharedReload = (next) => {
        for (const executor of this.#slots) executor.send(['shared', next.version]);
      };
      store.on('reload', this.#onSharedReload);
    }
    this.#timer = setInterval(() => this.#watch(), options.heartbeatMs);
    this.#timer.unref();
  }

  // ---- sessions ----------------------------------------------------------------

  open(options: OpenEngineOptions): EngineHandle {
    const executor = this.#leastLoaded();
    const { metrics } = this.#params;
    const sid = ++this.#sid;
    const { user, sessionId } = options;
    if (!executor) {
      // Every executor is down and waiting to be restarted: the session cannot be hosted.
      const orphan = new RemoteEngine(
        sid,
        sessionId,
        this.#slots[0] as ExecutorProcess,
        this.#params.sessionLimits,
        options.emit,
        options.onLost,
      );
      setImmediate(() => orphan.lost('no executor is running'));
      return orphan;
    }
    const emit = (message: EngineOutput) => {
      if (message.type === 'closed') {
        metrics.sessionClosed(user);
        this.#bySession.delete(sessionId);
      }
      options.emit(message);
    };
    const engine = new RemoteEngine(sid, sessionId, executor, this.#params.sessionLimits, emit, (why) => {
      metrics.sessionsLost.inc({ reason: restartLabel(why) });
      options.onLost(why);
    });
    executor.sessions.set(sid, engine);
    this.#bySession.set(sessionId, engine);
    metrics.sessionOpened(user);
    executor.send(['open', sid, { user, shared: options.shared?.version ?? null }]);
    return engine;
  }

  /** Least sessions first; among equals, the lowest index. Ready executors before starting ones. */
  #leastLoaded(): ExecutorProcess | undefined {
    let best: ExecutorProcess | undefined;
    for (const executor of this.#slots) {
      if (!executor.alive) continue;
      if (
        best === undefined ||
        (executor.state === 'ready' && best.state !== 'ready') ||
        (executor.state === best.state && executor.sessions.size < best.sessions.size)
      ) {
        best = executor;
      }
    }
    return best;
  }

  // ---- executors ---------------------------------------------------------------

  #spawn(index: number, generation: number): ExecutorProcess {
    return new ExecutorProcess(
      index,
      generation,
      this.options,
      { ...this.#init, index },
      {
        onReady: (executor) => {
          this.#params.log.info({ executor: index, pid: executor.pid, generation }, 'executor ready');
        },
        onReport: (executor, report) => this.#onReport(executor, report),
        onExit: (executor, why) => this.#onExit(executor, why),
      },
      this.#params.log,
    );
  }

  #onReport(executor: ExecutorProcess, report: ExecutorReport): void {
    const { metrics } = this.#params;
    metrics.applyUsage(executor.index, report.usage);
    if (report.rss > this.options.maxRssMb * 1024 * 1024) executor.kill('out of memory');
  }

  #onExit(executor: ExecutorProcess, why: string): void {
    const { index } = executor;
    const { metrics, log } = this.#params;
    metrics.forgetSource(index);
    const lost = [...executor.sessions.values()];
    for (const engine of lost) {
      this.#bySession.delete(engine.sessionId);
      engine.lost(why);
    }
    if (this.#slots[index] !== executor || this.#closing) return;
    if (executor.readyAt === 0 && this.#startFailed) {
      this.#startFailed(new ExecutorStartError(`executor ${index} could not start: ${why}`));
      return;
    }
    this.#restarts++;
    metrics.executorRestarts.inc({ executor: String(index), reason: restartLabel(why) });
    log.warn({ executor: index, pid: executor.pid, why, sessions: lost.length }, 'executor restarted');
    const stable = executor.readyAt > 0 && performance.now() - executor.readyAt > STABLE_AFTER_MS;
    this.#failures[index] = stable ? 0 : (this.#failures[index] ?? 0) + 1;
    const failures = this.#failures[index] ?? 0;
    const delay = failures <= 1 ? 0 : Math.min(MAX_BACKOFF_MS, 100 * 2 ** (failures - 2));
    const replace = () => {
      if (this.#closing) return;
      this.#slots[index] = this.#spawn(index, executor.generation + 1);
    };
    if (delay === 0) replace();
    else setTimeout(replace, delay).unref();
  }

  /** The watchdog's round: a heartbeat request to each executor, and the verdict on silent ones. */
  #watch(): void {
    const now = performance.now();
    const { unresponsiveMs, heartbeatMs, startTimeoutMs } = this.options;
    for (const executor of this.#slots) {
      if (executor.state === 'starting') {
        if (now - executor.startedAt > startTimeoutMs) executor.kill('failed to start: timed out');
        continue;
      }
      if (executor.state !== 'ready') continue;
      // What the evals it was given may legitimately take, one after another, plus slack.
      const allowed = unresponsiveMs + heartbeatMs + executor.inflightBudgetMs;
      if (executor.silentFor(now) > allowed) {
        // Confirmed after this turn's I/O: if the gateway itself was busy (many
        // upgrades at once), the executor's answer may be waiting, unread, in
        // the channel; it is read before setImmediate callbacks run.
        setImmediate(() => this.#confirmSilence(executor, allowed));
        continue;
      }
      executor.ping();
    }
  }

  #confirmSilence(executor: ExecutorProcess, allowed: number): void {
    if (executor.state !== 'ready' || executor.silentFor(performance.now()) <= allowed) return;
    const report = executor.report;
    const nearHeapLimit = report !== undefined && report.heapLimit > 0 && report.heapUsed > 0.85 * report.heapLimit;
    executor.kill(nearHeapLimit ? 'out of memory' : 'unresponsive');
  }

  #allReady(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const check = setInterval(() => {
        if (!this.#slots.every((executor) => executor.state === 'ready')) return;
        clearInterval(check);
        this.#startFailed = undefined;
        resolve();
      }, 5);
      this.#startFailed = (error) => {
        clearInterval(check);
        this.#startFailed = undefined;
        reject(error);
      };
    });
  }

  // ---- the gateway's view ----------------------------------------------------------

  status(): EngineStatus {
    const ready = this.#slots.filter((executor) => executor.state === 'ready').length;
    const now = performance.now();
    const busy = this.#slots.filter((e) => e.state === 'ready' && e.silentFor(now) > 1_000).length;
    return {
      ready: ready > 0,
      mode: 'executors',
      executors: { ready, total: this.#slots.length, restarts: this.#restarts, busy },
    };
  }

  get dbBound(): number {
    let bound = this.#params.database.pool?.bound ?? 0;
    for (const executor of this.#slots) if (executor.state === 'ready') bound += executor.report?.dbBound ?? 0;
    return bound;
  }

  refreshMetrics(): void {
    const { metrics } = this.#params;
    let ready = 0;
    let starting = 0;
    for (const executor of this.#slots) {
      if (executor.state === 'ready') ready++;
      else if (executor.state === 'starting') starting++;
      const label = { executor: String(executor.index) };
      const report = executor.state === 'ready' ? executor.report : undefined;
      metrics.executorSessions.set(label, executor.sessions.size);
      metrics.executorHeapUsed.set(label, report?.heapUsed ?? 0);
      metrics.executorHeapLimit.set(label, executor.heapLimit);
      metrics.executorRss.set(label, report?.rss ?? 0);
      metrics.executorArrayBuffers.set(label, report?.arrayBuffers ?? 0);
      metrics.executorHeartbeat.set(label, executor.rttMs / 1000);
      metrics.executorDbBound.set(label, report?.dbBound ?? 0);
    }
    metrics.executors.set({ state: 'ready' }, ready);
    metrics.executors.set({ state: 'starting' }, starting);
  }

  async close(): Promise<void> {
    this.#closing = true;
    clearInterval(this.#timer);
    if (this.#onSharedReload) this.#params.shared?.off('reload', this.#onSharedReload);
    await Promise.all(this.#slots.map((executor) => executor.stop(5_000)));
  }

  // ---- tests and benchmarks ------------------------------------------------------------

  /** The executor processes, by index (current generation). */
  get executors(): readonly ExecutorProcess[] {
    return this.#slots;
  }

  /** The executor hosting a gateway session. */
  executorOf(sessionId: string): ExecutorProcess | undefined {
    return this.#bySession.get(sessionId)?.executor;
  }

  /** Resolves when the executor at `index` is a ready process other than `previous`. */
  async replaced(index: number, previous: ExecutorProcess, timeoutMs = 30_000): Promise<ExecutorProcess> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const current = this.#slots[index];
      if (current && current !== previous && current.state === 'ready') return current;
      if (performance.now() > deadline) throw new Error(`executor ${index} was not replaced within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  test(index: number, op: string): Promise<TestResult> {
    const executor = this.#slots[index];
    if (!executor) return Promise.resolve({ ok: false, code: 'NO_EXECUTOR' });
    return executor.test(op);
  }
}
