import path from 'node:path';
import { startEmbeddedDatabase } from '../../db/embedded-mariadb';

/**
 * The database the integration tests use: DATABASE_URL when set, otherwise
 * the product's own embedded default (a private MariaDB under .vmgate/).
 */
export default async function globalSetup(): Promise<void> {
  if (process.env.DATABASE_URL) {
    process.env.VMGATE_TEST_DATABASE_URL = process.env.DATABASE_URL;
    return;
  }
  const embedded = await startEmbeddedDatabase({
    dataDir: path.join(__dirname, '..', '..', '.vmgate', 'test-mariadb'),
    database: 'vmgate_test',
  });
  process.env.VMGATE_TEST_DATABASE_URL = embedded.url;
  (globalThis as { __vmgateTestDatabase?: typeof embedded }).__vmgateTestDatabase = embedded;
}
