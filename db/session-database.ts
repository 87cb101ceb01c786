import { performance } from 'node:perf_hooks';
import type { PoolConnection } from 'mysql2/promise';
import { DatabaseError, isConnectionLost, toDatabaseError } from './database-error';
import type { DatabasePool } from './pool';

/**
 * A session's database session: its connection (bound lazily, on the first
 * statement) and its transaction. It owns the connection and has one close
 * path, which rolls back an open transaction before the connection goes
 * back to the pool — or destroys the connection when the rollback fails, so a
 * connection with an open transaction never returns to the pool.
 *
 * Connections run with autocommit=0 (see pool.ts): the first statement opens
 * a transaction, commit/rollback end it, the next statement opens another.
 */

export interface StatementResult {
  readonly rows: unknown[];
  readonly affectedRows?: number;
  readonly changedRows?: number;
  readonly insertId?: number | bigint;
  /** Set on the first statement after the connection (and its transaction) was lost. */
  readonly warning?: string;
}

export type Notice = (level: 'warn' | 'info', text: string) => void;

type State = 'idle' | 'open' | 'closed';

/** Statements after which MySQL/MariaDB have committed implicitly. */
const IMPLICIT_COMMIT = /^\s*(?:CREATE|ALTER|DROP|RENAME|TRUNCATE|LOCK\s+TABLES|UNLOCK\s+TABLES|GRANT|REVOKE)\b/i;
const ENDS_TRANSACTION = /^\s*(?:COMMIT|ROLLBACK)(?!\s+TO\b)/i;

export class SessionDatabase {
  readonly #pool: DatabasePool;
  readonly #notice: Notice;
  #connection: PoolConnection | undefined;
  #binding: Promise<PoolConnection> | undefined;
  /** A transaction is open: statements ran since the last commit or rollback. */
  #state: State = 'idle';
  #transactionStarted = 0;
  #lastActivity = 0;
  #running = 0;
  #lostTransaction = false;
  #idleWarned = false;
  #idleTimer: NodeJS.Timeout | undefined;
  #closing: Promise<void> | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  // Per-eval accounting, read and reset by the engine.
  dbMs = 0;
  queries = 0;

  constructor(pool: DatabasePool, notice: Notice) {
    this.#pool = pool;
    this.#notice = notice;
  }

  get inTransaction(): boolean {
    return this.#state === 'open';
  }

  /** Milliseconds since the open transaction's first statement (0 when none). */
  get transactionAge(): number {
    return this.#state === 'open' ? Date.now() - this.#transactionStarted : 0;
  }

  get bound(): boolean {
    return this.#connection !== undefined;
  }

  /** Runs one statement on the session's connection; statements of a session run in order. */
  query(sql: string, params: readonly unknown[]): Promise<StatementResult> {
    return this.#serial(() => this.#query(sql, params));
  }

  commit(): Promise<void> {
    return this.#serial(() => this.#end('COMMIT'));
  }

  rollback(): Promise<void> {
    return this.#serial(() => this.#end('ROLLBACK'));
  }

  /** Stops the running statement (KILL QUERY from the control connection). */
  async interrupt(): Promise<void> {
    const connection = this.#connection;
    if (connection && this.#running > 0) await this.#pool.killQuery(connection.threadId);
  }

  /**
   * Ends the database session: a running statement is killed, an open
   * transaction rolled back, the connection released. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearTimeout(this.#idleTimer);
      await this.interrupt();
      // Wait for whatever was queued to settle (it fails fast once killed).
      await this.#queue.catch(() => {});
      const connection = this.#connection ?? (await this.#binding?.catch(() => undefined));
      this.#state = 'closed';
      if (!connection) return;
      this.#connection = undefined;
      let healthy = true;
      try {
        await withTimeout(connection.query('ROLLBACK'), 5_000);
      } catch {
        healthy = false;
      }
      this.#pool.release(connection, healthy);
    })();
    return this.#closing;
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#closing) return Promise.reject(new DatabaseError('DB_UNAVAILABLE', 'the session is closing'));
    const next = this.#queue.then(fn, fn);
    this.#queue = next.catch(() => {});
    return next;
  }

  async #bind(): Promise<PoolConnection> {
    if (this.#connection) return this.#connection;
    this.#binding = this.#pool.acquire();
    try {
      this.#connection = await this.#binding;
    } finally {
      this.#binding = undefined;
    }
    return this.#connection;
  }

  async #query(sql: string, params: readonly unknown[]): Promise<StatementResult> {
    if (this.#closing) throw new DatabaseError('DB_UNAVAILABLE', 'the session is closing');
    const connection = await this.#bind();
    let warning: string | undefined;
    if (this.#lostTransaction) {
      this.#lostTransaction = false;
      warning =
        'the database connection was lost: the open transaction was rolled back; this statement runs in a new one';
    }
    const wasOpen = this.#state === 'open';
    if (!wasOpen) this.#transactionStarted = Date.now();
    this.#state = 'open';
    const started = performance.now();
    this.#running++;
    try {
      const [result] = await connection.query({ sql, values: params as unknown[] });
      if (IMPLICIT_COMMIT.test(sql)) {
        if (wasOpen) {
          this.#notice(
            'warn',
            'this statement committed the open transaction implicitly (MySQL/MariaDB commit before and after DDL)',
          );
        }
        this.#afterEnd();
      } else if (ENDS_TRANSACTION.test(sql)) {
        this.#afterEnd();
      } else {
        this.#touch();
      }
      return shapeResult(result, warning);
    } catch (error) {
      if (isConnectionLost(error)) this.#drop(connection);
      else this.#touch();
      throw toDatabaseError(error);
    } finally {
      this.#running--;
      this.dbMs += performance.now() - started;
      this.queries++;
    }
  }

  async #end(statement: 'COMMIT' | 'ROLLBACK'): Promise<void> {
    if (this.#closing) throw new DatabaseError('DB_UNAVAILABLE', 'the session is closing');
    const connection = this.#connection;
    if (!connection || this.#state !== 'open') {
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
      if (isConnectionLost(error)) this.#drop(connection);
      throw toDatabaseError(error);
    } finally {
      this.dbMs += performance.now() - started;
      this.queries++;
    }
  }

  /** The transaction ended: in transaction pool mode the connection goes back to the pool. */
  #afterEnd(): void {
    this.#state = 'idle';
    this.#idleWarned = false;
    clearTimeout(this.#idleTimer);
    if (this.#pool.options.poolMode === 'transaction' && this.#connection && this.#running <= 1) {
      const connection = this.#connection;
      this.#connection = undefined;
      this.#pool.release(connection, true);
    }
  }

  /** The connection broke: the server rolled the transaction back; tell the session on its next statement. */
  #drop(connection: PoolConnection): void {
    if (this.#connection !== connection) return;
    this.#connection = undefined;
    if (this.#state === 'open') this.#lostTransaction = true;
    this.#state = 'idle';
    clearTimeout(this.#idleTimer);
    this.#pool.release(connection, false);
  }

  /** Idle in transaction: a warning at 90% of the limit, a rollback at 100%. */
  #touch(): void {
    this.#lastActivity = Date.now();
    this.#idleWarned = false;
    const limit = this.#pool.options.idleTransactionMs;
    if (limit <= 0 || this.#state !== 'open') return;
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => this.#idleCheck(), Math.ceil(limit * 0.9));
    this.#idleTimer.unref();
  }

  #idleCheck(): void {
    const limit = this.#pool.options.idleTransactionMs;
    if (this.#state !== 'open' || this.#closing) return;
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

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out')), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}
