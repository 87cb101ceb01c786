import type { RealmBundles } from '../common/realm-bundle';
import type { DatabaseOptions } from '../db/pool';
import type { EngineInput, EngineOutput } from '../sandbox/engine-messages';
import type { SessionLimits } from '../sandbox/session-limits';

/**
 * The messages between the gateway and an executor process, over Node's IPC
 * channel with JSON serialization (measured cheaper than `advanced` for the
 * small messages of the hot path: docs/benchmarks-executors.md). Engine
 * messages travel as they are (a result's `value` stays the JSON text the
 * realm produced); the messages of one turn share one channel write
 * (`['batch', [...]]`, message-batch.ts).
 *
 * Each message is a short array whose first element says what it is.
 */

/** What an executor needs to start. Sent once, as the first message (never through the environment). */
export interface ExecutorInit {
  readonly index: number;
  readonly sessionLimits: SessionLimits;
  /** The shared state file the executor loads its own copy from. */
  readonly sharedFile: string | undefined;
  /** The database: the URL and tuning of its own pool, or why there is none. */
  readonly database:
    | { readonly kind: 'pool'; readonly options: DatabaseOptions }
    | { readonly kind: 'none'; readonly hint: string };
  /** The Kysely bundle's source (executors cannot run esbuild: no child processes). */
  readonly kyselyBundle: string;
  /** The realm code's bundles (common/realm-bundle.ts), for the same reason. */
  readonly realmBundles: RealmBundles;
  /** Enables the `test` message (tests only: proves the permission model from inside the process). */
  readonly testHooks: boolean;
}

export interface OpenInfo {
  readonly user: string | null;
  /** The shared state version the gateway announced to the client (hello.shared.version). */
  readonly shared: string | null;
}

export type ToExecutor =
  | readonly ['init', ExecutorInit]
  | readonly ['open', number, OpenInfo]
  | readonly ['in', number, EngineInput]
  | readonly ['pause', number]
  | readonly ['resume', number]
  | readonly ['ping', number]
  | readonly ['shared', string]
  | readonly ['test', number, string]
  | readonly ['exit'];

/** Aggregated session accounting, as deltas since the previous report (gauges excepted). */
export interface UsageReport {
  readonly cpuMs: number;
  readonly evals: number;
  readonly outputBytes: number;
  /** Gauges: open transactions now, and the age of the oldest. */
  readonly transactionsOpen: number;
  readonly oldestTransactionMs: number;
  /** Per named user: [user, cpuMs, evals, outputBytes] deltas, only users with activity. */
  readonly users: ReadonlyArray<readonly [string, number, number, number]>;
}

export interface ExecutorReport {
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly heapLimit: number;
  readonly external: number;
  readonly arrayBuffers: number;
  readonly sessions: number;
  readonly dbBound: number;
  readonly usage: UsageReport;
}

export interface ReadyInfo {
  readonly pid: number;
  readonly heapLimit: number;
  readonly shared: string | null;
}

export interface TestResult {
  readonly ok: boolean;
  readonly code?: string;
  readonly message?: string;
  readonly value?: string;
}

export type FromExecutor =
  | readonly ['ready', ReadyInfo]
  | readonly ['out', number, EngineOutput]
  | readonly ['pong', number, ExecutorReport]
  | readonly ['test', number, TestResult]
  | readonly ['fatal', string];
