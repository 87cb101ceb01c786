import path from 'node:path';
import type { Logger } from 'pino';
import { findPackageRoot } from '../common/package-root';
import { redactUrl } from '../db/database-url';
import { type EmbeddedDatabase, EmbeddedDatabaseUnavailable, startEmbeddedDatabase } from '../db/embedded-mariadb';
import { kyselyScript } from '../db/kysely-bundle';
import { DatabasePool } from '../db/pool';
import type { EngineDatabase } from '../sandbox/database-calls';
import type { DatabaseConfig } from './config';

/**
 * The gateway's database: a pool on `--database-url`, the embedded default
 * server, or none. It owns the pool and the embedded server; `close()` ends
 * them after the sessions have rolled back.
 */

export type DatabaseStatus = 'ok' | 'unavailable' | 'absent' | 'off';

export interface GatewayDatabase {
  readonly engine: EngineDatabase;
  readonly pool: DatabasePool | undefined;
  /** Where it is, for logs (password redacted). */
  readonly description: string;
  status(): Promise<DatabaseStatus>;
  close(): Promise<void>;
}

export const DEFAULT_EMBEDDED_DIR = path.join(findPackageRoot(__dirname), '.vmgate', 'mariadb');

export async function openDatabase(config: DatabaseConfig, log: Logger): Promise<GatewayDatabase> {
  if (config.mode === 'off') {
    return absent('off', 'the database is turned off on this gateway (--no-database)', 'off');
  }
  let embedded: EmbeddedDatabase | undefined;
  let url: string;
  if (config.mode === 'embedded') {
    try {
      embedded = await startEmbeddedDatabase({ dataDir: config.dataDir });
      url = embedded.url;
      log.info({ dataDir: config.dataDir }, 'embedded database started');
    } catch (error) {
      const hint =
        error instanceof EmbeddedDatabaseUnavailable
          ? `no database: ${error.message}; ${error.hint}`
          : `no database: the embedded server failed to start (${(error as Error).message}); pass --database-url or --no-database`;
      log.warn(hint);
      process.stderr.write(`vmgate: ${hint}\n`);
      return absent('absent', hint, 'absent');
    }
  } else {
    url = config.url;
  }
  const pool = new DatabasePool({ ...config, url });
  // Bundle and compile Kysely now rather than on the first session's first `db`.
  kyselyScript();
  try {
    await pool.ping();
  } catch (error) {
    // Keep running: sessions get DB_UNAVAILABLE until the server is back.
    log.warn({ database: redactUrl(url), error: (error as Error).message }, 'database unreachable at startup');
  }
  return {
    engine: { pool, hint: '', kysely: kyselyScript },
    pool,
    description: embedded ? `embedded (${config.mode === 'embedded' ? config.dataDir : ''})` : redactUrl(url),
    async status() {
      try {
        await pool.ping(1_000);
        return 'ok';
      } catch {
        return 'unavailable';
      }
    },
    async close() {
      await pool.close();
      await embedded?.stop();
    },
  };
}

function absent(kind: 'off' | 'absent', hint: string, status: DatabaseStatus): GatewayDatabase {
  return {
    engine: { pool: undefined, hint, kysely: kyselyScript },
    pool: undefined,
    description: kind,
    status: async () => status,
    close: async () => {},
  };
}
