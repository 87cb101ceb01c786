import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { parseDatabaseUrl } from '../../db/database-url';
import { type DatabaseOptions, DEFAULT_DATABASE_OPTIONS } from '../../db/pool';
import type { StartOptions } from '../../gateway/server';
import { startTestGateway } from './gateway';

/** The database of this test run (see global-setup.ts). */
export function testDatabaseUrl(): string {
  const url = process.env.VMGATE_TEST_DATABASE_URL;
  if (!url) throw new Error('VMGATE_TEST_DATABASE_URL is not set: run through jest (globalSetup starts the database)');
  return url;
}

const connections: mysql.Connection[] = [];
afterAll(async () => {
  await Promise.allSettled(connections.splice(0).map((c) => c.end()));
});

/** A plain mysql2 connection beside the gateway (autocommit on), closed after the file. */
export async function directConnection(url = testDatabaseUrl()): Promise<mysql.Connection> {
  const target = parseDatabaseUrl(url);
  const connection = await mysql.createConnection({
    ...(target.socketPath ? { socketPath: target.socketPath } : { host: target.host, port: target.port }),
    user: target.user,
    ...(target.password !== undefined ? { password: target.password } : {}),
    ...(target.database !== undefined ? { database: target.database } : {}),
    supportBigNumbers: true,
    bigNumberStrings: true,
  });
  connections.push(connection);
  return connection;
}

/** A table name no other test file uses. */
export function tableName(prefix: string): string {
  return `${prefix}_${randomBytes(4).toString('hex')}`;
}

export function startDbGateway(
  database: Partial<Omit<DatabaseOptions, 'url'>> & { url?: string } = {},
  options: StartOptions = {},
) {
  const { url, ...tuning } = database;
  return startTestGateway({
    ...options,
    database: { mode: 'url', url: url ?? testDatabaseUrl(), ...DEFAULT_DATABASE_OPTIONS, ...tuning },
  });
}

/** Threads of this database's server that belong to `user`@`db` (for leak checks). */
export async function threadCount(connection: mysql.Connection, database: string): Promise<number> {
  const [rows] = await connection.query(
    'SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()',
    [database],
  );
  return Number((rows as Array<{ n: number | string }>)[0]?.n ?? 0);
}
