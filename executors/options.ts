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

export function resolveExecutorOptions(options: Partial<ExecutorOptions> | undefined): ExecutorOptions {
  const resolved = { ...DEFAULT_EXECUTOR_OPTIONS, ...options };
  // Unless told otherwise, the memory bound follows the heap limit.
  if (options?.maxRssMb === undefined && options?.heapMb !== undefined) {
    return { ...resolved, maxRssMb: 2 * resolved.heapMb };
  }
  return resolved;
}
