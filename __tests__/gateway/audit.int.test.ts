import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { directConnection, startDbGateway, tableName } from '../helpers/database';
import { connect, startTestGateway, upgradeStatus } from '../helpers/gateway';

/**
 * The audit log records every eval, commit and rollback with its outcome,
 * the user, the session and the client's address; behind a trusted proxy
 * that address comes from X-Forwarded-For / Forwarded, from nobody else.
 */

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'vmgate-audit-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Line = Record<string, unknown>;
const linesOf = (file: string): Line[] =>
  readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Line);

/** The audit file once it holds `count` lines (it is written asynchronously). */
async function auditLines(file: string, count: number): Promise<Line[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    let lines: Line[] = [];
    try {
      lines = linesOf(file);
    } catch {
      // not yet created or flushed
    }
    if (lines.length >= count || Date.now() > deadline) return lines;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('audit log', () => {
  test('commit and rollback lines with outcome, user, session and the forwarded address of a trusted proxy', async () => {
    const table = tableName('audit');
    const direct = await directConnection();
    await direct.query(`CREATE TABLE ${table} (id INT PRIMARY KEY)`);
    const auditLog = path.join(dir, 'trusted.jsonl');
    const gateway = await startDbGateway({}, { auditLog, trustProxy: ['127.0.0.1'] });
    // The proxy appends the client it saw; whatever the client wrote before is its own claim.
    const client = await connect(gateway, { headers: { 'x-forwarded-for': '192.0.2.66, 203.0.113.9' } });
    const hello = await client.next();
    await client.eval(`await db.insertInto('${table}').values({ id: 1 }).execute()`);
    expect((await client.request({ op: 'commit' })).frame).toMatchObject({ type: 'ok' });
    await client.eval(`await db.insertInto('${table}').values({ id: 2 }).execute()`);
    expect((await client.request({ op: 'rollback' })).frame).toMatchObject({ type: 'ok' });
    const text = await connect(gateway, { json: false, headers: { forwarded: 'for=198.51.100.1' } });
    await text.next();
    await text.line('.commit');

    const lines = await auditLines(auditLog, 5);
    const common = { session: hello.session, user: null, address: '203.0.113.9' };
    expect(lines.slice(0, 4)).toEqual([
      expect.objectContaining({ ...common, op: 'eval', outcome: 'ok', codeSha256: expect.any(String) }),
      expect.objectContaining({ ...common, op: 'commit', outcome: 'ok', ms: expect.any(Number) }),
      expect.objectContaining({ ...common, op: 'eval', outcome: 'ok' }),
      expect.objectContaining({ ...common, op: 'rollback', outcome: 'ok' }),
    ]);
    for (const line of lines) expect(line.time).toEqual(expect.any(String));
    // Text mode's .commit is audited too; this gateway reads X-Forwarded-For, so a
    // Forwarded header is ignored and the address is the proxy's (the peer).
    expect(lines[4]).toMatchObject({ op: 'commit', outcome: 'ok', address: '127.0.0.1' });
    const [rows] = await direct.query(`SELECT id FROM ${table}`);
    expect(rows).toEqual([{ id: 1 }]);
    await direct.end();
  });

  test('transactions the database ends by itself: an implicit commit (DDL) and COMMIT sent through sql', async () => {
    const table = tableName('audit_implicit');
    const direct = await directConnection();
    await direct.query(`CREATE TABLE ${table} (id INT PRIMARY KEY)`);
    const auditLog = path.join(dir, 'implicit.jsonl');
    const gateway = await startDbGateway({}, { auditLog });
    const client = await connect(gateway);
    const hello = await client.next();
    await client.eval(`await db.insertInto('${table}').values({ id: 1 }).execute()`);
    // DDL commits the open transaction first: the client is warned, the audit log records it.
    await client.eval(`await sql\`CREATE TABLE ${table}_b (id INT)\`.execute(db)`);
    await client.eval(`await db.insertInto('${table}').values({ id: 2 }).execute()`);
    await client.eval('await sql`COMMIT`.execute(db)');
    const lines = (await auditLines(auditLog, 6)).filter((line) => line.op !== 'eval');
    const common = { session: hello.session, user: null, address: '127.0.0.1', outcome: 'ok' };
    expect(lines).toEqual([
      expect.objectContaining({ ...common, op: 'implicit-commit', statement: 'CREATE TABLE' }),
      expect.objectContaining({ ...common, op: 'commit', statement: 'COMMIT' }),
    ]);
    await direct.query(`DROP TABLE ${table}_b`);
    await direct.end();
  });

  test('a failed commit is recorded with its error code', async () => {
    const auditLog = path.join(dir, 'failed.jsonl');
    const gateway = await startTestGateway({ auditLog, database: { mode: 'off' } });
    const client = await connect(gateway);
    await client.next();
    const { frame } = await client.request({ op: 'commit' });
    expect(frame).toMatchObject({ type: 'error', error: { code: 'DB_UNAVAILABLE' } });
    expect(await auditLines(auditLog, 1)).toEqual([
      expect.objectContaining({ op: 'commit', outcome: 'DB_UNAVAILABLE', address: '127.0.0.1' }),
    ]);
  });

  test('forwarding headers from an untrusted peer are ignored', async () => {
    const auditLog = path.join(dir, 'untrusted.jsonl');
    const gateway = await startTestGateway({ auditLog, trustProxy: ['10.0.0.0/8', '::1'] });
    const client = await connect(gateway, { headers: { 'x-forwarded-for': '203.0.113.9' } });
    await client.next();
    await client.request({ op: 'rollback' });
    expect(await auditLines(auditLog, 1)).toEqual([expect.objectContaining({ op: 'rollback', address: '127.0.0.1' })]);
  });

  test('RFC 7239 Forwarded, and per-address limits count forwarded clients', async () => {
    const auditLog = path.join(dir, 'forwarded.jsonl');
    const gateway = await startTestGateway({
      auditLog,
      trustProxy: ['127.0.0.0/8'],
      trustProxyHeader: 'forwarded',
      limits: { maxSessionsPerAddress: 1 },
    });
    const forwarded = (client: string) => ({ forwarded: `for=${client};proto=https, for=127.0.0.1` });
    const first = await connect(gateway, { headers: forwarded('"[2001:db8::7]:4711"') });
    await first.next();
    // Another client behind the same proxy gets its own count...
    const second = await connect(gateway, { headers: forwarded('198.51.100.4') });
    await second.next();
    // ...and the same client a second time is over its limit.
    expect(await upgradeStatus(gateway.url, { headers: forwarded('198.51.100.4') })).toBe(429);
    await first.request({ op: 'rollback' });
    await second.request({ op: 'rollback' });
    const addresses = (await auditLines(auditLog, 2)).map((line) => line.address).sort();
    expect(addresses).toEqual(['198.51.100.4', '2001:db8::7']);
  });
});
