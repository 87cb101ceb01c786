import { type CompletionTarget, KEYWORDS } from './completion-target';

/** The answer to a `complete` request (docs/protocol.md, "complete"), built from what the realm found. */

/**
 * The budget of one completion entry. It runs no user code, only walks
 * property names: a budget this size is reached only by a huge object.
 */
export const COMPLETION_TIMEOUT_MS = 1_000;
/** Candidates sent at most (the realm stops gathering there too). */
const MAX_CANDIDATES = 1_000;
/** The text before the cursor a completion reads at most. */
export const MAX_COMPLETION_INPUT = 64 * 1024;

/** The realm's names (checked: only strings cross), with the keywords for a bare identifier. */
export function candidates(
  target: CompletionTarget,
  answer: string | undefined,
): { from: number; to: number; candidates: string[]; truncated: boolean } {
  let names: string[] = [];
  let truncated = false;
  try {
    const parsed = JSON.parse(answer ?? '{}') as { names?: unknown; truncated?: unknown };
    if (Array.isArray(parsed.names)) names = parsed.names.filter((n): n is string => typeof n === 'string');
    truncated = parsed.truncated === true;
  } catch {
    // no answer: no candidates
  }
  if (target.path.length === 0) {
    const seen = new Set(names);
    for (const keyword of KEYWORDS) {
      if (keyword.startsWith(target.prefix) && !seen.has(keyword)) names.push(keyword);
    }
  }
  if (names.length > MAX_CANDIDATES) {
    names = names.slice(0, MAX_CANDIDATES);
    truncated = true;
  }
  return { from: target.from, to: target.to, candidates: names, truncated };
}
