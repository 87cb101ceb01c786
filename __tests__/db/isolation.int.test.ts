import { parseDatabaseUrl } from '../../db/database-url';
import type { PoolMode } from '../../db/pool';
import { directConnection, startDbGateway, tableName, testDatabaseUrl } from '../helpers/database';
import { connect, type Frame, type TestClient } from '../helpers/gateway';

/**
 * One executor and a pool of one connection: every session of the gateway
 * runs on the same server connection, one after the other, so anything a
 * session leaves on it would be seen by the next.
 */
async function sharedConnectionGateway(poolMode: PoolMode, acquireTimeoutMs = 10_000) {
  return startDbGateway({ poolMode, poolSize: 1, acquireTimeoutMs }, { executors: { count: 1 } });
}

async function session(gateway: Awaited<ReturnType<typeof sharedConnectionGateway>>): Promise<TestClient> {
  const client = await connect(gateway);
  await client.next();
  return client;
}

async function value(client: TestClient, code: string, timeoutMs = 15_000): Promise<unknown> {
  const frame = await client.eval(code, { timeoutMs });
  if (frame.type !== 'result') throw new Error(`expected a result for ${code}, got ${JSON.stringify(frame)}`);
  return frame.value;
}

async function openTransactions(threadId: number): Promise<number> {
  const direct = await directConnection();
  const [rows] = await direct.query(
    'SELECT COUNT(*) AS n FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = ?',
    [threadId],
  );
  return Number((rows as Array<{ n: number }>)[0]?.n);
}

async function ids(table: string): Promise<number[]> {
  const direct = await directConnection();
  const [rows] = await direct.query(`SELECT id FROM ${table} ORDER BY id`);
  return (rows as Array<{ id: number }>).map((r) => r.id);
}

async function createTable(table: string): Promise<void> {
  const direct = await directConnection();
  await direct.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, name VARCHAR(40))`);
}

/**
 * The number of transactions the server shows for a thread, once it is
 * `expected` or after a few seconds: a hand-over resets asynchronously, and
 * INNODB_TRX is a cache refreshed only when it has not been read for 100 ms.
 */
async function transactionsOn(threadId: number, expected: number): Promise<number> {
  let n = await openTransactions(threadId);
  for (let i = 0; i < 30 && n !== expected; i++) {
    await new Promise((r) => setTimeout(r, 150));
    n = await openTransactions(threadId);
  }
  return n;
}

const settled = (threadId: number) => transactionsOn(threadId, 0);

const DB = parseDatabaseUrl(testDatabaseUrl()).database;

const CONNECTION_ID = '(await sql`SELECT CONNECTION_ID() AS id`.execute(db)).rows[0].id';

describe.each(['session', 'transaction'] as const)('pool mode %s: nothing crosses sessions', (poolMode) => {
  test('state session A leaves on the connection is gone for session B', async () => {
    const table = tableName('leak');
    await createTable(table);
    const direct = await directConnection();
    await direct.query(`INSERT INTO ${table} VALUES (1, 'real')`);
    const gateway = await sharedConnectionGateway(poolMode);
    const a = await session(gateway);
    const threadA = await value(
      a,
      `await sql\`SET @leak = 42\`.execute(db);
       await sql\`SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE\`.execute(db);
       await sql\`SET SESSION sql_select_limit = 1\`.execute(db);
       await sql\`CREATE TEMPORARY TABLE ${table} (id INT PRIMARY KEY, name VARCHAR(40))\`.execute(db);
       await sql\`SELECT GET_LOCK('${table}', 0)\`.execute(db);
       await sql\`PREPARE leak_stmt FROM 'SELECT 1'\`.execute(db);
       await sql\`USE information_schema\`.execute(db);
       // Still all there within the session:
       const seen = (await sql\`SELECT @leak AS v\`.execute(db)).rows[0].v;
       if (seen !== 42) throw new Error('the variable did not hold within the eval: ' + seen);
       ${CONNECTION_ID}`,
    );
    if (poolMode === 'transaction') {
      expect((await a.request({ op: 'commit' })).frame).toMatchObject({ type: 'ok' });
    } else {
      a.ws.close();
      await a.closed;
    }
    const b = await session(gateway);
    const seen = await value(
      b,
      `const one = async (q) => Object.values((await q.execute(db)).rows[0] ?? {})[0];
       let prepared;
       try { await sql\`EXECUTE leak_stmt\`.execute(db); prepared = 'still there' } catch (e) { prepared = e.errno }
       [${CONNECTION_ID},
        await one(sql\`SELECT @leak\`),
        await one(sql\`SELECT @@SESSION.sql_select_limit < 1000\`),
        await one(sql\`SELECT COUNT(*) FROM ${table}\`),
        await one(sql\`SELECT IS_USED_LOCK('${table}') IS NULL\`),
        await one(sql\`SELECT @@SESSION.autocommit\`),
        await one(sql\`SELECT @@SESSION.time_zone\`),
        await one(sql\`SELECT DATABASE()\`),
        prepared]`,
    );
    // Same server connection, none of A's state: no variable, default settings,
    // the real table (not A's temporary one), the lock free, the URL's database, no prepared statement.
    expect(seen).toEqual([threadA, null, 0, 1, 1, 0, '+00:00', DB, 1243]);
    expect(await settled(threadA as number)).toBe(0);
  });

  test('transaction mode never hands over an open transaction; commit and rollback mean what they say', async () => {
    const table = tableName('hand');
    await createTable(table);
    const gateway = await sharedConnectionGateway(poolMode, 500);
    const a = await session(gateway);
    const b = await session(gateway);
    // CREATE TEMPORARY TABLE does not commit in MariaDB: the transaction stays open.
    const thread = (await value(
      a,
      `await db.insertInto('${table}').values({ id: 1 }).execute();
       await sql\`CREATE TEMPORARY TABLE ${table}_tmp (x INT)\`.execute(db);
       await db.savepoint('s1');
       await db.insertInto('${table}').values({ id: 2 }).execute();
       await db.rollbackToSavepoint('s1');
       ${CONNECTION_ID}`,
    )) as number;
    expect(await transactionsOn(thread, 1)).toBe(1);
    // B cannot get the connection while A's transaction is open: DB_BUSY.
    expect(await b.eval(`await db.selectFrom('${table}').selectAll().execute()`)).toMatchObject({
      type: 'error',
      error: { code: 'DB_BUSY' },
    });
    // A's commit is a commit: row 1, not row 2 (rolled back to the savepoint).
    expect((await a.request({ op: 'commit' })).frame).toMatchObject({ type: 'ok' });
    expect(await ids(table)).toEqual([1]);
    if (poolMode === 'session') {
      a.ws.close();
      await a.closed;
    }
    expect(await value(b, `(await db.selectFrom('${table}').select('id').execute()).map((r) => r.id)`)).toEqual([1]);
  });
});

describe('statements that would break the session contract', () => {
  test('are refused with DB_REFUSED and a reason; the session goes on', async () => {
    const gateway = await sharedConnectionGateway('session');
    const client = await session(gateway);
    const refused = [
      'SET autocommit = 1',
      'set @@session.autocommit=1',
      '/* comment */ SET SESSION autocommit = ON',
      '/*!40101 SET autocommit = 1 */',
      'SET @a = 1, autocommit = 1',
      "SET time_zone = '+09:00'",
      'SET NAMES latin1',
      'SET CHARACTER SET latin1',
      "SET sql_mode = 'NO_BACKSLASH_ESCAPES'",
      'SET STATEMENT max_statement_time = 0 FOR SELECT 1',
      'SET completion_type = 2',
      'LOCK TABLES information_schema.TABLES READ',
      'COMMIT AND CHAIN',
      'ROLLBACK RELEASE',
      'KILL 1',
      "XA START 'x'",
    ];
    for (const statement of refused) {
      const reply = await client.eval(`await sql.raw(${JSON.stringify(statement)}).execute(db)`);
      expect({ statement, reply }).toMatchObject({
        statement,
        reply: { type: 'error', error: { code: 'DB_REFUSED', message: expect.any(String) } },
      });
    }
    expect(await client.eval('await sql`SET @autocommit = 1`.execute(db); 1')).toMatchObject({ type: 'result' });
    expect(await value(client, '(await sql`SELECT @@autocommit AS a, @@time_zone AS z`.execute(db)).rows[0]')).toEqual({
      a: 0,
      z: '+00:00',
    });
  });

  test('what the text check cannot see (a procedure) is undone right after and told', async () => {
    const table = tableName('proc');
    await createTable(table);
    const direct = await directConnection();
    await direct.query(
      `CREATE PROCEDURE ${table}_p() BEGIN SET autocommit = 1; SET time_zone = '+09:00'; SET NAMES latin1; END`,
    );
    const gateway = await sharedConnectionGateway('session');
    const client = await session(gateway);
    await client.eval(`await db.insertInto('${table}').values({ id: 1 }).execute()`);
    const { frame, logs } = await client.request({
      op: 'eval',
      code: `await sql\`CALL ${table}_p()\`.execute(db);
        await db.insertInto('${table}').values({ id: 2 }).execute();
        (await sql\`SELECT @@autocommit AS a, @@time_zone AS z, @@character_set_client AS c\`.execute(db)).rows[0]`,
    });
    expect(frame).toMatchObject({ type: 'result', value: { a: 0, z: '+00:00', c: 'utf8mb4' } });
    const texts = logs.map((log) => String(log.text));
    // Turning autocommit on committed row 1: said, not silent.
    expect(texts).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^CALL turned autocommit on/),
        expect.stringMatching(/^CALL changed .*time_zone.*restored/),
      ]),
    );
    // Row 2 came after autocommit was off again: it waits for a commit.
    expect(await ids(table)).toEqual([1]);
    await client.request({ op: 'rollback' });
    expect(await ids(table)).toEqual([1]);
    await direct.query(`DROP PROCEDURE ${table}_p`);
  });

  test('COMMIT and ROLLBACK through sql are the session commit and rollback, and say so', async () => {
    const table = tableName('sqlc');
    await createTable(table);
    const gateway = await sharedConnectionGateway('transaction');
    const client = await session(gateway);
    const committed = await client.request({
      op: 'eval',
      code: `await db.insertInto('${table}').values({ id: 1 }).execute(); await sql\`COMMIT\`.execute(db); ${CONNECTION_ID}`,
    });
    expect(committed.logs).toEqual([
      expect.objectContaining({ level: 'info', text: expect.stringContaining('committed') }),
    ]);
    expect(await ids(table)).toEqual([1]);
    expect(await settled(committed.frame.value as number)).toBe(0);
    const rolledBack = await client.request({
      op: 'eval',
      code: `await db.insertInto('${table}').values({ id: 2 }).execute(); await sql\`rollback work\`.execute(db); 1`,
    });
    expect(rolledBack.logs).toEqual([
      expect.objectContaining({ level: 'info', text: expect.stringContaining('rolled back') }),
    ]);
    expect(await ids(table)).toEqual([1]);
  });

  test('START TRANSACTION works when nothing is pending, is refused over uncommitted changes, and keeps a reading transaction', async () => {
    const table = tableName('begin');
    await createTable(table);
    const gateway = await sharedConnectionGateway('session');
    const client = await session(gateway);
    expect(await client.eval('await sql`START TRANSACTION READ ONLY`.execute(db); 1')).toMatchObject({
      type: 'result',
    });
    await client.eval(`await db.selectFrom('${table}').selectAll().execute()`);
    // Begun explicitly: the reading transaction outlives its eval.
    expect((await client.eval('1')).stats).toMatchObject({ transactionMs: expect.any(Number) });
    expect(((await client.eval('1')).stats as { transactionMs: number }).transactionMs).toBeGreaterThan(0);
    await client.request({ op: 'rollback' });
    await client.eval(`await db.insertInto('${table}').values({ id: 1 }).execute()`);
    expect(await client.eval('await sql`BEGIN`.execute(db)')).toMatchObject({
      type: 'error',
      error: { code: 'DB_REFUSED', statement: 'BEGIN' },
    });
    expect(await ids(table)).toEqual([]);
  });

  test('an implicit commit is told, naming the statement, even behind a comment', async () => {
    const table = tableName('impl');
    await createTable(table);
    const gateway = await sharedConnectionGateway('session');
    const client = await session(gateway);
    await client.eval(`await db.insertInto('${table}').values({ id: 1 }).execute()`);
    const { logs } = await client.request({
      op: 'eval',
      code: `await sql\`/* why */ CREATE TABLE ${table}_b (x INT)\`.execute(db); 1`,
    });
    expect(logs).toEqual([
      expect.objectContaining({
        level: 'warn',
        text: expect.stringMatching(/^CREATE TABLE committed the open transaction/),
      }),
    ]);
    expect(await ids(table)).toEqual([1]);
    await (await directConnection()).query(`DROP TABLE ${table}_b`);
  });
});

describe('reads do not hold locks between evals', () => {
  test('a transaction that only read ends with its eval; one that wrote stays', async () => {
    const table = tableName('ro');
    await createTable(table);
    const gateway = await sharedConnectionGateway('session');
    const client = await session(gateway);
    const thread = (await value(
      client,
      `await db.selectFrom('${table}').selectAll().execute(); ${CONNECTION_ID}`,
    )) as number;
    expect(await settled(thread)).toBe(0);
    // Another client's DDL is not blocked by a metadata lock.
    const direct = await directConnection();
    await direct.query(`ALTER TABLE ${table} ADD COLUMN extra INT`);
    expect(await client.eval(`await db.insertInto('${table}').values({ id: 1 }).execute(); 1`)).toMatchObject({
      type: 'result',
      stats: { transactionMs: expect.any(Number) },
    });
    expect(await transactionsOn(thread, 1)).toBe(1);
    await client.request({ op: 'rollback' });
  });
});

describe('text mode', () => {
  test('tells once when an eval leaves uncommitted changes', async () => {
    const table = tableName('note');
    await createTable(table);
    const gateway = await sharedConnectionGateway('session');
    const text = await connect(gateway, { json: false });
    await text.next();
    const first = await text.line(`await db.insertInto('${table}').values({ id: 1 }).execute(); 'one'`);
    expect(first).toMatch(/^'one'\n\(this session has uncommitted changes: \.commit/);
    expect(await text.line(`await db.insertInto('${table}').values({ id: 2 }).execute(); 'two'`)).toBe("'two'");
    expect(await text.line('.commit')).toBe('ok');
    expect(await text.line(`await db.selectFrom('${table}').selectAll().execute(); 'read'`)).toBe("'read'");
    expect(await text.line(`await db.insertInto('${table}').values({ id: 3 }).execute(); 'three'`)).toMatch(
      /^'three'\n\(this session has uncommitted changes/,
    );
  });
});

describe('an ended eval leaves nothing behind', () => {
  const cases: Array<[string, (c: TestClient, id: string) => Promise<Frame>]> = [
    [
      'interrupt',
      async (c, id) => {
        await new Promise((r) => setTimeout(r, 300));
        c.send({ op: 'interrupt', id: 'stop' });
        return (await c.until('error', id)).frame;
      },
    ],
    ['TIMEOUT', async (c, id) => (await c.until('error', id)).frame],
  ];
  test.each(cases)('%s with statements queued behind a running one: none runs later', async (kind, end) => {
    const table = tableName('queued');
    await createTable(table);
    const gateway = await sharedConnectionGateway('session');
    const client = await session(gateway);
    client.send({
      op: 'eval',
      id: 'race',
      timeoutMs: kind === 'TIMEOUT' ? 700 : 30_000,
      code: `await Promise.all([
        sql\`SELECT SLEEP(5)\`.execute(db),
        db.insertInto('${table}').values({ id: 1 }).execute(),
        db.insertInto('${table}').values({ id: 2 }).execute(),
      ])`,
    });
    expect(await end(client, 'race')).toMatchObject({
      error: { code: kind === 'TIMEOUT' ? 'TIMEOUT' : 'INTERRUPTED' },
    });
    // The session goes on, and its commit commits nothing of the ended eval.
    expect(await value(client, '(await sql`SELECT 7 AS n`.execute(db)).rows[0].n')).toBe(7);
    expect((await client.request({ op: 'commit' })).frame).toMatchObject({ type: 'ok' });
    await new Promise((r) => setTimeout(r, 300));
    expect(await ids(table)).toEqual([]);
  });

  test('a wait for a connection ends with the eval: DB_BUSY before TIMEOUT, INTERRUPTED on interrupt, nothing later', async () => {
    const table = tableName('acq');
    await createTable(table);
    // The acquire timeout (10 s) is longer than the eval budget: the budget bounds the wait.
    const gateway = await sharedConnectionGateway('session');
    const holder = await session(gateway);
    await holder.eval('await sql`SELECT 1`.execute(db)');
    const waiter = await session(gateway);
    const busy = await waiter.eval(`await db.insertInto('${table}').values({ id: 1 }).execute()`, { timeoutMs: 1_000 });
    expect(busy).toMatchObject({ type: 'error', error: { code: 'DB_BUSY' } });
    waiter.send({
      op: 'eval',
      id: 'wait',
      timeoutMs: 30_000,
      code: `await db.insertInto('${table}').values({ id: 2 }).execute()`,
    });
    await new Promise((r) => setTimeout(r, 300));
    waiter.send({ op: 'interrupt', id: 'stop' });
    expect((await waiter.until('error', 'wait')).frame).toMatchObject({ error: { code: 'INTERRUPTED' } });
    // The connection frees up: neither abandoned insert runs on it.
    holder.ws.close();
    await holder.closed;
    expect(await value(waiter, '(await sql`SELECT 1 AS n`.execute(db)).rows[0].n')).toBe(1);
    expect((await waiter.request({ op: 'commit' })).frame).toMatchObject({ type: 'ok' });
    expect(await ids(table)).toEqual([]);
  });
});
