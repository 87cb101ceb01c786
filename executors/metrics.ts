import { Counter, Gauge, type Registry } from 'prom-client';
import type { UsageReport } from './protocol';

/**
 * Metrics of session accounting (both modes) and of executors, registered on
 * the gateway's registry. Per-user series exist only for users a JWT named,
 * at most `maxUserSeries` of them; later users share `user="_other"`.
 */
export class EngineMetrics {
  readonly #maxUsers: number;
  readonly #users = new Set<string>();
  readonly cpu: Counter;
  readonly outputBytes: Counter;
  readonly transactionsOpen: Gauge;
  readonly oldestTransaction: Gauge;
  readonly userCpu: Counter;
  readonly userEvals: Counter;
  readonly userOutputBytes: Counter;
  readonly userSessions: Gauge;
  readonly executors: Gauge;
  readonly executorSessions: Gauge;
  readonly executorHeapUsed: Gauge;
  readonly executorHeapLimit: Gauge;
  readonly executorRss: Gauge;
  readonly executorArrayBuffers: Gauge;
  readonly executorHeartbeat: Gauge;
  readonly executorDbBound: Gauge;
  readonly executorRestarts: Counter;
  readonly sessionsLost: Counter;
  // Transaction gauges per source (executor index, or -1 in process), combined on refresh.
  readonly #transactions = new Map<number, { open: number; oldestMs: number }>();

  constructor(registry: Registry, maxUserSeries: number) {
    this.#maxUsers = maxUserSeries;
    const registers = [registry];
    this.cpu = new Counter({
      name: 'vmgate_session_cpu_seconds_total',
      help: 'Time spent running session code (inside timed entries), all sessions',
      registers,
    });
    this.outputBytes = new Counter({
      name: 'vmgate_session_output_bytes_total',
      help: 'Output produced by sessions (console lines, results, errors), in characters',
      registers,
    });
    this.transactionsOpen = new Gauge({
      name: 'vmgate_transactions_open',
      help: 'Sessions with an open database transaction',
      registers,
    });
    this.oldestTransaction = new Gauge({
      name: 'vmgate_transaction_oldest_age_seconds',
      help: 'Age of the oldest open database transaction',
      registers,
    });
    this.userCpu = new Counter({
      name: 'vmgate_user_cpu_seconds_total',
      help: 'Session CPU time by JWT user (capped number of users; the rest under _other)',
      labelNames: ['user'],
      registers,
    });
    this.userEvals = new Counter({
      name: 'vmgate_user_evals_total',
      help: 'Evaluations by JWT user',
      labelNames: ['user'],
      registers,
    });
    this.userOutputBytes = new Counter({
      name: 'vmgate_user_output_bytes_total',
      help: 'Session output by JWT user, in characters',
      labelNames: ['user'],
      registers,
    });
    this.userSessions = new Gauge({
      name: 'vmgate_user_sessions_open',
      help: 'Open sessions by JWT user',
      labelNames: ['user'],
      registers,
    });
    this.executors = new Gauge({
      name: 'vmgate_executors',
      help: 'Executor processes by state (0 of each: sessions run in the gateway process)',
      labelNames: ['state'],
      registers,
    });
    this.executorSessions = new Gauge({
      name: 'vmgate_executor_sessions',
      help: 'Sessions hosted by each executor',
      labelNames: ['executor'],
      registers,
    });
    this.executorHeapUsed = new Gauge({
      name: 'vmgate_executor_heap_used_bytes',
      help: 'V8 heap in use in each executor (last heartbeat)',
      labelNames: ['executor'],
      registers,
    });
    this.executorHeapLimit = new Gauge({
      name: 'vmgate_executor_heap_limit_bytes',
      help: 'V8 heap limit of each executor',
      labelNames: ['executor'],
      registers,
    });
    this.executorRss = new Gauge({
      name: 'vmgate_executor_resident_memory_bytes',
      help: 'Resident memory of each executor (last heartbeat)',
      labelNames: ['executor'],
      registers,
    });
    this.executorArrayBuffers = new Gauge({
      name: 'vmgate_executor_array_buffers_bytes',
      help: 'Memory held by ArrayBuffers in each executor (outside the V8 heap)',
      labelNames: ['executor'],
      registers,
    });
    this.executorHeartbeat = new Gauge({
      name: 'vmgate_executor_heartbeat_seconds',
      help: 'Round trip of the last heartbeat of each executor',
      labelNames: ['executor'],
      registers,
    });
    this.executorDbBound = new Gauge({
      name: 'vmgate_executor_db_connections_bound',
      help: 'Database connections bound to sessions in each executor',
      labelNames: ['executor'],
      registers,
    });
    this.executorRestarts = new Counter({
      name: 'vmgate_executor_restarts_total',
      help: 'Executors killed or crashed and replaced, by reason',
      labelNames: ['executor', 'reason'],
      registers,
    });
    this.sessionsLost = new Counter({
      name: 'vmgate_executor_sessions_lost_total',
      help: 'Sessions closed (1011) because their executor was restarted, by reason',
      labelNames: ['reason'],
      registers,
    });
  }

  /** The label for a user: their name while there is room, `_other` after; none without a name, or with per-user series off. */
  userLabel(user: string | null): string | undefined {
    if (this.#maxUsers === 0) return undefined;
    if (user === null) return undefined;
    if (this.#users.has(user)) return user;
    if (this.#users.size < this.#maxUsers) {
      this.#users.add(user);
      return user;
    }
    return '_other';
  }

  /** Applies one report (deltas) from a source: an executor index, or -1 for the gateway process. */
  applyUsage(source: number, report: UsageReport): void {
    if (report.cpuMs > 0) this.cpu.inc(report.cpuMs / 1000);
    if (report.outputBytes > 0) this.outputBytes.inc(report.outputBytes);
    for (const [user, cpuMs, evals, bytes] of report.users) {
      const label = this.userLabel(user);
      if (label === undefined) continue;
      if (cpuMs > 0) this.userCpu.inc({ user: label }, cpuMs / 1000);
      if (evals > 0) this.userEvals.inc({ user: label }, evals);
      if (bytes > 0) this.userOutputBytes.inc({ user: label }, bytes);
    }
    this.#transactions.set(source, { open: report.transactionsOpen, oldestMs: report.oldestTransactionMs });
    let open = 0;
    let oldestMs = 0;
    for (const t of this.#transactions.values()) {
      open += t.open;
      oldestMs = Math.max(oldestMs, t.oldestMs);
    }
    this.transactionsOpen.set(open);
    this.oldestTransaction.set(oldestMs / 1000);
  }

  /** A source is gone (an executor died): its transactions are gone with it. */
  forgetSource(source: number): void {
    this.#transactions.delete(source);
  }

  sessionOpened(user: string | null): void {
    const label = this.userLabel(user);
    if (label !== undefined) this.userSessions.inc({ user: label });
  }

  sessionClosed(user: string | null): void {
    const label = this.userLabel(user);
    if (label !== undefined) this.userSessions.dec({ user: label });
  }
}

/** Metric labels must stay few: the reasons an executor is restarted, mapped onto a fixed set. */
export function restartLabel(why: string): string {
  if (why === 'out of memory') return 'out_of_memory';
  if (why === 'unresponsive') return 'unresponsive';
  if (why === 'protocol error') return 'protocol_error';
  if (why.startsWith('failed to start')) return 'failed_to_start';
  return 'crashed';
}
