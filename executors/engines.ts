import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { EngineHandle } from '../sandbox/engine-handle';
import type { SessionLimits } from '../sandbox/session-limits';
import type { SharedStateStore } from '../shared-state/store';
import type { EngineProvider, EngineStatus, EnginesDatabase, OpenEngineOptions } from './engine-provider';
import { EngineMetrics } from './metrics';
import { type ExecutorOptions, resolveExecutorOptions } from './options';
import { ExecutorPool } from './pool';
import { AccountedEngine, UsageLedger } from './usage';

/**
 * Where session engines run, behind one interface for the gateway: in the
 * gateway process (`executors: 0`) or in a pool of executor processes.
 */

export interface StartEnginesOptions {
  readonly executors: Partial<ExecutorOptions> | undefined;
  readonly sessionLimits: SessionLimits;
  /** The gateway's session limit: an executor's default heap limit holds its share (options.ts). */
  readonly maxSessions?: number;
  readonly shared: SharedStateStore | undefined;
  readonly database: EnginesDatabase;
  readonly registry: Registry;
  readonly log: Logger;
}

/** Providers by the gateway metrics registry they report to: tests and benchmarks reach the pool this way. */
const providers = new WeakMap<object, EngineProvider>();

export async function startEngines(options: StartEnginesOptions): Promise<EngineProvider> {
  const resolved = resolveExecutorOptions(options.executors, options.maxSessions);
  const metrics = new EngineMetrics(options.registry, resolved.maxUserSeries);
  const provider: EngineProvider =
    resolved.count > 0
      ? await ExecutorPool.start({
          options: resolved,
          sessionLimits: options.sessionLimits,
          shared: options.shared,
          database: options.database,
          metrics,
          log: options.log,
        })
      : new LocalEngines(options.sessionLimits, options.database, metrics);
  providers.set(options.registry, provider);
  return provider;
}

/** The engine provider of a running gateway (`gateway.metrics.registry`); tests and benchmarks only. */
export function engineProviderOf(registry: object): EngineProvider | undefined {
  return providers.get(registry);
}

/** Engines in the gateway process: what every session ran on before executors existed. */
export class LocalEngines implements EngineProvider {
  readonly mode = 'in-process';
  readonly #limits: SessionLimits;
  readonly #database: EnginesDatabase;
  readonly #metrics: EngineMetrics;
  readonly #ledger = new UsageLedger();

  constructor(limits: SessionLimits, database: EnginesDatabase, metrics: EngineMetrics) {
    this.#limits = limits;
    this.#database = database;
    this.#metrics = metrics;
    metrics.executors.set({ state: 'ready' }, 0);
  }

  open(options: OpenEngineOptions): EngineHandle {
    const { user, emit } = options;
    this.#metrics.sessionOpened(user);
    return new AccountedEngine({
      limits: this.#limits,
      shared: options.shared?.value,
      database: this.#database.engine,
      user,
      ledger: this.#ledger,
      emit: (message) => {
        if (message.type === 'closed') this.#metrics.sessionClosed(user);
        emit(message);
      },
    });
  }

  status(): EngineStatus {
    return { ready: true, mode: 'in-process' };
  }

  get dbBound(): number {
    return this.#database.pool?.bound ?? 0;
  }

  refreshMetrics(): void {
    this.#metrics.applyUsage(-1, this.#ledger.report());
  }

  async close(): Promise<void> {}
}
