import { parseDatabaseUrl } from '../../db/database-url';
import { directConnection, startDbGateway, tableName, testDatabaseUrl, threadCount } from '../helpers/database';
import { connect } from '../helpers/gateway';

const DB = parseDatabaseUrl(testDatabaseUrl()).database ?? '';

async function setup(table: string) {
  const direct = await directConnection();
  await direct.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, name VARCHAR(40))`);
  return direct;
}

async function rows(direct: Awaited<ReturnType<typeof directConnection>>, table: string): Promise<number[]> {
  const [result] = await direct.query(`SELECT id FROM ${table} ORDER BY id`);
  return (result as Array<{ id: number }>).map((r) => r.id);
}

describe('a session is a database session', () => {
  test('the newcomer flow: uncommitted rows are invisible to others until commit', async () => {
    const table = tableName('iso');
    const direct = await setup(table);
    const gateway = await startDbGateway();
    const a = await connect(gateway);
    const b = await connect(gateway);
    await a.next();
    await b.next();
    expect(
      await a.eval(`await db.insertInto('${table}').values({ id: 1, name: 'x' }).execute(); 'inserted'`),
    ).toMatchObject({ value: 'inserted' });
    expect(await a.eval(`(await db.selectFrom('${table}').selectAll().execute()).length`)).toMatchObject({ value: 1 });
    expect(await b.eval(`(await db.selectFrom('${table}').selectAll().execute()).length`)).toMatchObject({ value: 0 });
    expect(await rows(direct, table)).toEqual([]);
    expect((await a.request({ op: 'commit' })).frame).toMatchObject({ type: 'ok' });
    expect(await rows(direct, table)).toEqual([1]);
    // b's snapshot is from its own transaction: it sees the row once it ends it.
    await b.request({ op: 'rollback' });
    expect(await b.eval(`await db.selectFrom('${table}').selectAll().execute()`)).toMatchObject({
      value: [{ id: 1, name: 'x' }],
    });
  });

  test('rollback (op, db.rollback(), text command) and commit from code', async () => {
    const table = tableName('rb');
    const direct = await setup(table);
    const gateway = await startDbGateway();
    const client = await connect(gateway);
    await client.next();
    await client.eval(`await db.insertInto('${table}').values({ id: 1 }).execute()`);
    expect((await client.request({ op: 'rollback' })).frame).toMatchObject({ type: 'ok' });
    await client.eval(`await db.insertInto('${table}').values({ id: 2 }).execute(); await db.rollback()`);
    await client.eval(`await db.insertInto('${table}').values({ id: 3 }).execute(); await db.commit()`);
    expect(await rows(direct, table)).toEqual([3]);
    const text = await connect(gateway, { json: false });
    await text.next();
    await text.line(`await db.insertInto('${table}').values({ id: 4 }).execute()`);
    expect(await text.line('.rollback')).toBe('ok');
    await text.line(`await db.insertInto('${table}').values({ id: 5 }).execute()`);
    expect(await text.line('.commit')).toBe('ok');
    expect(await rows(direct, table)).toEqual([3, 5]);
  });

  test('savepoints and nested db.transaction() never commit the session transaction', async () => {
    const table = tableName('sp');
    const direct = await setup(table);
    const gateway = await startDbGateway();
    const client = await connect(gateway);
    await client.next();
    const reply = await client.eval(`
      await db.insertInto('${table}').values({ id: 1 }).execute();
      await db.savepoint('before_two');
      await db.insertInto('${table}').values({ id: 2 }).execute();
      await db.rollbackToSavepoint('before_two');
      await db.releaseSavepoint('before_two');
      const inner = await db.transaction().execute(async (trx) => {
        await trx.insertInto('${table}').values({ id: 3 }).execute();
        return 'inner done';
      });
      const failed = await db.transaction().execute(async (trx) => {
        await trx.insertInto('${table}').values({ id: 4 }).execute();
        throw new Error('undo 4');
      }).catch((e) => e.message);
      [inner, failed, (await db.selectFrom('${table}').select('id').orderBy('id').execute()).map((r) => r.id)]`);
    expect(reply).toMatchObject({ type: 'result', value: ['inner done', 'undo 4', [1, 3]] });
    // Nothing is visible outside: the nested "commit" was a RELEASE SAVEPOINT.
    expect(await rows(direct, table)).toEqual([]);
    await client.request({ op: 'commit' });
    expect(await rows(direct, table)).toEqual([1, 3]);
    expect((await client.eval('await db.savepoint("bad name; drop")')).error).toMatchObject({
      code: 'UNCAUGHT',
      name: 'TypeError',
    });
  });

  test('disconnecting rolls the open transaction back and returns the connection', async () => {
    const table = tableName('dc');
    const direct = await setup(table);
    const gateway = await startDbGateway();
    const client = await connect(gateway);
    await client.next();
    await client.eval(`await db.insertInto('${table}').values({ id: 1 }).execute()`);
    client.ws.close();
    await client.closed;
    for (let i = 0; i < 100 && gateway.database.pool?.bound; i++) await new Promise((r) => setTimeout(r, 20));
    expect(gateway.database.pool?.bound).toBe(0);
    expect(await rows(direct, table)).toEqual([]);
  });

  test('a duplicate key is DB_ERROR with errno 1062, and the session goes on', async () => {
    const table = tableName('dup');
    await setup(table);
    const gateway = await startDbGateway();
    const client = await connect(gateway);
    await client.next();
    await client.eval(`await db.insertInto('${table}').values({ id: 1 }).execute()`);
    const reply = await client.eval(`await db.insertInto('${table}').values({ id: 1 }).execute()`);
    expect(reply).toMatchObject({
      type: 'error',
      error: {
        code: 'DB_ERROR',
        errno: 1062,
        sqlState: '23000',
        sqlMessage: expect.stringContaining('Duplicate entry'),
        name: 'DatabaseError',
      },
    });
    const caught = await client.eval(
      `try { await db.insertInto('${table}').values({ id: 1 }).execute() } catch (e) { [e.code, e.errno] }`,
    );
    expect(caught).toMatchObject({ value: ['DB_ERROR', 1062] });
    expect(await client.eval(`(await db.selectFrom('${table}').selectAll().execute()).length`)).toMatchObject({
      value: 1,
    });
  });

  test('DDL commits implicitly: the session is told with a warning', async () => {
    const table = tableName('ddl');
    const direct = await setup(table);
    const gateway = await startDbGateway();
    const client = await connect(gateway);
    await client.next();
    await client.eval(`await db.insertInto('${table}').values({ id: 1 }).execute()`);
    const { frame, logs } = await client.request({
      op: 'eval',
      code: `await sql\`CREATE TABLE ${table}_b (x INT)\`.execute(db); 'ok'`,
    });
    expect(frame).toMatchObject({ type: 'result' });
    expect(logs).toEqual([
      expect.objectContaining({
        level: 'warn',
        text: expect.stringContaining('committed the open transaction implicitly'),
      }),
    ]);
    expect(await rows(direct, table)).toEqual([1]);
    await direct.query(`DROP TABLE ${table}_b`);
  });

  test('stats say where the time went', async () => {
    const table = tableName('stats');
    await setup(table);
    const gateway = await startDbGateway();
    const client = await connect(gateway);
    await client.next();
    const reply = await client.eval(
      `await sql\`SELECT SLEEP(0.1)\`.execute(db); await db.insertInto('${table}').values({ id: 1 }).execute(); 1`,
    );
    const stats = reply.stats as { ms: number; dbMs: number; queries: number; cpuMs: number; transactionMs: number };
    expect(stats.queries).toBe(2);
    expect(stats.dbMs).toBeGreaterThanOrEqual(90);
    expect(stats.ms).toBeGreaterThanOrEqual(stats.dbMs);
    expect(stats.cpuMs).toBeLessThan(stats.ms);
    // The insert opened a transaction: its age is in the stats until it ends.
    expect(stats.transactionMs).toBeGreaterThan(0);
    await client.request({ op: 'rollback' });
    expect(((await client.eval('1')).stats as { transactionMs: number }).transactionMs).toBe(0);
  });

  test('an idle open transaction is warned about, then rolled back; the session stays', async () => {
    const table = tableName('idle');
    const direct = await setup(table);
    const gateway = await startDbGateway({ idleTransactionMs: 400 });
    const client = await connect(gateway);
    await client.next();
    await client.eval(`await db.insertInto('${table}').values({ id: 1 }).execute()`);
    const warning = await client.until('log');
    expect(warning.frame).toMatchObject({ level: 'warn', text: expect.stringContaining('idle') });
    const notice = await client.until('log');
    expect(notice.frame).toMatchObject({ level: 'warn', text: expect.stringContaining('rolled back') });
    expect(await client.eval(`(await db.selectFrom('${table}').selectAll().execute()).length`)).toMatchObject({
      value: 0,
    });
    expect(await rows(direct, table)).toEqual([]);
  });

  test('200 concurrent sessions each insert and commit, over a pool of 20 (transaction pool mode)', async () => {
    const table = tableName('many');
    const direct = await setup(table);
    const gateway = await startDbGateway({ poolMode: 'transaction', poolSize: 20, acquireTimeoutMs: 30_000 });
    const clients = await Promise.all(Array.from({ length: 200 }, () => connect(gateway)));
    await Promise.all(clients.map((c) => c.next()));
    const replies = await Promise.all(
      clients.map((c, i) =>
        c.eval(`await db.insertInto('${table}').values({ id: ${i} }).execute(); await db.commit(); 'ok'`, {
          timeoutMs: 30_000,
        }),
      ),
    );
    expect(replies.filter((r) => r.type !== 'result')).toEqual([]);
    const [count] = await direct.query(`SELECT COUNT(*) AS n FROM ${table}`);
    expect(Number((count as Array<{ n: number }>)[0]?.n)).toBe(200);
    expect(gateway.database.pool?.bound).toBe(0);
  }, 60_000);

  test('no connection leaks: after the gateway closes, none of its threads remain and no transaction is open', async () => {
    const direct = await directConnection();
    const before = await threadCount(direct, DB);
    const gateway = await startDbGateway({ poolSize: 5 });
    const clients = await Promise.all(Array.from({ length: 5 }, () => connect(gateway)));
    await Promise.all(clients.map((c) => c.next()));
    await Promise.all(clients.map((c) => c.eval('await sql`SELECT 1`.execute(db)')));
    expect(await threadCount(direct, DB)).toBeGreaterThanOrEqual(before + 5);
    await gateway.close();
    for (let i = 0; i < 50 && (await threadCount(direct, DB)) > before; i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(await threadCount(direct, DB)).toBe(before);
  });
});
