import type { EngineInput, EngineOutput, EvalStats } from '../sandbox/engine-messages';
import { SessionEngine, type SessionEngineOptions } from '../sandbox/session-engine';
import type { UsageReport } from './protocol';

/**
 * Per-session accounting, kept where the session engine runs (an executor, or
 * the gateway in the in-process mode):
 *
 * - the session sees its own totals in every eval's `stats.session`
 *   (`{ evals, cpuMs, outputBytes, transactionAgeMs }`);
 * - the process aggregates them for `/metrics` (a {@link UsageLedger} report:
 *   deltas since the last report, per named user where a JWT named one).
 *
 * `cpuMs` is the time spent inside the session's timed entries (evals,
 * timers, database answers, library loads). `outputBytes` counts the
 * characters of the output the engine produced (console lines, results'
 * values and renderings, error texts): about the bytes sent, before framing.
 */

export interface SessionTotals {
  readonly evals: number;
  readonly cpuMs: number;
  readonly outputBytes: number;
  /** Age of the open transaction (0 when none). */
  readonly transactionAgeMs: number;
}

/** An eval's stats with the session's totals (the `stats.session` field of result and error frames). */
export type AccountedStats = EvalStats & { readonly session: SessionTotals };

export interface AccountedEngineOptions extends SessionEngineOptions {
  readonly user: string | null;
  readonly ledger: UsageLedger;
}

/** A SessionEngine whose output is counted on its way out. */
export class AccountedEngine {
  readonly user: string | null;
  readonly #engine: SessionEngine;
  readonly #ledger: UsageLedger;
  #evals = 0;
  #outputBytes = 0;
  // What the last ledger report already included.
  reportedCpuMs = 0;
  reportedEvals = 0;
  reportedOutputBytes = 0;

  constructor(options: AccountedEngineOptions) {
    const { user, ledger, emit, ...engineOptions } = options;
    this.user = user;
    this.#ledger = ledger;
    this.#engine = new SessionEngine({ ...engineOptions, user, emit: (message) => emit(this.#account(message)) });
    ledger.add(this);
  }

  send(input: EngineInput): void {
    this.#engine.send(input);
  }

  close(reason: string): Promise<void> {
    return this.#engine.close(reason);
  }

  pause(): void {
    this.#engine.pause();
  }

  resume(): void {
    this.#engine.resume();
  }

  get pending(): number {
    return this.#engine.pending;
  }

  get totals(): SessionTotals {
    const usage = this.#engine.usage;
    return {
      evals: this.#evals,
      cpuMs: Math.round(usage.cpuMs * 1000) / 1000,
      outputBytes: this.#outputBytes,
      transactionAgeMs: usage.transactionAgeMs,
    };
  }

  get cpuMs(): number {
    return this.#engine.usage.cpuMs;
  }

  get evals(): number {
    return this.#evals;
  }

  get outputBytes(): number {
    return this.#outputBytes;
  }

  get transactionAgeMs(): number {
    return this.#engine.usage.transactionAgeMs;
  }

  #account(message: EngineOutput): EngineOutput {
    switch (message.type) {
      case 'log':
        this.#outputBytes += message.text.length;
        return message;
      case 'result':
        this.#evals++;
        this.#outputBytes += message.value.length + message.text.length;
        return { ...message, stats: { ...message.stats, session: this.totals } as AccountedStats };
      case 'error':
        this.#outputBytes += message.error.message.length + (message.error.text?.length ?? 0);
        // Errors with stats end an eval; the others (LIMIT, BAD_REQUEST, ...) refused one.
        if (!message.stats) return message;
        this.#evals++;
        return { ...message, stats: { ...message.stats, session: this.totals } as AccountedStats };
      case 'closed':
        this.#ledger.remove(this);
        return message;
      default:
        return message;
    }
  }
}

/** The accounted sessions of one process, and what their reports have not yet said. */
export class UsageLedger {
  readonly #sessions = new Set<AccountedEngine>();
  // Deltas of sessions that closed since the last report.
  #cpuMs = 0;
  #evals = 0;
  #outputBytes = 0;
  readonly #users = new Map<string, [number, number, number]>();

  get size(): number {
    return this.#sessions.size;
  }

  add(engine: AccountedEngine): void {
    this.#sessions.add(engine);
  }

  remove(engine: AccountedEngine): void {
    if (!this.#sessions.delete(engine)) return;
    this.#take(engine);
  }

  /** Deltas since the previous call, and the transaction gauges now. */
  report(): UsageReport {
    let transactionsOpen = 0;
    let oldestTransactionMs = 0;
    for (const engine of this.#sessions) {
      this.#take(engine);
      const age = engine.transactionAgeMs;
      if (age > 0) {
        transactionsOpen++;
        if (age > oldestTransactionMs) oldestTransactionMs = age;
      }
    }
    const report: UsageReport = {
      cpuMs: this.#cpuMs,
      evals: this.#evals,
      outputBytes: this.#outputBytes,
      transactionsOpen,
      oldestTransactionMs,
      users: [...this.#users].map(([user, [cpuMs, evals, bytes]]) => [user, cpuMs, evals, bytes] as const),
    };
    this.#cpuMs = 0;
    this.#evals = 0;
    this.#outputBytes = 0;
    this.#users.clear();
    return report;
  }

  #take(engine: AccountedEngine): void {
    const cpuMs = engine.cpuMs - engine.reportedCpuMs;
    const evals = engine.evals - engine.reportedEvals;
    const bytes = engine.outputBytes - engine.reportedOutputBytes;
    if (cpuMs === 0 && evals === 0 && bytes === 0) return;
    engine.reportedCpuMs += cpuMs;
    engine.reportedEvals += evals;
    engine.reportedOutputBytes += bytes;
    this.#cpuMs += cpuMs;
    this.#evals += evals;
    this.#outputBytes += bytes;
    if (engine.user !== null) {
      const entry = this.#users.get(engine.user);
      if (entry) {
        entry[0] += cpuMs;
        entry[1] += evals;
        entry[2] += bytes;
      } else {
        this.#users.set(engine.user, [cpuMs, evals, bytes]);
      }
    }
  }
}
