import { readFileSync } from 'node:fs';

/** Percentiles, medians, and the machine's CPU time (noise indicator) for the benchmarks. */

/** The p-th percentile (0..100) of `values`, nearest-rank on a sorted copy. NaN when empty. */
export function percentile(values: ArrayLike<number>, p: number): number {
  const n = values.length;
  if (n === 0) return Number.NaN;
  const sorted = Float64Array.from(values as ArrayLike<number>).sort();
  const rank = Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1));
  return sorted[rank] as number;
}

export function median(values: ArrayLike<number>): number {
  return percentile(values, 50);
}

export function mean(values: ArrayLike<number>): number {
  if (values.length === 0) return Number.NaN;
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i] as number;
  return sum / values.length;
}

/** Machine-wide CPU time from /proc/stat (Linux): busy and total, in ms summed over all cores. */
export function systemCpu(): { busyMs: number; totalMs: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    const fields = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal guest guest_nice (guest* are inside user/nice)
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = fields;
    const tick = 10; // USER_HZ = 100 on Linux
    const busy = user + nice + system + irq + softirq + steal;
    return { busyMs: busy * tick, totalMs: (busy + idle + iowait) * tick };
  } catch {
    return undefined;
  }
}

/**
 * CPU used on the machine by processes other than ours over a window, in % of
 * one core: machine busy time − our processes' CPU time, over the wall time.
 * A few % is the machine's own background; tens of % mean someone else was
 * running and the figures of that window are suspect.
 */
export function otherCpuPct(
  before: { busyMs: number } | undefined,
  after: { busyMs: number } | undefined,
  ourCpuMs: number,
  wallMs: number,
): number {
  if (!before || !after || wallMs <= 0) return Number.NaN;
  return Math.max(0, ((after.busyMs - before.busyMs - ourCpuMs) / wallMs) * 100);
}

/**
 * The median across `list` of each numeric field (over the items that have
 * it); other fields as the first item has them. Undefined for an empty list.
 */
export function medianFields<T extends object>(list: readonly T[]): T | undefined {
  const first = list[0];
  if (first === undefined) return undefined;
  const out = { ...first } as Record<string, unknown>;
  for (const key of new Set(list.flatMap((x) => Object.keys(x)))) {
    const values = list.map((x) => (x as Record<string, unknown>)[key]).filter((v) => typeof v === 'number');
    if (values.length > 0) out[key] = median(values as number[]);
  }
  return out as T;
}

/**
 * Runs every variant once per round, the order rotating by one each round (so
 * no variant always runs first, or right after the same one); each variant's
 * results in round order.
 */
export async function rotatingRounds<V extends { key: string }, R>(
  rounds: number,
  variants: readonly V[],
  run: (variant: V, round: number) => Promise<R>,
): Promise<Map<string, R[]>> {
  const results = new Map<string, R[]>(variants.map((v) => [v.key, []]));
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < variants.length; i++) {
      const v = variants[(i + round) % variants.length] as V;
      results.get(v.key)?.push(await run(v, round));
    }
  }
  return results;
}
