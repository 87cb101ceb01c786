import { performance } from 'node:perf_hooks';
import type { PoolConnection } from 'mysql2/promise';
import { cancelled, DatabaseError, isConnectionLost, toDatabaseError } from './database-error';
import type { DatabasePool } from './pool';
import { ER_UNSUPPORTED_PS, toServerParams } from './server-params';
import { SERVER_STATUS_AUTOCOMMIT, SERVER_STATUS_IN_TRANS, serverStatus } from './server-status';
import { classifyStatement, type StatementKind } from './statement-kind';

/**
 * A session's database session: its connection (bound lazily, on the first
 * statement) and its transaction. It owns the connection and has one close
 * path; the pool resets a connection on the server before anyone else gets
 * it (pool.ts), or destroys it.
 *
 * Connections run with autocommit=0 (see pool.ts): the first statement opens
 * a transaction, commit/rollback end it, the next statement opens another.
 * Whether a transaction is open is the server's word (the status flags of
 * each reply, server-status.ts), not a guess from the SQL text; statements
 * that would break that contract are handled before they are sent
 * (statement-kind.ts).
 */

export interface StatementResult {
  readonly rows: unknown[];
  readonly affectedRows?: number;
  readonly changedRows?: number;
  readonly insertId?: number | bigint;
  /** Set on the first statement after the connection (and its transaction) was lost. */
  readonly warning?: string;
}

/** A transaction the database ended on its own or through `sql`, not through a commit/rollback request. */
export type TransactionEnd = 'commit' | 'rollback' | 'implicit-commit';

/** A line for the session; `ended` when the statement ended the transaction (the audit log records it). */
export type Notice = (
  level: 'warn' | 'info',
  text: string,
  ended?: { readonly end: TransactionEnd; readonly statement: string },
) => void;

export interface StatementOptions {
  /** performance.now() by which the eval that sent the statement must be done: bounds the wait for a connection. */
  readonly deadline?: number;
}

/** Server errors after which the server has rolled the whole transaction back. */
const ER_LOCK_DEADLOCK = 1213;

/** Time kept back from an eval's budget so DB_BUSY reaches the eval before its TIMEOUT. */
function busyMargin(remainingMs: number): number {
  return Math.min(500, Math.max(20, remainingMs * 0.1));
}

/** Settings a statement may not leave changed (session tracking reports them); see statement-kind.ts. */
const TRACKED_SETTINGS = new Set([
  'time_zone',
  'character_set_client',
  'character_set_connection',
  'character_set_results',
]);

export class SessionDatabase {
  readonly #pool: DatabasePool;
  readonly #notice: Notice;
  #connection: PoolConnection | undefined;
  #binding: Promise<PoolConnection> | undefined;
  /** The server says a transaction is open (or, after an error, it may be). */
  #open = false;
  /** The open transaction did more than read: it is kept across evals and warned about. */
  #writes = false;
  /** The open transaction was begun with START TRANSACTION / BEGIN. */
  #explicit = false;
  #transactionStarted = 0;
  #lastActivity = 0;
  #running = 0;
  #lostTransaction = false;
  #idleWarned = false;
  #idleTimer: NodeJS.Timeout | undefined;
  #closing: Promise<void> | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  /** Bumped by cancel(): statements queued under an older epoch never reach the server. */
  #epoch = 0;
  /** Aborts the connection wait of the statement in progress. */
  #acquireAbort: AbortController | undefined;
  /** A KILL QUERY in flight: nothing else is sent until it has landed. */
  #killing: Promise<void> = Promise.resolve();
  #closed = false;
  // Per-eval accounting, read and reset by the engine.
  dbMs = 0;
  queries = 0;

  constructor(pool: DatabasePool, notice: Notice) {
    this.#pool = pool;
    this.#notice = notice;
  }

  get inTransaction(): boolean {
    return this.#open;
  }

  /** The open transaction changed something (or may have): `.commit` / `.rollback` decide its fate. */
  get hasWrites(): boolean {
    return this.#open && this.#writes;
  }

  /** Milliseconds since the open transaction's first statement (0 when none). */
  get transactionAge(): number {
    return this.#open ? Math.round((performance.now() - this.#transactionStarted) * 1000) / 1000 : 0;
  }

  get bound(): boolean {
    return this.#connection !== undefined;
  }

  /** Runs one statement on the session's connection; statements of a session run in order. */
  query(sql: string, params: readonly unknown[], options: StatementOptions = {}): Promise<StatementResult> {
    return this.#serial((epoch) => this.#statement(sql, params, options, epoch));
  }

  commit(): Promise<void> {
    return this.#serial(() => this.#end('COMMIT'));
  }

  rollback(): Promise<void> {
    return this.#serial(() => this.#end('ROLLBACK'));
  }

  /**
   * An eval ended. A transaction that only read (and was not begun
   * explicitly) ends with it, so its snapshot and metadata locks do not
   * block other sessions' DDL until the idle limit (docs/protocol.md). In
   * transaction pool mode a connection with no transaction open goes back to
   * the pool here: within an eval it stays, so `SET @x …; SELECT @x` works.
   */
  endOfEval(): Promise<void> {
    if (!this.#readOnlyOpen() && !this.#idleBound()) return Promise.resolve();
    return this.#serial(async () => {
      if (this.#readOnlyOpen()) await this.#end('ROLLBACK');
      else if (this.#idleBound()) this.#afterEnd();
    }).catch(() => {});
  }

  #readOnlyOpen(): boolean {
    return this.#open && !this.#writes && !this.#explicit;
  }

  #idleBound(): boolean {
    return !this.#open && this.#connection !== undefined && this.#pool.options.poolMode === 'transaction';
  }

  /**
   * Ends everything the current eval started: statements waiting in the
   * queue are rejected without reaching the server, a wait for a connection
   * is abandoned, and the running statement is killed. Statements sent
   * afterwards run normally.
   */
  cancel(): Promise<void> {
    this.#epoch++;
    this.#acquireAbort?.abort();
    const connection = this.#connection;
    if (!connection || this.#running === 0) return this.#killing;
    const killing = this.#killing.then(() => this.#pool.killQuery(connection.threadId));
    this.#killing = killing;
    return killing;
  }

  /**
   * Ends the database session: a running statement is killed, queued ones
   * cancelled, the connection handed back (the pool resets it, which rolls an
   * open transaction back, or destroys it). Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearTimeout(this.#idleTimer);
      await this.cancel();
      // Wait for whatever was queued to settle (it fails fast once cancelled).
      await this.#queue.catch(() => {});
      const connection = this.#connection ?? (await this.#binding?.catch(() => undefined));
      this.#closed = true;
      this.#open = false;
      if (!connection) return;
      this.#connection = undefined;
      await this.#pool.release(connection, true);
    })();
    return this.#closing;
  }

  #serial<T>(fn: (epoch: number) => Promise<T>): Promise<T> {
    if (this.#closing) return Promise.reject(new DatabaseError('DB_UNAVAILABLE', 'the session is closing'));
    const epoch = this.#epoch;
    const run = async () => {
      await this.#killing;
      if (epoch !== this.#epoch) throw cancelled();
      return fn(epoch);
    };
    const next = this.#queue.then(run, run);
    this.#queue = next.catch(() => {});
    return next;
  }

  async #bind(options: StatementOptions): Promise<PoolConnection> {
    if (this.#connection) return this.#connection;
    let timeoutMs = this.#pool.options.acquireTimeoutMs;
    let why = '';
    if (options.deadline !== undefined) {
      const remaining = options.deadline - performance.now();
      const bounded = remaining - busyMargin(remaining);
      if (bounded < timeoutMs) {
        timeoutMs = Math.max(0, bounded);
        why = " (the eval's remaining time budget)";
      }
    }
    const abort = new AbortController();
    this.#acquireAbort = abort;
    this.#binding = this.#pool.acquire(timeoutMs, abort.signal, why);
    try {
      this.#connection = await this.#binding;
    } finally {
      this.#binding = undefined;
      if (this.#acquireAbort === abort) this.#acquireAbort = undefined;
    }
    if (this.#closing) {
      // Closed while waiting: hand it straight back.
      const connection = this.#connection;
      this.#connection = undefined;
      await this.#pool.release(connection, true);
      throw new DatabaseError('DB_UNAVAILABLE', 'the session is closing');
    }
    return this.#connection;
  }

  async #statement(
    sql: string,
    params: readonly unknown[],
    options: StatementOptions,
    epoch: number,
  ): Promise<StatementResult> {
    if (this.#closing) throw new DatabaseError('DB_UNAVAILABLE', 'the session is closing');
    const kind = classifyStatement(sql);
    switch (kind.kind) {
      case 'refused':
        throw new DatabaseError('DB_REFUSED', kind.reason, { statement: kind.name });
      case 'commit':
      case 'rollback': {
        const had = this.#open;
        await this.#end(kind.kind === 'commit' ? 'COMMIT' : 'ROLLBACK');
        if (had) {
          this.#notice(
            'info',
            `${kind.name} ended the session's transaction: it was ${kind.kind === 'commit' ? 'committed' : 'rolled back'}`,
            { end: kind.kind, statement: kind.name },
          );
        } else {
          this.#notice('info', `${kind.name}: no transaction was open`);
        }
        return { rows: [] };
      }
      case 'begin':
        if (this.#open && this.#writes) {
          throw new DatabaseError(
            'DB_REFUSED',
            `${kind.name} would commit the open transaction implicitly: commit or roll it back first`,
            { statement: kind.name },
          );
        }
        break;
      default:
        break;
    }
    const connection = await this.#bind(options);
    if (epoch !== this.#epoch) throw cancelled();
    let warning: string | undefined;
    if (this.#lostTransaction) {
      this.#lostTransaction = false;
      warning =
        'the database connection was lost: the open transaction was rolled back; this statement runs in a new one';
    }
    const wasOpen = this.#open;
    const hadWrites = this.#writes;
    const started = performance.now();
    this.#running++;
    try {
      const [result] = await run(connection, sql, params);
      await this.#afterStatement(connection, kind, result, wasOpen && hadWrites);
      return shapeResult(result, warning);
    } catch (error) {
      if (isConnectionLost(error)) {
        this.#drop(connection);
      } else if ((error as { errno?: unknown }).errno === ER_LOCK_DEADLOCK) {
        // The server rolled the whole transaction back (the error says so).
        this.#afterEnd(false);
      } else {
        // The reply carries no status: assume the statement may have opened a transaction.
        this.#opened(kind);
      }
      throw toDatabaseError(error);
    } finally {
      this.#running--;
      this.dbMs += performance.now() - started;
      this.queries++;
    }
  }

  /** Reads the reply's server status: implicit commits, autocommit, settings, the schema. */
  async #afterStatement(
    connection: PoolConnection,
    kind: StatementKind,
    result: unknown,
    hadWork: boolean,
  ): Promise<void> {
    const flags = serverStatus(connection.connection).flags;
    // The OK packet's header (the last result of a CALL); never a row, whose columns a user names.
    const last: unknown = Array.isArray(result) ? result.at(-1) : result;
    const ok =
      (last as { constructor?: { name?: string } } | null)?.constructor?.name === 'ResultSetHeader'
        ? (last as { stateChanges?: { systemVariables?: Record<string, string>; schema?: string | null } })
        : undefined;
    const changes = ok?.stateChanges;
    if (changes?.schema) this.#pool.noteSchemaChange(connection);
    const changed = Object.keys(changes?.systemVariables ?? {}).filter(
      (name) => TRACKED_SETTINGS.has(name) && !expectedSetting(name, changes?.systemVariables?.[name]),
    );
    if (flags !== undefined && flags & SERVER_STATUS_AUTOCOMMIT) {
      // Only a statement the text check could not see (a procedure, ...) gets here.
      await connection.query('SET SESSION autocommit = 0');
      this.#notice(
        'warn',
        `${kind.name} turned autocommit on, so it and the transaction open before it were committed; autocommit is off again`,
        { end: 'implicit-commit', statement: kind.name },
      );
    }
    if (changed.length > 0) {
      await connection.query(this.#pool.sessionSetup(connection.connection as { _isMariaDB?: boolean }));
      if (changed.some((name) => name !== 'time_zone')) await connection.query('SET NAMES utf8mb4');
      this.#notice('warn', `${kind.name} changed ${changed.join(', ')}, which the gateway relies on: restored`);
    }
    const open = flags === undefined || (flags & SERVER_STATUS_IN_TRANS) !== 0;
    if (open) {
      this.#opened(kind);
      if (kind.kind === 'begin') this.#explicit = true;
      return;
    }
    if (hadWork) {
      this.#notice(
        'warn',
        `${kind.name} committed the open transaction implicitly (MySQL/MariaDB commit before and after DDL and some other statements)`,
        { end: 'implicit-commit', statement: kind.name },
      );
    }
    this.#afterEnd(false);
  }

  /** A statement ran in the (now) open transaction. */
  #opened(kind: StatementKind): void {
    if (!this.#open) {
      this.#open = true;
      this.#writes = false;
      this.#explicit = false;
      this.#transactionStarted = performance.now();
    }
    if (kind.kind !== 'read' && kind.kind !== 'set' && kind.kind !== 'begin') this.#writes = true;
    this.#touch();
  }

  async #end(statement: 'COMMIT' | 'ROLLBACK'): Promise<void> {
    if (this.#closing) throw new DatabaseError('DB_UNAVAILABLE', 'the session is closing');
    const connection = this.#connection;
    if (!connection || !this.#open) {
      // Nothing to end on the server; in transaction pool mode the connection still goes back.
      if (connection) this.#afterEnd();
      if (this.#lostTransaction) {
        this.#lostTransaction = false;
        throw new DatabaseError(
          'DB_UNAVAILABLE',
          'the database connection was lost: the open transaction was rolled back by the server',
        );
      }
      return;
    }
    const started = performance.now();
    try {
      await connection.query(statement);
      this.#afterEnd();
    } catch (error) {
      if (isConnectionLost(error)) {
        if (statement === 'COMMIT') {
          // The COMMIT may have reached the server and been applied: nobody can say.
          this.#drop(connection, false);
          throw new DatabaseError(
            'DB_OUTCOME_UNKNOWN',
            'the connection broke before the reply to COMMIT arrived: the transaction may or may not have been committed',
          );
        }
        this.#drop(connection);
      }
      throw toDatabaseError(error);
    } finally {
      this.dbMs += performance.now() - started;
      this.queries++;
    }
  }

  /**
   * The transaction ended. In transaction pool mode the connection goes back
   * to the pool when `release` (a commit or rollback, the end of an eval).
   */
  #afterEnd(release = true): void {
    this.#open = false;
    this.#writes = false;
    this.#explicit = false;
    this.#idleWarned = false;
    clearTimeout(this.#idleTimer);
    if (release && this.#pool.options.poolMode === 'transaction' && this.#connection && !this.#closed) {
      const connection = this.#connection;
      this.#connection = undefined;
      void this.#pool.release(connection, true);
    }
  }

  /** The connection broke: the server rolls its transaction back; say so on the next statement when `tell`. */
  #drop(connection: PoolConnection, tell = true): void {
    if (this.#connection !== connection) return;
    this.#connection = undefined;
    if (this.#open && tell) this.#lostTransaction = true;
    this.#open = false;
    this.#writes = false;
    this.#explicit = false;
    clearTimeout(this.#idleTimer);
    void this.#pool.release(connection, false);
  }

  /** Idle in transaction: a warning at 90% of the limit, a rollback at 100%. */
  #touch(): void {
    this.#lastActivity = Date.now();
    this.#idleWarned = false;
    const limit = this.#pool.options.idleTransactionMs;
    if (limit <= 0 || !this.#open) return;
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => this.#idleCheck(), Math.ceil(limit * 0.9));
    this.#idleTimer.unref();
  }

  #idleCheck(): void {
    const limit = this.#pool.options.idleTransactionMs;
    if (!this.#open || this.#closing) return;
    const idle = Date.now() - this.#lastActivity;
    if (!this.#idleWarned) {
      this.#idleWarned = true;
      this.#notice(
        'warn',
        `this session's transaction has been idle for ${Math.round(idle / 1000)} s; it will be rolled back at ${Math.round(limit / 1000)} s unless you commit or use it`,
      );
      this.#idleTimer = setTimeout(() => this.#idleCheck(), Math.max(1, limit - idle));
      this.#idleTimer.unref();
      return;
    }
    void this.rollback().then(
      () =>
        this.#notice(
          'warn',
          `the open transaction was idle for ${Math.round(limit / 1000)} s and has been rolled back`,
        ),
      () => {},
    );
  }
}

/**
 * A statement with parameters runs as a server-side prepared statement (the
 * values never appear in the SQL text or the process list); one the server
 * cannot prepare, and one without parameters, as text.
 */
async function run(connection: PoolConnection, sql: string, params: readonly unknown[]): Promise<[unknown, unknown]> {
  if (params.length === 0) return connection.query({ sql, values: [] });
  try {
    return await connection.execute({ sql, values: toServerParams(params) as never });
  } catch (error) {
    if ((error as { errno?: unknown }).errno !== ER_UNSUPPORTED_PS) throw error;
    return connection.query({ sql, values: params as unknown[] });
  }
}

function expectedSetting(name: string, value: string | undefined): boolean {
  if (value === undefined) return true;
  if (name === 'time_zone') return value === '+00:00';
  return /^utf8mb4/i.test(value);
}

function shapeResult(result: unknown, warning: string | undefined): StatementResult {
  const extra = warning ? { warning } : {};
  if (Array.isArray(result)) {
    // A multi-statement result is an array of arrays; keep only row sets.
    return { rows: result as unknown[], ...extra };
  }
  const ok = result as { affectedRows?: number; changedRows?: number; insertId?: number | bigint };
  return {
    rows: [],
    ...(ok.affectedRows !== undefined ? { affectedRows: ok.affectedRows } : {}),
    ...(ok.changedRows !== undefined ? { changedRows: ok.changedRows } : {}),
    ...(ok.insertId !== undefined ? { insertId: ok.insertId } : {}),
    ...extra,
  };
}
