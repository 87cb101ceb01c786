import { StartError } from '../common/start-error';

/**
 * `mysql://user:password@host:port/database?socket=/path&ssl=true` → the
 * connection options vmgate passes to mysql2. The password never appears in
 * logs: use `redactUrl` for anything printed.
 */
export interface ConnectionTarget {
  readonly host?: string;
  readonly port?: number;
  readonly socketPath?: string;
  readonly user: string;
  readonly password?: string;
  readonly database?: string;
  readonly ssl?: boolean;
}

export class DatabaseUrlError extends StartError {
  constructor(message: string) {
    super('BAD_DATABASE_URL', message);
  }
}

export function parseDatabaseUrl(text: string): ConnectionTarget {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new DatabaseUrlError('database URL is not a valid URL (expected mysql://user:pass@host:3306/db)');
  }
  if (url.protocol !== 'mysql:' && url.protocol !== 'mariadb:') {
    throw new DatabaseUrlError(`database URL must start with mysql:// or mariadb:// (got ${url.protocol}//)`);
  }
  const socketPath = url.searchParams.get('socket') ?? undefined;
  const database = decodeURIComponent(url.pathname.replace(/^\//, '')) || undefined;
  return {
    user: decodeURIComponent(url.username) || 'root',
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    ...(socketPath ? { socketPath } : { host: url.hostname || '127.0.0.1', port: url.port ? Number(url.port) : 3306 }),
    ...(database ? { database } : {}),
    ...(url.searchParams.get('ssl') === 'true' ? { ssl: true } : {}),
  };
}

export function redactUrl(text: string): string {
  try {
    const url = new URL(text);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return '<invalid database URL>';
  }
}
