import path from 'node:path';
import { findServerBinaries, startEmbeddedDatabase } from '../../db/embedded-mariadb';
import { directConnection, startDbGateway, tableName } from '../helpers/database';
import { connect, startTestGateway } from '../helpers/gateway';

const http = (url: string) => fetch(url.replace(/^ws/, 'http'));

describe('connections', () => {
  test('interrupt stops a running SELECT SLEEP(20) within a second (KILL QUERY)', async () => {
    const gateway = await startDbGateway();
    const client = await connect(gateway);
    await client.next();
    client.send({ op: 'eval', id: 'sleep', code: 'await sql`SELECT SLEEP(20)`.execute(db)', timeoutMs: 60_000 });
    await new Promise((r) => setTimeout(r, 300));
    const started = Date.now();
    client.send({ op: 'interrupt', id: 'stop' });
    const { frame } = await client.until('error', 'sleep');
    expect(frame).toMatchObject({ error: { code: 'INTERRUPTED' } });
    expect(Date.now() - started).toBeLessThan(1000);
    // The connection itself is fine: the next statement runs on it at once.
    const after = Date.now();
    expect(await client.eval('(await sql`SELECT 1 AS one`.execute(db)).rows[0].one')).toMatchObject({ value: 1 });
    expect(Date.now() - after).toBeLessThan(1000);
  });

  test('the statement timeout stops long statements with DB_ERROR', async () => {
    const gateway = await startDbGateway({ statementTimeoutMs: 300 });
    const client = await connect(gateway);
    await client.next();
    const started = Date.now();
    const reply = await client.eval('await sql`SELECT SLEEP(5)`.execute(db)', { timeoutMs: 10_000 });
    expect(Date.now() - started).toBeLessThan(3000);
    // MariaDB reports max_statement_time with errno 1969; MySQL's max_execution_time (SELECT only) with 3024.
    if (reply.type === 'error') {
      expect(reply.error).toMatchObject({ code: 'DB_ERROR' });
      expect([1969, 3024]).toContain((reply.error as { errno: number }).errno);
    } else {
      // MariaDB may end SLEEP() early and return 1 instead of failing the statement.
      expect(reply).toMatchObject({ type: 'result', value: { rows: [{ 'SLEEP(5)': 1 }] } });
    }
  });

  test('an exhausted pool answers DB_BUSY after the acquire timeout', async () => {
    const gateway = await startDbGateway({ poolSize: 1, acquireTimeoutMs: 300 });
    const a = await connect(gateway);
    const b = await connect(gateway);
    await a.next();
    await b.next();
    await a.eval('await sql`SELECT 1`.execute(db)'); // a's session now holds the only connection
    const started = Date.now();
    expect(await b.eval('await sql`SELECT 1`.execute(db)')).toMatchObject({
      type: 'error',
      error: { code: 'DB_BUSY' },
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    a.ws.close();
    await a.closed;
    await new Promise((r) => setTimeout(r, 100));
    expect(await b.eval('(await sql`SELECT 2 AS two`.execute(db)).rows[0].two')).toMatchObject({ value: 2 });
  });

  test('a connection killed under a session: DB_UNAVAILABLE, then a new connection and a plain notice', async () => {
    const table = tableName('lost');
    const direct = await directConnection();
    await direct.query(`CREATE TABLE ${table} (id INT PRIMARY KEY)`);
    const gateway = await startDbGateway();
    const client = await connect(gateway);
    await client.next();
    const id = await client.eval(
      `await db.insertInto('${table}').values({ id: 1 }).execute(); (await sql\`SELECT CONNECTION_ID() AS id\`.execute(db)).rows[0].id`,
    );
    await direct.query(`KILL CONNECTION ${Number(id.value)}`);
    expect(await client.eval('await sql`SELECT 1`.execute(db)')).toMatchObject({
      type: 'error',
      error: { code: 'DB_UNAVAILABLE' },
    });
    const { frame, logs } = await client.request({
      op: 'eval',
      code: `(await db.selectFrom('${table}').selectAll().execute()).length`,
    });
    expect(frame).toMatchObject({ type: 'result', value: 0 });
    expect(logs).toEqual([
      expect.objectContaining({ level: 'warn', text: expect.stringContaining('transaction was rolled back') }),
    ]);
  });

  test('without a database, db answers DB_UNAVAILABLE with the hint', async () => {
    const gateway = await startTestGateway({ database: { mode: 'off' } });
    const client = await connect(gateway);
    await client.next();
    expect(await client.eval('await db.selectFrom("t").selectAll().execute()')).toMatchObject({
      type: 'error',
      error: { code: 'DB_UNAVAILABLE', message: expect.stringContaining('--no-database') },
    });
    expect((await client.request({ op: 'commit' })).frame).toMatchObject({ error: { code: 'DB_UNAVAILABLE' } });
    expect(await (await http(`${gateway.url}/readyz`)).json()).toMatchObject({ ready: true, database: 'off' });
  });

  test('an unreachable database: the gateway starts, sessions get DB_UNAVAILABLE, /readyz says so', async () => {
    const gateway = await startDbGateway({ url: 'mysql://root@127.0.0.1:1/nowhere', acquireTimeoutMs: 2000 });
    const client = await connect(gateway);
    await client.next();
    expect(await client.eval('await sql`SELECT 1`.execute(db)')).toMatchObject({ error: { code: 'DB_UNAVAILABLE' } });
    expect(await client.eval('1 + 1')).toMatchObject({ value: 2 });
    const ready = await http(`${gateway.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ ready: false, database: 'unavailable' });
  });

  const binaries = findServerBinaries();
  (binaries ? test : test.skip)(
    'the database restarting under open sessions: they are told, rolled back, and recover',
    async () => {
      const dataDir = path.join(__dirname, '..', '..', '.vmgate', 'test-restart');
      let server = await startEmbeddedDatabase({ dataDir, database: 'restart' });
      try {
        const gateway = await startDbGateway({ url: server.url, acquireTimeoutMs: 2000 });
        const clients = await Promise.all([connect(gateway), connect(gateway)]);
        await Promise.all(clients.map((c) => c.next()));
        await clients[0]!.eval(
          'await sql`CREATE TABLE IF NOT EXISTS r (id INT PRIMARY KEY)`.execute(db); await sql`DELETE FROM r`.execute(db); await db.commit()',
        );
        await clients[0]!.eval("await db.insertInto('r').values({ id: 1 }).execute()");
        await server.stop();
        for (const c of clients) {
          expect(await c.eval('await sql`SELECT 1`.execute(db)')).toMatchObject({ error: { code: 'DB_UNAVAILABLE' } });
        }
        expect(await clients[1]!.eval('"javascript still works"')).toMatchObject({ value: 'javascript still works' });
        server = await startEmbeddedDatabase({ dataDir, database: 'restart' });
        const { frame, logs } = await clients[0]!.request({
          op: 'eval',
          code: "(await db.selectFrom('r').selectAll().execute()).length",
        });
        expect(frame).toMatchObject({ type: 'result', value: 0 });
        expect(logs.map((l) => l.text)).toEqual([expect.stringContaining('transaction was rolled back')]);
        expect(await clients[1]!.eval('(await sql`SELECT 3 AS x`.execute(db)).rows[0].x')).toMatchObject({ value: 3 });
        await gateway.close();
      } finally {
        await server.stop();
      }
    },
    120_000,
  );
});
