/**
 * The raw mysql2 side of `bench/db.ts`: connections opened exactly as the
 * gateway opens its own (db/pool.ts), so the baseline differs from a vmgate
 * session only by what vmgate adds.
 *
 * `db/pool.ts` does not export its `connectionOptions`, and this benchmark may
 * not change product code, so `rawConnectionOptions` is a copy of it: keep the
 * two in step. `sessionSetupSql` is the statement `DatabasePool` runs on every
 * new connection (`autocommit = 0`, UTC, the server-side statement timeout).
 */
import { readFileSync } from 'node:fs';
import mysql from 'mysql2/promise';
import { parseDatabaseUrl } from '../db/database-url';
import { DEFAULT_DATABASE_OPTIONS, type ServerFlavor } from '../db/pool';

/** Copy of db/pool.ts `connectionOptions` (not exported there). */
export function rawConnectionOptions(url: string): mysql.ConnectionOptions {
  const target = parseDatabaseUrl(url);
  return {
    ...(target.socketPath ? { socketPath: target.socketPath } : { host: target.host, port: target.port }),
    user: target.user,
    ...(target.password !== undefined ? { password: target.password } : {}),
    ...(target.database !== undefined ? { database: target.database } : {}),
    ...(target.ssl ? { ssl: {} } : {}),
    connectTimeout: 5_000,
    timezone: 'Z',
    dateStrings: false,
    decimalNumbers: false,
    supportBigNumbers: true,
    bigNumberStrings: true,
    maxPreparedStatements: 16,
    // db/pool.ts sets this only in processes without code generation (executors); not this one.
    disableEval: false,
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

/** What `DatabasePool` runs first on each connection (db/pool.ts `#sessionSetup`). */
export function sessionSetupSql(
  flavor: ServerFlavor,
  statementTimeoutMs = DEFAULT_DATABASE_OPTIONS.statementTimeoutMs,
) {
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

/** CPU time (ms, user + system) a process has used, from /proc; undefined if unreadable. */
export function processCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields after "(comm)": state is [0]; utime is field 14 overall → [11], stime → [12]. Ticks of 1/100 s.
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

/** Resident set size (KB) of a process, from /proc; undefined if unreadable. */
export function processRssKb(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}
