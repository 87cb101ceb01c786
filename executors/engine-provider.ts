import type { DatabasePool } from '../db/pool';
import type { EngineDatabase } from '../sandbox/database-calls';
import type { EngineHandle } from '../sandbox/engine-handle';
import type { EngineOutput } from '../sandbox/engine-messages';

/**
 * The contract between the gateway and where its session engines run
 * (executors/engines.ts picks in-process or the executor pool).
 */

/** What the engines need of the gateway's database (gateway/database.ts provides it). */
export interface EnginesDatabase {
  readonly engine: EngineDatabase;
  /** Undefined when there is no database (off, absent). */
  readonly pool: DatabasePool | undefined;
}

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
