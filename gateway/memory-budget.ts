/**
 * The gateway-wide memory budget (`--memory-budget-mb`): every byte of a
 * frame the gateway holds for a client — queued on a socket the client has
 * not read yet, or kept in a resume buffer, attached or detached — is counted
 * here, so the sum of what clients can make the gateway hold has one bound
 * however many sessions they open (docs/operations.md, "Memory").
 *
 * When a frame would not fit, room is made in this order: detached sessions
 * are evicted, oldest first (their clients get 4404 on resume); then the
 * replay buffers of attached sessions are emptied (a drop at that moment can
 * no longer be resumed). What still does not fit is the caller's to refuse:
 * log output is dropped with a notice, a reply may use the reserve above the
 * budget (a quarter of it). Beyond that, the client holding the most unread
 * bytes (one that is not reading) is cut off; when every client reads, the
 * session whose reply does not fit is closed.
 */

/** What holds frames that may be let go under pressure. */
export interface ReplayHolder {
  /** Empties the replay buffer; its bytes are released through `release`. */
  dropReplay(): void;
}

export class MemoryBudget {
  readonly limit: number;
  /** The budget plus the reserve replies may use. */
  readonly ceiling: number;
  #used = 0;
  #peak = 0;
  readonly #evictOldestDetached: () => boolean;
  readonly #shedHeaviest: () => boolean;
  /** Attached sessions holding replay frames, in the order they first did. */
  readonly #replayHolders = new Set<ReplayHolder>();

  constructor(limitBytes: number, evictOldestDetached: () => boolean, shedHeaviest: () => boolean) {
    this.limit = limitBytes;
    this.ceiling = Math.floor(limitBytes * 1.25);
    this.#evictOldestDetached = evictOldestDetached;
    this.#shedHeaviest = shedHeaviest;
  }

  get used(): number {
    return this.#used;
  }

  /** The most ever held at once (for /metrics and the tests). */
  get peak(): number {
    return this.#peak;
  }

  add(bytes: number): void {
    this.#used += bytes;
    if (this.#used > this.#peak) this.#peak = this.#used;
  }

  release(bytes: number): void {
    this.#used -= bytes;
  }

  /** Whether `bytes` more fit within `limit` (the budget, or the ceiling), after freeing what can be freed. */
  makeRoom(bytes: number, limit = this.limit): boolean {
    while (this.#used + bytes > limit) {
      if (this.#evictOldestDetached()) continue;
      const holder = this.#replayHolders.values().next();
      if (holder.done) return false;
      this.#replayHolders.delete(holder.value);
      holder.value.dropReplay();
    }
    return true;
  }

  /**
   * Room for a reply past the ceiling: cut off the client holding the most
   * unread bytes. Its memory is released as its socket is destroyed (within
   * a turn), so the reply may go; false when no client is a culprit.
   */
  shed(): boolean {
    return this.#shedHeaviest();
  }

  holdsReplay(holder: ReplayHolder, holds: boolean): void {
    if (holds) this.#replayHolders.add(holder);
    else this.#replayHolders.delete(holder);
  }
}

/** The default budget: a quarter of the V8 heap limit, at most 512 MiB. */
export function defaultMemoryBudgetBytes(heapLimitBytes: number): number {
  return Math.min(512 * 1024 * 1024, Math.floor(heapLimitBytes / 4));
}
