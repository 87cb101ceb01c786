import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { GatewayDatabase } from '../gateway/database';
import type { EngineHandle } from '../gateway/session';
import type { EngineOutput } from '../sandbox/engine-messages';
import type { SessionLimits } from '../sandbox/session-engine';
import type { SharedStateStore } from '../shared-state/store';
import { EngineMetrics } from './metrics';
import { type ExecutorOptions, resolveExecutorOptions } from './options';
import { ExecutorPool } from './pool';
import { AccountedEngine, UsageLedger } from './usage';

/**
 * Where session engines run, behind one interface for the gateway: in the
 * gateway process (`executors: 0`) or in a pool of executor processes.
 */

export interface OpenEngineOptions {
  /** The gateway's session id (logs, tests). */
  readonly sessionId: string;
  readonly user: string | null;
  /** The shared state given to the session (the current version when it opens). */
  readonly shared: { readonly value: unknown; readonly version: string } | undefined;
  readonly emit: (message: EngineOutput) => void;
  /**
   * The engine is gone with its executor (killed or crashed, `why` says which):
   * the gateway closes the session with 1011 `executor restarted: <why>`.
   * Every request still waiting has had its terminal message by then.
   */
  readonly onLost: (why: string) => void;
}

export interface EngineStatus {
  /** False when sessions cannot be hosted (no executor is running). */
  readonly ready: boolean;
  readonly mode: 'in-process' | 'executors';
  readonly executors?: {
    readonly ready: number;
    readonly total: number;
    readonly restarts: number;
    /** Executors that have not answered a heartbeat for over a second (running code without a break). */
    readonly busy: number;
  };
}

export interface EngineProvider {
  readonly mode: 'in-process' | 'executors';
  open(options: OpenEngineOptions): EngineHandle;
  status(): EngineStatus;
  /** Database connections bound to sessions, wherever the sessions run. */
  readonly dbBound: number;
  /** Brings the accounting metrics up to date (before `/metrics` renders). */
  refreshMetrics(): void;
  /** After the sessions have closed, before the database closes. */
  close(): Promise<void>;
}

export interface StartEnginesOptions {
  readonly executors: Partial<ExecutorOptions> | undefined;
  readonly sessionLimits: SessionLimits;
  /** The gateway's session limit: an executor's default heap limit holds its share (options.ts). */
  readonly maxSessions?: number;
  readonly shared: SharedStateStore | undefined;
  readonly database: GatewayDatabase;
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
  readonly #database: GatewayDatabase;
  readonly #metrics: EngineMetrics;
  readonly #ledger = new UsageLedger();

  constructor(limits: SessionLimits, database: GatewayDatabase, metrics: EngineMetrics) {
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
