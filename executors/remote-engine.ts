import { errorBody } from '../protocol/error-codes';
import { COMPLETION_TIMEOUT_MS } from '../sandbox/completion-candidates';
import type { EngineHandle } from '../sandbox/engine-handle';
import type { EngineInput, EngineOutput } from '../sandbox/engine-messages';
import type { SessionLimits } from '../sandbox/session-limits';
import type { ToExecutor } from './protocol';

/**
 * A session engine that lives in an executor process, seen from the gateway:
 * the same message-shaped interface as the in-process SessionEngine
 * (docs/design.md §4). Each input becomes one IPC message, each output arrives as
 * one. It keeps what the gateway must know without asking the executor:
 * which requests are still unanswered (so none is left without a terminal
 * frame if the executor dies, and so the watchdog knows how long the
 * executor may legitimately stay busy), and whether the engine is paused.
 */

type State = 'open' | 'closing' | 'closed';

/** What a RemoteEngine needs of the executor hosting it (executors/executor.ts's ExecutorProcess). */
export interface EngineHost {
  send(message: ToExecutor): void;
  /** The time budget of the requests waiting on this executor grows by `ms` (shrinks when negative). */
  addInflightBudget(ms: number): void;
  /** The engine `sid` has closed: outputs for it are no longer routed. */
  release(sid: number): void;
}

const LOG_LEVELS: ReadonlySet<string> = new Set(['log', 'info', 'warn', 'error', 'debug']);
const TRANSACTION_ENDS: ReadonlySet<string> = new Set(['commit', 'rollback', 'implicit-commit']);

export class RemoteEngine<Host extends EngineHost = EngineHost> implements EngineHandle {
  readonly sid: number;
  readonly sessionId: string;
  readonly #executor: Host;
  readonly #emit: (message: EngineOutput) => void;
  readonly #onLost: (why: string) => void;
  readonly #limits: SessionLimits;
  /** Unanswered eval/commit/rollback/complete requests: ref → their time budget (0 for commit/rollback). */
  readonly #inflight = new Map<number, number>();
  /** Unanswered interrupts (answered with `ok`). */
  readonly #interrupts = new Set<number>();
  #paused = false;
  #state: State = 'open';
  #closed: Promise<void> | undefined;
  #resolveClosed: (() => void) | undefined;

  constructor(
    sid: number,
    sessionId: string,
    executor: Host,
    limits: SessionLimits,
    emit: (message: EngineOutput) => void,
    onLost: (why: string) => void,
  ) {
    this.sid = sid;
    this.sessionId = sessionId;
    this.#executor = executor;
    this.#limits = limits;
    this.#emit = emit;
    this.#onLost = onLost;
  }

  get executor(): Host {
    return this.#executor;
  }

  get pending(): number {
    return this.#inflight.size;
  }

  send(input: EngineInput): void {
    if (input.type === 'close') {
      void this.close(input.reason);
      return;
    }
    if (this.#state !== 'open') {
      this.#emit({ type: 'error', ref: input.ref, error: errorBody('INTERRUPTED', 'session is closing') });
      return;
    }
    switch (input.type) {
      case 'eval':
      case 'commit':
      case 'rollback':
      case 'complete': {
        // The executor's engine bounds its queue too, but messages it has not
        // read yet (it may be busy) would pile up here: bound them here.
        if (this.#inflight.size > this.#limits.maxQueuedEvals) {
          const what = input.type === 'eval' ? 'evals' : 'requests';
          this.#emit({
            type: 'error',
            ref: input.ref,
            error: errorBody('LIMIT', `too many queued ${what} (at most ${this.#limits.maxQueuedEvals} may wait)`),
          });
          return;
        }
        const budget =
          input.type === 'eval' ? this.#budget(input.timeoutMs) : input.type === 'complete' ? COMPLETION_TIMEOUT_MS : 0;
        this.#inflight.set(input.ref, budget);
        this.#executor.addInflightBudget(budget);
        break;
      }
      case 'interrupt':
        this.#interrupts.add(input.ref);
        break;
    }
    this.#executor.send(['in', this.sid, input]);
  }

  pause(): void {
    if (this.#paused || this.#state !== 'open') return;
    this.#paused = true;
    this.#executor.send(['pause', this.sid]);
  }

  resume(): void {
    if (!this.#paused || this.#state !== 'open') return;
    this.#paused = false;
    this.#executor.send(['resume', this.sid]);
  }

  /** Resolves once the executor's engine has answered everything and rolled back (or the executor died). */
  close(reason: string): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      if (this.#state === 'closed') {
        resolve();
        return;
      }
      this.#state = 'closing';
      this.#resolveClosed = resolve;
      this.#executor.send(['in', this.sid, { type: 'close', reason }]);
    });
    return this.#closed;
  }

  /**
   * An output from the executor. Returns false when it is malformed: the
   * executor is then treated as compromised (killed), never trusted to shape
   * what the gateway does.
   */
  deliver(raw: unknown): boolean {
    if (!isEngineOutput(raw)) return false;
    const message = raw;
    if (message.type === 'closed') {
      this.#finish();
      this.#emit(message);
      return true;
    }
    if (message.type !== 'log' && message.type !== 'transaction') {
      // A terminal message: the request it answers is no longer waiting.
      const budget = this.#inflight.get(message.ref);
      if (budget !== undefined) {
        this.#inflight.delete(message.ref);
        this.#executor.addInflightBudget(-budget);
      } else if (message.type === 'ok') {
        this.#interrupts.delete(message.ref);
      }
    }
    this.#emit(message);
    return true;
  }

  /**
   * The executor died: every request still waiting gets its terminal frame,
   * then the gateway is told (it closes the session with 1011). A session
   * already closing just finishes closing.
   */
  lost(why: string): void {
    if (this.#state === 'closed') return;
    const wasOpen = this.#state === 'open';
    const message = `session closed: executor restarted: ${why}`;
    for (const ref of this.#inflight.keys()) {
      this.#emit({ type: 'error', ref, error: errorBody('INTERRUPTED', message) });
    }
    for (const ref of this.#interrupts) this.#emit({ type: 'ok', ref });
    this.#interrupts.clear();
    this.#finish();
    this.#emit({ type: 'closed', reason: `executor restarted: ${why}` });
    if (wasOpen) this.#onLost(why);
  }

  #finish(): void {
    this.#state = 'closed';
    for (const budget of this.#inflight.values()) this.#executor.addInflightBudget(-budget);
    this.#inflight.clear();
    this.#executor.release(this.sid);
    this.#resolveClosed?.();
    this.#resolveClosed = undefined;
  }

  #budget(requested: number | undefined): number {
    const { defaultTimeoutMs, maxTimeoutMs } = this.#limits;
    if (requested === undefined) return defaultTimeoutMs;
    return Number.isFinite(requested) && requested > 0 ? Math.min(requested, maxTimeoutMs) : 0;
  }
}

/** Shape check of an output from an executor (every field the gateway reads). */
function isEngineOutput(value: unknown): value is EngineOutput {
  if (value === null || typeof value !== 'object') return false;
  const m = value as Record<string, unknown>;
  const ref = m.ref;
  const isRef = typeof ref === 'number' && Number.isSafeInteger(ref);
  switch (m.type) {
    case 'log':
      return (
        (isRef || ref === null) && typeof m.level === 'string' && LOG_LEVELS.has(m.level) && typeof m.text === 'string'
      );
    case 'result':
      return isRef && typeof m.value === 'string' && typeof m.text === 'string' && isStats(m.stats);
    case 'error': {
      if (!isRef || m.error === null || typeof m.error !== 'object') return false;
      const error = m.error as Record<string, unknown>;
      if (typeof error.code !== 'string' || typeof error.message !== 'string') return false;
      for (const field of Object.values(error)) {
        if (
          field !== undefined &&
          typeof field !== 'string' &&
          typeof field !== 'number' &&
          typeof field !== 'boolean'
        ) {
          return false;
        }
      }
      return m.stats === undefined || isStats(m.stats);
    }
    case 'transaction':
      return (isRef || ref === null) && TRANSACTION_ENDS.has(m.end as string) && typeof m.statement === 'string';
    case 'ok':
      return isRef;
    case 'completions':
      return (
        isRef &&
        Number.isSafeInteger(m.from) &&
        Number.isSafeInteger(m.to) &&
        Array.isArray(m.candidates) &&
        m.candidates.every((c) => typeof c === 'string') &&
        typeof m.truncated === 'boolean'
      );
    case 'closed':
      return typeof m.reason === 'string';
    default:
      return false;
  }
}

function isStats(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  const s = value as Record<string, unknown>;
  return (
    typeof s.ms === 'number' &&
    typeof s.cpuMs === 'number' &&
    typeof s.dbMs === 'number' &&
    typeof s.queries === 'number'
  );
}
