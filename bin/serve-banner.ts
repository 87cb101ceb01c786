import path from 'node:path';
import type { Gateway } from '../gateway/server';
import { VERSION } from '../gateway/version';
import { watchdogKind } from '../sandbox/watchdog';

/**
 * What `vmgate serve` prints for a person on a terminal once it listens:
 * where to point a browser or a terminal client, and what it runs with.
 * Logs (machine-readable) follow it; off a terminal there is no banner.
 */

export interface BannerFacts {
  readonly gateway: Pick<
    Gateway,
    'port' | 'host' | 'shared' | 'database' | 'executors' | 'authRequired' | 'budget' | 'descriptors'
  >;
  /** Paths are shown relative to this folder when inside it. */
  readonly cwd: string;
}

function displayHost(host: string): string {
  // A wildcard bind is reachable on loopback too; a browser needs a concrete host.
  if (host === '0.0.0.0' || host === '::' || host === '::ffff:0.0.0.0') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

function relative(cwd: string, file: string): string {
  const rel = path.relative(cwd, file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

/** The descriptor limit (Node raised the soft one to the hard one), the memory budget for frames, what times evals. */
function limitsLine(gateway: BannerFacts['gateway']): string {
  const budget = `frames held for clients ≤ ${Math.round(gateway.budget.limit / 1024 / 1024)} MiB`;
  const watchdog = `${watchdogKind() === 'native' ? 'native' : 'node:vm'} watchdog`;
  const fds = gateway.descriptors;
  return fds && Number.isFinite(fds.soft)
    ? `${fds.soft} file descriptors (nofile), ${budget}, ${watchdog}`
    : `${budget}, ${watchdog}`;
}

export function serveBanner({ gateway, cwd }: BannerFacts): string {
  const host = displayHost(gateway.host);
  const http = `http://${host}:${gateway.port}/`;
  const ws = `ws://${host}:${gateway.port}`;
  const db = gateway.database.description.replace(/^embedded \((.*)\)$/, (_all, dir: string) =>
    dir ? `embedded MariaDB, data in ${relative(cwd, dir)}` : 'embedded MariaDB',
  );
  const executors = gateway.executors;
  const shared = gateway.shared
    ? `${relative(cwd, gateway.shared.file)} (version ${gateway.shared.current.version})`
    : 'none';
  const rows: Array<[string, string]> = [
    ['web console', http],
    ['terminal', `npx wscat -c ${ws}   or   npx vmgate connect ${ws}`],
    [
      'database',
      db === 'off'
        ? 'none (--no-database: db answers DB_UNAVAILABLE)'
        : db === 'absent'
          ? 'none: no MariaDB server binaries (apt-get install mariadb-server, or --database-url)'
          : db,
    ],
    ['sessions', executors > 0 ? `in ${executors} executor process${executors === 1 ? '' : 'es'}` : 'in this process'],
    ['shared state', shared],
    ['auth', gateway.authRequired ? 'bearer token or JWT required' : 'none (loopback only)'],
    ['limits', limitsLine(gateway)],
  ];
  return [
    `vmgate ${VERSION} — listening on ${host}:${gateway.port}`,
    '',
    ...rows.map(([label, value]) => `  ${label.padEnd(14)}${value}`),
    '',
    'Ctrl-C stops the gateway (sessions are told, open transactions rolled back). Logs follow.',
    '',
  ].join('\n');
}
