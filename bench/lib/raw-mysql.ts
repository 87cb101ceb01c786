/**
 * The raw mysql2 side of bench:db: connections opened exactly as the
 * gateway opens its own (db/pool.ts), so the baseline differs from a vmgate
 * session only by what vmgate adds.
 *
 * `rawConnectionOptions` and `sessionSetupSql` are db/pool.ts's own (the
 * statement `DatabasePool` runs on every new connection: `autocommit = 0`,
 * UTC, the server-side statement timeout).
 */
import { readFileSync } from 'node:fs';
import mysql from 'mysql2/promise';
import { parseDatabaseUrl } from '../../db/database-url';
import {
  connectionOptions,
  DEFAULT_DATABASE_OPTIONS,
  sessionSetupSql as poolSessionSetupSql,
  type ServerFlavor,
} from '../../db/pool';

/** The gateway's own connection options (db/pool.ts) for `url`. */
export const rawConnectionOptions = (url: string) => connectionOptions(parseDatabaseUrl(url));

/** What `DatabasePool` runs first on each connection. */
export const sessionSetupSql = (flavor: ServerFlavor) =>
  poolSessionSetupSql(flavor, DEFAULT_DATABASE_OPTIONS.statementTimeoutMs);

export async function detectFlavor(url: string): Promise<ServerFlavor> {
  const connection = await mysql.createConnection(rawConnectionOptions(url));
  try {
    const [rows] = await connection.query('SELECT VERSION() AS v');
    return /mariadb/i.test(String((rows as Array<{ v: string }>)[0]?.v)) ? 'mariadb' : 'mysql';
  } finally {
    await connection.end();
  }
}

/** One raw connection, set up as the session connections are. */
export async function openRawConnection(url: string, flavor: ServerFlavor): Promise<mysql.Connection> {
  const connection = await mysql.createConnection(rawConnectionOptions(url));
  await connection.query(sessionSetupSql(flavor));
  return connection;
}

/** A raw pool of `size`, each new connection set up as the session connections are. */
export function openRawPool(url: string, flavor: ServerFlavor, size: number): mysql.Pool {
  const pool = mysql.createPool({
    ...rawConnectionOptions(url),
    connectionLimit: size,
    maxIdle: size,
    idleTimeout: 60_000,
    queueLimit: 0,
    waitForConnections: true,
    enableKeepAlive: true,
  });
  const setup = sessionSetupSql(flavor);
  pool.pool.on('connection', (connection) => {
    connection.query(setup, () => {});
  });
  return pool;
}

/**
 * The database server's process id, when it runs on this machine and its pid
 * file is readable (the embedded server always; a `DATABASE_URL` server maybe).
 */
export async function serverPid(url: string): Promise<number | undefined> {
  try {
    const connection = await mysql.createConnection(rawConnectionOptions(url));
    try {
      const [rows] = await connection.query('SELECT @@pid_file AS f');
      const file = String((rows as Array<{ f: string }>)[0]?.f ?? '');
      const pid = Number(readFileSync(file, 'utf8').trim());
      if (!Number.isInteger(pid) || pid <= 0) return undefined;
      readFileSync(`/proc/${pid}/stat`, 'utf8');
      return pid;
    } finally {
      await connection.end();
    }
  } catch {
    return undefined;
  }
}
