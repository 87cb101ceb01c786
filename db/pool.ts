import { performance } from 'node:perf_hooks';
import mysql, { type Pool, type PoolConnection } from 'mysql2/promise';
import type { AccountMap, DatabaseAccount } from './accounts';
import { cancelled, DatabaseError, toDatabaseError } from './database-error';
import { type ConnectionTarget, parseDatabaseUrl } from './database-url';
import { trackServerStatus } from './server-status';

/**
 * The host's mysql2 pool, shared by every session of a process, plus one
 * control connection for `KILL QUERY`. Every pooled connection runs with
 * `autocommit=0`: a statement always belongs to a transaction, so nothing a
 * user does (not even a raw `COMMIT` followed by more statements) ever
 * autocommits behind the session's back.
 *
 * A connection that served a session is reset on the server
 * (COM_RESET_CONNECTION: transaction, variables, temporary tables, locks,
 * prepared statements, settings) and set up again before the pool hands it
 * to anyone else; one that cannot be reset is destroyed.
 */

export type PoolMode = 'session' | 'transaction';

export interface DatabaseOptions {
  readonly url: string;
  /** Connections in the pool. */
  readonly poolSize: number;
  /** How long a session waits for a connection before DB_BUSY. */
  readonly acquireTimeoutMs: number;
  /** Server-side statement timeout (0 = none). */
  readonly statementTimeoutMs: number;
  /** `session`: a connection stays bound until the session ends; `transaction`: returned after each commit/rollback. */
  readonly poolMode: PoolMode;
  /** An open transaction idle this long is rolled back (a warning comes first). 0 = never. */
  readonly idleTransactionMs: number;
  /** Authenticated user → database account (db/accounts.ts); absent: every session uses the URL's account. */
  readonly accounts?: AccountMap;
  /** Connections per mapped account (each account has its own pool). */
  readonly accountPoolSize?: number;
}

export const DEFAULT_DATABASE_OPTIONS: Omit<DatabaseOptions, 'url'> = Object.freeze({
  poolSize: 50,
  acquireTimeoutMs: 10_000,
  statementTimeoutMs: 60_000,
  poolMode: 'session',
  idleTransactionMs: 10 * 60_000,
  accountPoolSize: 5,
});

export type ServerFlavor = 'mariadb' | 'mysql';

export class DatabasePool {
  readonly options: DatabaseOptions;
  readonly target: ConnectionTarget;
  readonly #pool: Pool;
  #flavor: ServerFlavor | undefined;
  #control: Promise<mysql.Connection> | undefined;
  #bound = 0;
  #closed = false;
  /** Connections whose default schema a session changed (USE): restored after the reset. */
  readonly #schemaChanged = new WeakSet<PoolConnection>();
  /** Hand-overs so far and the time their resets took (docs/benchmarks-db.md). */
  readonly resets = { count: 0, failed: 0, ms: 0 };

  /** Pools of the mapped accounts, opened on first use. */
  readonly #accountPools = new Map<string, DatabasePool>();

  /** `account`: this pool connects as that account instead of the URL's (one pool per mapped account). */
  constructor(options: DatabaseOptions, account?: DatabaseAccount) {
    this.options = options;
    const target = parseDatabaseUrl(options.url);
    this.target = account
      ? {
          ...target,
          user: account.user,
          ...(account.password !== undefined ? { password: account.password } : { password: undefined }),
        }
      : target;
    this.#pool = mysql.createPool({
      ...connectionOptions(this.target),
      connectionLimit: options.poolSize,
      maxIdle: options.poolSize,
      idleTimeout: 60_000,
      queueLimit: 0,
      waitForConnections: true,
      enableKeepAlive: true,
    });
    // Runs before any other statement on each new connection (mysql2 queues commands in order).
    this.#pool.pool.on('connection', (connection) => {
      trackServerStatus(connection);
      handshakeCharset.set(connection, (connection as unknown as CoreConnection).config.charsetNumber);
      // A callback, so a failure here is an error of the next statement, not an unhandled 'error' event.
      connection.query(this.sessionSetup(connection as unknown as { _isMariaDB?: boolean }), () => {});
    });
  }

  /** Checks the server is reachable; learns whether it is MariaDB or MySQL. */
  async ping(timeoutMs = 2_000): Promise<void> {
    const connection = await this.acquire(timeoutMs);
    let healthy = false;
    try {
      const [rows] = await connection.query('SELECT VERSION() AS v');
      this.#flavor = /mariadb/i.test(String((rows as Array<{ v: string }>)[0]?.v)) ? 'mariadb' : 'mysql';
      healthy = true;
    } finally {
      // Nothing of a session's ran on it: it goes back as it came.
      this.#bound--;
      if (healthy) connection.release();
      else connection.destroy();
    }
  }

  get flavor(): ServerFlavor | undefined {
    return this.#flavor;
  }

  /** Connections currently bound to sessions (the mapped accounts' pools included). */
  get bound(): number {
    let bound = this.#bound;
    for (const pool of this.#accountPools.values()) bound += pool.bound;
    return bound;
  }

  /**
   * The pool a session of `user` runs on: this one, or with `--db-accounts`
   * the pool of the account mapped to `user` (DB_UNAVAILABLE when none is).
   */
  forUser(user: string | null): DatabasePool {
    const accounts = this.options.accounts;
    if (!accounts) return this;
    const account = user !== null && Object.hasOwn(accounts, user) ? accounts[user] : undefined;
    if (!account) {
      throw new DatabaseError(
        'DB_UNAVAILABLE',
        user === null
          ? 'no database account for this session: the gateway maps database accounts to authenticated users (a JWT subject), and this session has none'
          : `no database account is mapped to user ${JSON.stringify(user)}`,
      );
    }
    if (this.#closed) throw new DatabaseError('DB_UNAVAILABLE', 'the database pool is closed');
    let pool = this.#accountPools.get(account.user);
    if (!pool) {
      const size = this.options.accountPoolSize ?? DEFAULT_DATABASE_OPTIONS.accountPoolSize ?? 5;
      const { accounts: _all, ...options } = this.options;
      pool = new DatabasePool({ ...options, poolSize: size }, account);
      pool.#flavor = this.#flavor;
      this.#accountPools.set(account.user, pool);
    }
    return pool;
  }

  /**
   * A connection, or DB_BUSY after `timeoutMs`, or INTERRUPTED when `signal`
   * aborts first. A connection that arrives after the caller gave up goes
   * straight back to the pool (unused, so it needs no reset).
   */
  acquire(timeoutMs = this.options.acquireTimeoutMs, signal?: AbortSignal, why = ''): Promise<PoolConnection> {
    if (this.#closed) return Promise.reject(new DatabaseError('DB_UNAVAILABLE', 'the database pool is closed'));
    if (signal?.aborted) return Promise.reject(cancelled());
    return new Promise((resolve, reject) => {
      let done = false;
      const onAbort = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        reject(cancelled());
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const timer = setTimeout(
        () => {
          done = true;
          signal?.removeEventListener('abort', onAbort);
          reject(
            new DatabaseError(
              'DB_BUSY',
              `no database connection became free within ${Math.round(timeoutMs)} ms${why} (pool size ${this.options.poolSize})`,
            ),
          );
        },
        Math.max(0, timeoutMs),
      );
      this.#pool.getConnection().then(
        (connection) => {
          if (done) {
            connection.release();
            return;
          }
          done = true;
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          this.#bound++;
          resolve(connection);
        },
        (error: unknown) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          reject(toDatabaseError(error));
        },
      );
    });
  }

  /**
   * Gives a connection back. A healthy one is reset and set up again first,
   * so the next session finds none of this one's state; one that is not
   * healthy, or whose reset fails, is destroyed (the server then rolls back
   * whatever was open on it). Resolves once the connection is back or gone.
   */
  async release(connection: PoolConnection, healthy: boolean): Promise<void> {
    if (!healthy) {
      this.#bound--;
      connection.destroy();
      return;
    }
    const started = performance.now();
    try {
      await withTimeout(this.#reset(connection), RESET_TIMEOUT_MS);
      this.resets.count++;
      this.resets.ms += performance.now() - started;
      this.#bound--;
      connection.release();
    } catch {
      this.resets.failed++;
      this.#bound--;
      connection.destroy();
    }
  }

  /** The session changed the connection's default schema (the server said so): restore it on reset. */
  noteSchemaChange(connection: PoolConnection): void {
    this.#schemaChanged.add(connection);
  }

  async #reset(connection: PoolConnection): Promise<void> {
    const core = connection.connection as unknown as CoreConnection;
    await connection.reset();
    // mysql2 follows `SET NAMES` through session tracking; the reset brings the server back to the handshake's.
    core.config.charsetNumber = handshakeCharset.get(core) ?? core.config.charsetNumber;
    await connection.query(this.sessionSetup(core));
    if (this.#schemaChanged.has(connection) && this.target.database !== undefined) {
      this.#schemaChanged.delete(connection);
      await connection.query(`USE ${mysql.escapeId(this.target.database)}`);
    }
  }

  /** `KILL QUERY` for a connection's running statement, from the control connection. */
  async killQuery(threadId: number): Promise<void> {
    try {
      this.#control ??= mysql.createConnection(connectionOptions(this.target));
      const control = await this.#control;
      await control.query(`KILL QUERY ${Number(threadId)}`);
    } catch {
      // The control connection broke (or the thread is gone): open a new one next time.
      const broken = this.#control;
      this.#control = undefined;
      void broken?.then((c) => c.destroy()).catch(() => {});
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const control = this.#control;
    this.#control = undefined;
    const accounts = [...this.#accountPools.values()];
    this.#accountPools.clear();
    await Promise.allSettled([
      this.#pool.end(),
      control?.then((c) => c.end()),
      ...accounts.map((pool) => pool.close()),
    ]);
  }

  /** The session setup statement for a connection (MariaDB and MySQL name the statement timeout differently). */
  sessionSetup(connection: { _isMariaDB?: boolean }): string {
    const mariadb = connection._isMariaDB ?? this.#flavor === 'mariadb';
    return sessionSetupSql(mariadb ? 'mariadb' : 'mysql', this.options.statementTimeoutMs);
  }
}

const RESET_TIMEOUT_MS = 5_000;

interface CoreConnection {
  _isMariaDB?: boolean;
  config: { charsetNumber: number };
}

/** The character set each connection was opened with. */
const handshakeCharset = new WeakMap<object, number>();

export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
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

/** What runs first on every new connection: no autocommit, UTC, the server-side statement timeout. */
export function sessionSetupSql(flavor: ServerFlavor, statementTimeoutMs: number): string {
  // UTC, so TIMESTAMP columns and JS dates agree whatever the server's zone.
  const settings = ['autocommit = 0', "time_zone = '+00:00'"];
  if (statementTimeoutMs > 0) {
    settings.push(
      flavor === 'mariadb'
        ? `max_statement_time = ${statementTimeoutMs / 1000}`
        : `max_execution_time = ${Math.round(statementTimeoutMs)}`,
    );
  }
  return `SET SESSION ${settings.join(', ')}`;
}

/** False in a process started with `--disallow-code-generation-from-strings` (an executor). */
const CODE_GENERATION_ALLOWED = (() => {
  try {
    return typeof new Function('') === 'function';
  } catch {
    return false;
  }
})();

/** How every connection of the gateway is opened (also the benchmarks' raw baseline). */
export function connectionOptions(target: ConnectionTarget): mysql.ConnectionOptions {
  return {
    ...(target.socketPath ? { socketPath: target.socketPath } : { host: target.host, port: target.port }),
    user: target.user,
    ...(target.password !== undefined ? { password: target.password } : {}),
    ...(target.database !== undefined ? { database: target.database } : {}),
    ...(target.ssl ? { ssl: {} } : {}),
    connectTimeout: 10_000,
    // Types (docs/protocol.md, "Database values"): DATETIME/TIMESTAMP → Date in
    // UTC (milliseconds), DECIMAL → string, BIGINT → number when exact, else
    // bigint, JSON → string.
    timezone: 'Z',
    dateStrings: false,
    // JSON columns as their exact text, on MySQL and MariaDB alike (parsing would lose digits of large numbers).
    jsonStrings: true,
    decimalNumbers: false,
    supportBigNumbers: true,
    bigNumberStrings: true,
    maxPreparedStatements: 16,
    // The promise API would capture a stack trace at every call (~25 µs) to
    // decorate errors; vmgate reports a statement's error by its fields.
    trace: false,
    // mysql2 compiles its row parsers with `new Function` unless told not to;
    // executor processes run with code generation from strings disallowed.
    disableEval: !CODE_GENERATION_ALLOWED,
    typeCast(field, next) {
      if (field.type === 'LONGLONG') {
        // A string (bigNumberStrings) from the text and the binary protocol alike.
        const value: unknown = next();
        if (value === null || value === undefined) return null;
        const text = String(value);
        const n = Number(text);
        return Number.isSafeInteger(n) ? n : BigInt(text);
      }
      return next();
    },
  };
}
