import mysql, { type Pool, type PoolConnection } from 'mysql2/promise';
import { DatabaseError, toDatabaseError } from './database-error';
import { type ConnectionTarget, parseDatabaseUrl } from './database-url';

/**
 * The host's mysql2 pool, shared by every session of a process, plus one
 * control connection for `KILL QUERY`. Every pooled connection runs with
 * `autocommit=0`: a statement always belongs to a transaction, so nothing a
 * user does (not even a raw `COMMIT` followed by more statements) ever
 * autocommits behind the session's back.
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
}

export const DEFAULT_DATABASE_OPTIONS: Omit<DatabaseOptions, 'url'> = Object.freeze({
  poolSize: 50,
  acquireTimeoutMs: 10_000,
  statementTimeoutMs: 60_000,
  poolMode: 'session',
  idleTransactionMs: 10 * 60_000,
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

  constructor(options: DatabaseOptions) {
    this.options = options;
    this.target = parseDatabaseUrl(options.url);
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
      // A callback, so a failure here is an error of the next statement, not an unhandled 'error' event.
      connection.query(this.#sessionSetup(connection as unknown as { _isMariaDB?: boolean }), () => {});
    });
  }

  /** Checks the server is reachable; learns whether it is MariaDB or MySQL. */
  async ping(timeoutMs = 2_000): Promise<void> {
    const connection = await this.acquire(timeoutMs);
    try {
      const [rows] = await connection.query('SELECT VERSION() AS v');
      this.#flavor = /mariadb/i.test(String((rows as Array<{ v: string }>)[0]?.v)) ? 'mariadb' : 'mysql';
    } finally {
      this.release(connection, true);
    }
  }

  get flavor(): ServerFlavor | undefined {
    return this.#flavor;
  }

  /** Connections currently bound to sessions. */
  get bound(): number {
    return this.#bound;
  }

  /**
   * A connection, or DB_BUSY after `timeoutMs`. A connection that arrives
   * after the caller gave up goes straight back to the pool.
   */
  acquire(timeoutMs = this.options.acquireTimeoutMs): Promise<PoolConnection> {
    if (this.#closed) return Promise.reject(new DatabaseError('DB_UNAVAILABLE', 'the database pool is closed'));
    return new Promise((resolve, reject) => {
      let done = false;
      const timer = setTimeout(() => {
        done = true;
        reject(
          new DatabaseError(
            'DB_BUSY',
            `no database connection became free within ${timeoutMs} ms (pool size ${this.options.poolSize})`,
          ),
        );
      }, timeoutMs);
      this.#pool.getConnection().then(
        (connection) => {
          if (done) {
            connection.release();
            return;
          }
          done = true;
          clearTimeout(timer);
          this.#bound++;
          resolve(connection);
        },
        (error: unknown) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          reject(toDatabaseError(error));
        },
      );
    });
  }

  /** Gives a connection back: to the pool when `healthy`, else it is destroyed. */
  release(connection: PoolConnection, healthy: boolean): void {
    this.#bound--;
    if (healthy) connection.release();
    else connection.destroy();
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
    await Promise.allSettled([this.#pool.end(), control?.then((c) => c.end())]);
  }

  #sessionSetup(connection: { _isMariaDB?: boolean }): string {
    const mariadb = connection._isMariaDB ?? this.#flavor === 'mariadb';
    return sessionSetupSql(mariadb ? 'mariadb' : 'mysql', this.options.statementTimeoutMs);
  }
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
    // UTC, DECIMAL → string, BIGINT → number when exact, else bigint.
    timezone: 'Z',
    dateStrings: false,
    decimalNumbers: false,
    supportBigNumbers: true,
    bigNumberStrings: true,
    maxPreparedStatements: 16,
    // mysql2 compiles its row parsers with `new Function` unless told not to;
    // executor processes run with code generation from strings disallowed.
    disableEval: !CODE_GENERATION_ALLOWED,
    typeCast(field, next) {
      if (field.type === 'LONGLONG') {
        const text = field.string();
        if (text === null) return null;
        const n = Number(text);
        return Number.isSafeInteger(n) ? n : BigInt(text);
      }
      return next();
    },
  };
}
