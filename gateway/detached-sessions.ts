/**
 * Detached sessions (their socket dropped, waiting to be resumed) are
 * budgeted: per client address, per user, and in total. A new detach beyond
 * a limit evicts the oldest detached session of that address, user or the
 * gateway, so a client that opens and drops sessions only ever displaces its
 * own (docs/operations.md, "Detached sessions").
 */

export interface Detachable {
  readonly address: string;
  /** Who the client authenticated as (gateway/auth.ts): `anonymous`, `token:…` or `jwt:…`. */
  readonly principal: string;
  /** Ends the session; its client gets 4404 on resume. */
  evict(reason: string): void;
}

export interface DetachedLimits {
  readonly total: number;
  readonly perAddress: number;
  readonly perUser: number;
}

export class DetachedSessions<T extends Detachable> {
  readonly #limits: DetachedLimits;
  /** Insertion order is detach order: the first is the oldest. */
  readonly #all = new Set<T>();
  readonly #byAddress = new Map<string, Set<T>>();
  readonly #byUser = new Map<string, Set<T>>();

  constructor(limits: DetachedLimits) {
    this.#limits = limits;
  }

  get size(): number {
    return this.#all.size;
  }

  add(session: T): void {
    this.#all.add(session);
    group(this.#byAddress, session.address).add(session);
    const user = userOf(session);
    if (user !== undefined) group(this.#byUser, user).add(session);
    const { perAddress, perUser, total } = this.#limits;
    this.#trim(this.#byAddress.get(session.address), perAddress, 'too many detached sessions from this address');
    if (user !== undefined) this.#trim(this.#byUser.get(user), perUser, 'too many detached sessions of this user');
    this.#trim(this.#all, total, 'too many detached sessions');
  }

  delete(session: T): void {
    if (!this.#all.delete(session)) return;
    ungroup(this.#byAddress, session.address, session);
    const user = userOf(session);
    if (user !== undefined) ungroup(this.#byUser, user, session);
  }

  /** Evicts the oldest detached session (of `address`, when given); false when there is none. */
  evictOldest(reason: string, address?: string): boolean {
    const pool = address === undefined ? this.#all : this.#byAddress.get(address);
    const oldest = pool?.values().next();
    if (!oldest || oldest.done) return false;
    this.delete(oldest.value);
    oldest.value.evict(reason);
    return true;
  }

  #trim(pool: Set<T> | undefined, limit: number, reason: string): void {
    while (pool && pool.size > limit) {
      const oldest = pool.values().next().value as T;
      this.delete(oldest);
      oldest.evict(reason);
    }
  }
}

/** Anonymous clients are counted per address only. */
function userOf(session: Detachable): string | undefined {
  return session.principal === 'anonymous' ? undefined : session.principal;
}

function group<T>(map: Map<string, Set<T>>, key: string): Set<T> {
  let set = map.get(key);
  if (!set) {
    set = new Set();
    map.set(key, set);
  }
  return set;
}

function ungroup<T>(map: Map<string, Set<T>>, key: string, value: T): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(value);
  if (set.size === 0) map.delete(key);
}
