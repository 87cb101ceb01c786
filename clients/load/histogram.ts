/**
 * A latency histogram with logarithmic buckets: constant memory whatever the
 * number of samples (a run of millions of evals stays at ~8 KiB), O(1) to
 * record, and percentiles within 1% of the exact nearest-rank value (the
 * bucket's upper bound, clamped to the exact minimum and maximum seen).
 */

const MIN_MS = 0.001; // 1 µs: anything at or below lands in the first bucket
const GROWTH = 1.01; // each bucket is 1% wider than the one before
const LOG_GROWTH = Math.log(GROWTH);
const BUCKETS = Math.ceil(Math.log(3_600_000 / MIN_MS) / LOG_GROWTH) + 1; // up to one hour (≈2 200 buckets)

export interface LatencySummary {
  readonly count: number;
  readonly min: number | null;
  readonly mean: number | null;
  readonly p50: number | null;
  readonly p90: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
  readonly max: number | null;
}

export class LatencyHistogram {
  readonly #counts = new Uint32Array(BUCKETS);
  #count = 0;
  #sum = 0;
  #min = Number.POSITIVE_INFINITY;
  #max = Number.NEGATIVE_INFINITY;

  get count(): number {
    return this.#count;
  }

  /** Records one sample in milliseconds (negative and non-finite values are ignored). */
  record(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    const index = ms <= MIN_MS ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(ms / MIN_MS) / LOG_GROWTH));
    this.#counts[index] = (this.#counts[index] as number) + 1;
    this.#count++;
    this.#sum += ms;
    if (ms < this.#min) this.#min = ms;
    if (ms > this.#max) this.#max = ms;
  }

  /** The p-th percentile (0..100, nearest rank) in ms, or null when there is no sample. */
  percentile(p: number): number | null {
    if (this.#count === 0) return null;
    if (p >= 100) return this.#max;
    const rank = Math.max(1, Math.ceil((p / 100) * this.#count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i] as number;
      if (seen >= rank) return Math.min(this.#max, Math.max(this.#min, MIN_MS * GROWTH ** i));
    }
    return this.#max;
  }

  summary(): LatencySummary {
    const empty = this.#count === 0;
    return {
      count: this.#count,
      min: empty ? null : round(this.#min),
      mean: empty ? null : round(this.#sum / this.#count),
      p50: round(this.percentile(50)),
      p90: round(this.percentile(90)),
      p95: round(this.percentile(95)),
      p99: round(this.percentile(99)),
      max: empty ? null : round(this.#max),
    };
  }
}

/** Three decimals (µs resolution) keep the JSON summary readable. */
export function round(value: number | null): number | null {
  return value === null ? null : Math.round(value * 1000) / 1000;
}
