/**
 * CPU time per user over a sliding window, across all of a user's sessions
 * and executors: the gateway charges each finished eval's `stats.cpuMs` to
 * its session's key (the JWT user, or the client address when anonymous) and
 * refuses new evals of a key that used its quota within the window, until
 * enough of that use has slid out of it.
 *
 * Use is kept in buckets of a tenth of the window, so memory is bounded per
 * key; keys with nothing left in the window are forgotten.
 */
export interface CpuQuotaOptions {
  /** CPU ms a key may use per window; 0 = no quota. */
  readonly quotaMs: number;
  readonly windowMs: number;
}

const BUCKETS = 10;

interface Ledger {
  /** [bucket index, ms] pairs, oldest first. */
  readonly buckets: Array<[number, number]>;
  total: number;
}

export class CpuQuota {
  readonly quotaMs: number;
  readonly windowMs: number;
  readonly #bucketMs: number;
  readonly #ledgers = new Map<string, Ledger>();
  readonly #now: () => number;
  #charges = 0;

  constructor(options: CpuQuotaOptions, now: () => number = () => performance.now()) {
    this.quotaMs = options.quotaMs;
    this.windowMs = options.windowMs;
    this.#bucketMs = options.windowMs / BUCKETS;
    this.#now = now;
  }

  get enabled(): boolean {
    return this.quotaMs > 0 && this.windowMs > 0;
  }

  charge(key: string, cpuMs: number): void {
    if (!this.enabled || !(cpuMs > 0)) return;
    const bucket = Math.floor(this.#now() / this.#bucketMs);
    let ledger = this.#ledgers.get(key);
    if (!ledger) {
      ledger = { buckets: [], total: 0 };
      this.#ledgers.set(key, ledger);
    }
    this.#expire(ledger, bucket);
    const last = ledger.buckets[ledger.buckets.length - 1];
    if (last && last[0] === bucket) last[1] += cpuMs;
    else ledger.buckets.push([bucket, cpuMs]);
    ledger.total += cpuMs;
    // Now and then forget keys whose use has all left the window.
    if (++this.#charges % 1_000 === 0) {
      for (const [other, entry] of this.#ledgers) {
        this.#expire(entry, bucket);
        if (entry.buckets.length === 0) this.#ledgers.delete(other);
      }
    }
  }

  /** How long until `key` may run again (0: now). */
  retryAfterMs(key: string): number {
    if (!this.enabled) return 0;
    const ledger = this.#ledgers.get(key);
    if (!ledger) return 0;
    const now = this.#now();
    const bucket = Math.floor(now / this.#bucketMs);
    this.#expire(ledger, bucket);
    if (ledger.buckets.length === 0) {
      this.#ledgers.delete(key);
      return 0;
    }
    if (ledger.total < this.quotaMs) return 0;
    // Wait until enough of the oldest use has left the window.
    let total = ledger.total;
    for (const [index, ms] of ledger.buckets) {
      total -= ms;
      if (total < this.quotaMs) return Math.max(1, Math.ceil((index + BUCKETS + 1) * this.#bucketMs - now));
    }
    return this.windowMs;
  }

  /** CPU ms `key` used within the window. */
  usedMs(key: string): number {
    const ledger = this.#ledgers.get(key);
    if (!ledger) return 0;
    this.#expire(ledger, Math.floor(this.#now() / this.#bucketMs));
    return ledger.total;
  }

  #expire(ledger: Ledger, bucket: number): void {
    while (ledger.buckets.length > 0 && (ledger.buckets[0] as [number, number])[0] <= bucket - BUCKETS) {
      ledger.total -= (ledger.buckets.shift() as [number, number])[1];
    }
  }
}
