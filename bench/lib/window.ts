import { performance } from 'node:perf_hooks';
import { percentile } from './stats';

/**
 * Closed loops measured over a window: each of `loops` loops runs `op` again
 * as soon as the previous one finished; operations that finish inside
 * [start, end) count, and their latencies are kept. A loop stops at the
 * first operation that finishes at or after `end` (bounded in count too).
 */
export async function closedLoops(
  loops: number,
  start: number,
  end: number,
  op: (loop: number, k: number) => Promise<unknown>,
): Promise<{ counts: number[]; lat: number[] }> {
  const lat: number[] = [];
  const counts = await Promise.all(
    Array.from({ length: loops }, async (_, j) => {
      let n = 0;
      for (let k = 0; k < 10_000_000; k++) {
        const t = performance.now();
        await op(j, k);
        const u = performance.now();
        if (u >= end) break;
        if (u >= start) {
          n++;
          lat.push(u - t);
        }
      }
      return n;
    }),
  );
  return { counts, lat };
}

/** Operations per second over a window of `durationMs`, and the latency percentiles of the window. */
export function summarizeWindow(counts: readonly number[], lat: number[], durationMs: number) {
  const total = counts.reduce((x, y) => x + y, 0);
  return {
    total,
    statementsPerSec: total / (durationMs / 1000),
    p50Ms: percentile(lat, 50),
    p99Ms: percentile(lat, 99),
  };
}

/**
 * Calls `onStart` at `start` and `onEnd` at `end` (performance.now() times);
 * `cancel` clears whichever has not fired.
 */
export function windowMarks(start: number, end: number, onStart: () => void, onEnd: () => void): { cancel(): void } {
  const t1 = setTimeout(onStart, Math.max(0, start - performance.now()));
  const t2 = setTimeout(onEnd, Math.max(0, end - performance.now()));
  return {
    cancel() {
      clearTimeout(t1);
      clearTimeout(t2);
    },
  };
}
