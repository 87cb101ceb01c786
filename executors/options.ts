import os from 'node:os';

/**
 * How sessions are hosted. `count: 0` runs every session engine inside the
 * gateway process (the debugging mode); `count: N` runs them in N executor
 * processes (docs/operations.md, "Executors").
 */
export interface ExecutorOptions {
  /** Executor processes; 0 = in-process engines. */
  readonly count: number;
  /** V8 heap limit of each executor (`--max-old-space-size`), in MiB. */
  readonly heapMb: number;
  /** An executor whose resident memory passes this (MiB) is killed and replaced. */
  readonly maxRssMb: number;
  /** How often each executor is asked for its heartbeat. */
  readonly heartbeatMs: number;
  /**
   * How long an executor may stay silent beyond what the evals it was given
   * may legitimately take (their time budgets); then it is killed and replaced.
   */
  readonly unresponsiveMs: number;
  /** How long a new executor may take to load the shared state and report ready. */
  readonly startTimeoutMs: number;
  /**
   * Per-user metric series at most; further users are counted under
   * `user="_other"`. 0 (the default): none — user names are published as
   * labels only when asked for.
   */
  readonly maxUserSeries: number;
  /** Tests only: executors answer `test` messages (executors/child.ts). */
  readonly testHooks: boolean;
}

export const DEFAULT_EXECUTOR_OPTIONS: ExecutorOptions = Object.freeze({
  count: 0,
  heapMb: 1024,
  maxRssMb: 2048,
  heartbeatMs: 250,
  unresponsiveMs: 2_000,
  startTimeoutMs: 60_000,
  maxUserSeries: 0,
  testHooks: false,
});

/** The default of `vmgate serve --executors`: one per CPU core. */
export function defaultExecutorCount(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/**
 * Heap an executor needs per session it may host: a realm after its first
 * eval holds ~185 KiB of V8 heap (docs/benchmarks.md, bench:scale), plus room
 * for what the session keeps.
 */
export const HEAP_KIB_PER_SESSION = 256;
/** Heap for what an executor holds whatever its sessions: the shared state's copy, Kysely, code. */
export const HEAP_BASE_MB = 512;

/**
 * The heap limit an executor gets when none is given: 1024 MiB, or enough for
 * its share of `maxSessions` when that is more. Without it, the default
 * session limit (10,000 on 2 executors) with a 50 MB shared state filled the
 * heap and V8 ended both executors with every session on them.
 */
export function defaultHeapMb(count: number, maxSessions: number | undefined): number {
  if (maxSessions === undefined || count <= 0) return DEFAULT_EXECUTOR_OPTIONS.heapMb;
  const perExecutor = Math.ceil(maxSessions / count);
  return Math.max(
    DEFAULT_EXECUTOR_OPTIONS.heapMb,
    HEAP_BASE_MB + Math.ceil((perExecutor * HEAP_KIB_PER_SESSION) / 1024),
  );
}

export function resolveExecutorOptions(
  options: Partial<ExecutorOptions> | undefined,
  maxSessions?: number,
): ExecutorOptions {
  const count = options?.count ?? DEFAULT_EXECUTOR_OPTIONS.count;
  const heapMb = options?.heapMb ?? defaultHeapMb(count, maxSessions);
  const resolved = { ...DEFAULT_EXECUTOR_OPTIONS, ...options, heapMb };
  // Unless told otherwise, the memory bound follows the heap limit.
  if (options?.maxRssMb === undefined && heapMb !== DEFAULT_EXECUTOR_OPTIONS.heapMb) {
    return { ...resolved, maxRssMb: 2 * heapMb };
  }
  return resolved;
}
