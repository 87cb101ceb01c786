/**
 * Diagnostics of bench:db and bench:gateway (opt-in; they perturb what they
 * measure a little, so quote figures from runs without them):
 *
 * - entry timing (`--entry-timing`): wraps `vm.Script.prototype.runInContext`
 *   in this process and times every call; the counters and samples cover the
 *   calls made with a `timeout` (every entry into a session realm after its
 *   creation: evals, pumps, Kysely loads), `allEntries` every call.
 *   Costs two `performance.now()` calls per entry (~0.1 µs);
 * - what-if (`--what-if-untimed`): realm entries without their timeout, to
 *   measure the cost of Node's per-call watchdog (never a valid configuration);
 * - CPU profiles (`--profile`): the V8 sampling profiler over a measured
 *   window only, through `node:inspector`, written to `bench/results/` and
 *   summarised with bench/cpuprofile-top.ts.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { performance } from 'node:perf_hooks';
import vm from 'node:vm';

let installed = false;
let count = 0;
let totalMs = 0;
let samples: number[] = [];
/** Every call, timed or not. */
const all = { count: 0, ms: 0 };

export interface EntryCounters {
  readonly count: number;
  readonly totalMs: number;
}

export function installEntryTiming(): void {
  if (installed) return;
  installed = true;
  const original = vm.Script.prototype.runInContext;
  vm.Script.prototype.runInContext = function runInContextTimed(
    this: vm.Script,
    context: vm.Context,
    options?: vm.RunningScriptOptions,
  ) {
    const t = performance.now();
    try {
      return original.call(this, context, options);
    } finally {
      const ms = performance.now() - t;
      all.count++;
      all.ms += ms;
      if (options?.timeout !== undefined) {
        count++;
        totalMs += ms;
        if (samples.length < 1_000_000) samples.push(ms);
      }
    }
  };
}

/**
 * What-if experiment only (`--what-if-untimed`): drops the `timeout` option of
 * every `runInContext` in this process, so realm entries run without Node's
 * per-call watchdog thread. Not a valid configuration (no CPU budget): it
 * measures how much of vmgate's cost is the watchdog itself. Install before
 * `installEntryTiming` so entries are still counted.
 */
export function installUntimedEntries(): void {
  const original = vm.Script.prototype.runInContext;
  vm.Script.prototype.runInContext = function runInContextUntimed(
    this: vm.Script,
    context: vm.Context,
    options?: vm.RunningScriptOptions,
  ) {
    if (options?.timeout === undefined) return original.call(this, context, options);
    const { timeout: _dropped, ...rest } = options;
    return original.call(this, context, rest);
  };
}

export function entryTimingInstalled(): boolean {
  return installed;
}

export function entryCounters(): EntryCounters {
  return { count, totalMs };
}

/** Every `runInContext` call so far, with a timeout or not. */
export function allEntries(): EntryCounters {
  return { count: all.count, totalMs: all.ms };
}

/** The per-entry durations (ms) recorded since the last call. */
export function takeEntrySamples(): number[] {
  const s = samples;
  samples = [];
  return s;
}

export class WindowProfiler {
  readonly #session = new Session();

  private constructor() {}

  static async start(intervalUs = 250): Promise<WindowProfiler> {
    const profiler = new WindowProfiler();
    profiler.#session.connect();
    await profiler.#post('Profiler.enable');
    await profiler.#post('Profiler.setSamplingInterval', { interval: intervalUs });
    await profiler.#post('Profiler.start');
    return profiler;
  }

  /** Stops, writes the `.cpuprofile` to `file`. */
  async stop(file: string): Promise<void> {
    const { profile } = (await this.#post('Profiler.stop')) as { profile: unknown };
    await this.#post('Profiler.disable');
    this.#session.disconnect();
    writeFileSync(file, JSON.stringify(profile));
  }

  #post(method: string, params?: object): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.#session.post(method, params ?? {}, (error, result) => (error ? reject(error) : resolve(result)));
    });
  }
}
