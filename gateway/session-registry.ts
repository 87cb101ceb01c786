import { CLOSE_CODES } from '../protocol/messages';
import type { Session } from './session';

/** How long, and for how many tokens, the gateway remembers why a resumable session ended. */
const ENDED_KEPT_MS = 10 * 60_000;
const ENDED_KEPT_MAX = 10_000;

/**
 * The gateway's sessions: the open ones, the places each client address
 * holds (counted from the upgrade on, so a burst cannot pass the limits
 * together), the resumable ones by their current token, and why recently
 * ended ones ended (a client coming back is told). One registry per gateway.
 */
export class SessionRegistry {
  readonly #sessions = new Set<Session>();
  readonly #perAddress = new Map<string, number>();
  /** Sessions closing: they no longer hold a place (an evicted session frees its place at once). */
  #closing = 0;
  readonly #resumable = new Map<string, Session>();
  /** By token, oldest first. */
  readonly #ended = new Map<string, { readonly code: number; readonly reason: string; readonly at: number }>();

  /** Every session not yet closed (attached, detached or closing). */
  get sessions(): ReadonlySet<Session> {
    return this.#sessions;
  }

  get size(): number {
    return this.#sessions.size;
  }

  /** Places taken against `--max-sessions`: sessions not yet closing. */
  get held(): number {
    return this.#sessions.size - this.#closing;
  }

  /** Places an address holds (sessions and upgrades under way). */
  heldBy(address: string): number {
    return this.#perAddress.get(address) ?? 0;
  }

  /** Counts a place for `address` now; the returned function gives it back (once, whatever calls it). */
  reserve(address: string): () => void {
    this.#perAddress.set(address, this.heldBy(address) + 1);
    let counted = true;
    return () => {
      if (!counted) return;
      counted = false;
      const n = this.heldBy(address) - 1;
      if (n <= 0) this.#perAddress.delete(address);
      else this.#perAddress.set(address, n);
    };
  }

  add(session: Session, resumeToken: string | undefined): void {
    this.#sessions.add(session);
    if (resumeToken !== undefined) this.#resumable.set(resumeToken, session);
  }

  /** The session has begun to close: its place is free. */
  closing(): void {
    this.#closing++;
  }

  /** The session has closed; a client that resumes it later is told why (`reason`). */
  closed(session: Session, reason: string): void {
    this.#closing--;
    this.#sessions.delete(session);
    // The token now current: it changes at every resume.
    const token = session.resumeToken;
    if (token === undefined) return;
    this.#resumable.delete(token);
    if (reason.startsWith('session ended:')) this.#rememberEnded(token, CLOSE_CODES.resumeGone, reason);
    if (reason.startsWith('session evicted:')) this.#rememberEnded(token, CLOSE_CODES.resumeNotFound, reason);
  }

  resumable(token: string): Session | undefined {
    return this.#resumable.get(token);
  }

  /** Why the session of `token` ended, when it ended recently. */
  ended(token: string): { readonly code: number; readonly reason: string } | undefined {
    return this.#ended.get(token);
  }

  /** A resume replaced the session's token: the old one stops working. */
  renewToken(previous: string, next: string, session: Session): void {
    this.#resumable.delete(previous);
    this.#resumable.set(next, session);
  }

  #rememberEnded(token: string, code: number, reason: string): void {
    const now = Date.now();
    for (const [key, { at }] of this.#ended) {
      if (now - at < ENDED_KEPT_MS && this.#ended.size < ENDED_KEPT_MAX) break;
      this.#ended.delete(key);
    }
    this.#ended.set(token, { code, reason, at: now });
  }
}
