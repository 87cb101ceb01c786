import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createConnection } from 'mysql2/promise';
import { StartError } from '../common/start-error';

/**
 * The embedded default database: a private MariaDB (or MySQL) server started
 * from the machine's own binaries, with its data under the project
 * (`.vmgate/`, git-ignored), listening on a Unix socket only. The data
 * directory is reused from run to run; the server is stopped on exit.
 */

const run = promisify(execFile);

export interface EmbeddedDatabase {
  /** A `mysql://` URL for the running server (socket in the query string). */
  readonly url: string;
  readonly socketPath: string;
  readonly dataDir: string;
  /** Stops the server if this process started it. Idempotent. */
  stop(): Promise<void>;
}

export class EmbeddedDatabaseUnavailable extends StartError {
  readonly hint: string;
  constructor(message: string, hint: string) {
    super('DB_BINARIES_MISSING', message);
    this.hint = hint;
  }
}

export const INSTALL_HINT =
  'install a MariaDB server (Debian: apt-get install mariadb-server) or pass --database-url mysql://user:pass@host:3306/db';

const SEARCH_PATH = ['/usr/sbin', '/usr/local/sbin', '/usr/bin', '/usr/local/bin', '/usr/local/mysql/bin'];

function findBinary(names: readonly string[]): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), ...SEARCH_PATH];
  for (const name of names) {
    for (const dir of dirs) {
      if (dir && existsSync(path.join(dir, name))) return path.join(dir, name);
    }
  }
  return undefined;
}

interface Flavor {
  readonly server: string;
  readonly kind: 'mariadb' | 'mysql';
  readonly installer?: string;
}

export function findServerBinaries(): Flavor | undefined {
  const mariadbd = findBinary(['mariadbd']);
  const installer = findBinary(['mariadb-install-db', 'mysql_install_db']);
  if (mariadbd && installer) return { server: mariadbd, kind: 'mariadb', installer };
  const mysqld = findBinary(['mysqld']);
  if (!mysqld) return undefined;
  // Debian's mysqld is often MariaDB's compatibility link.
  if (installer) return { server: mysqld, kind: 'mariadb', installer };
  return { server: mysqld, kind: 'mysql' };
}

export interface EmbeddedOptions {
  /** Where data, socket and logs live. */
  readonly dataDir: string;
  readonly database?: string;
  /** How long to wait for the server to accept connections. */
  readonly startTimeoutMs?: number;
}

export async function startEmbeddedDatabase(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const flavor = findServerBinaries();
  if (!flavor) throw new EmbeddedDatabaseUnavailable('no MariaDB or MySQL server binaries found', INSTALL_HINT);
  const dataDir = path.resolve(options.dataDir);
  const database = options.database ?? 'vmgate';
  // Unix socket paths are limited to ~107 bytes; keep it short and inside the data dir.
  const socketPath = path.join(dataDir, 'mysqld.sock');
  const pidFile = path.join(dataDir, 'mysqld.pid');
  mkdirSync(dataDir, { recursive: true });

  const asRoot = process.getuid?.() === 0;
  const user = asRoot ? ['--user=root'] : [];
  const data = path.join(dataDir, 'data');
  if (!existsSync(path.join(data, 'mysql'))) {
    rmSync(data, { recursive: true, force: true });
    if (flavor.kind === 'mariadb' && flavor.installer) {
      await run(
        flavor.installer,
        [
          '--no-defaults',
          `--datadir=${data}`,
          '--auth-root-authentication-method=normal',
          '--skip-test-db',
          ...(asRoot ? ['--user=root'] : [`--user=${userInfo().username}`]),
        ],
        { timeout: 120_000 },
      );
    } else {
      await run(flavor.server, ['--no-defaults', '--initialize-insecure', `--datadir=${data}`, ...user], {
        timeout: 120_000,
      });
    }
  }

  const url = `mysql://root@localhost/${database}?socket=${encodeURIComponent(socketPath)}`;
  // A server left running by an earlier process of ours is reused.
  if (await canConnect(socketPath)) {
    await ensureDatabase(socketPath, database);
    return { url, socketPath, dataDir, stop: async () => {} };
  }
  rmSync(socketPath, { force: true });

  const child: ChildProcess = spawn(
    flavor.server,
    [
      '--no-defaults',
      `--datadir=${data}`,
      `--socket=${socketPath}`,
      `--pid-file=${pidFile}`,
      `--log-error=${path.join(dataDir, 'error.log')}`,
      '--skip-networking',
      '--max-connections=1000',
      '--innodb-buffer-pool-size=64M',
      '--innodb-log-file-size=16M',
      ...user,
    ],
    { stdio: 'ignore', detached: false },
  );
  let exited = false;
  // If this process dies without stop(), take the server down with it.
  const killOnExit = () => child.kill('SIGTERM');
  process.once('exit', killOnExit);
  child.once('exit', () => {
    exited = true;
    process.off('exit', killOnExit);
  });
  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  while (!(await canConnect(socketPath))) {
    if (exited || Date.now() > deadline) {
      child.kill('SIGKILL');
      const log = readTail(path.join(dataDir, 'error.log'));
      throw new Error(`embedded database did not start${log ? `: ${log}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await ensureDatabase(socketPath, database);
  writeFileSync(path.join(dataDir, 'url'), `${url}\n`);

  let stopping: Promise<void> | undefined;
  return {
    url,
    socketPath,
    dataDir,
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        if (exited) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGTERM');
      });
      return stopping;
    },
  };
}

async function canConnect(socketPath: string): Promise<boolean> {
  if (!existsSync(socketPath)) return false;
  try {
    const connection = await createConnection({ socketPath, user: 'root', connectTimeout: 1000 });
    await connection.end();
    return true;
  } catch {
    return false;
  }
}

async function ensureDatabase(socketPath: string, database: string): Promise<void> {
  const connection = await createConnection({ socketPath, user: 'root' });
  try {
    await connection.query(`CREATE DATABASE IF NOT EXISTS \`${database.replace(/`/g, '``')}\``);
  } finally {
    await connection.end();
  }
}

function readTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-3).join(' | ');
  } catch {
    return '';
  }
}
