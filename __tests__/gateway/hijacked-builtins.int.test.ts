import { directConnection, startDbGateway, tableName } from '../helpers/database';
import { connect, type TestClient } from '../helpers/gateway';
import { ALL_TARGETS, hijackBuiltins } from '../helpers/hijack';

/**
 * The database side of __tests__/sandbox/hijacked-builtins.test.ts, through a
 * gateway: after user code replaces builtins, the realm's database driver,
 * row rendering and completion behave the same. Kysely itself is library code
 * evaluated in the realm and uses the builtins the session has at the time
 * (docs/security.md, "Realm code and replaced builtins").
 */

jest.setTimeout(90_000);

const TABLE = tableName('hijack');
// What Kysely's own code calls while building and running a query: replacing these breaks the
// user's query builder with the user's own error, nothing else.
const USED_BY_KYSELY = [
  '%ArrayIteratorPrototype%|next',
  'Array.prototype|[Symbol.iterator]',
  'Array.prototype|push',
  'Array.prototype|pop',
  'Array.prototype|map',
  'Array.prototype|includes',
  'String.prototype|split',
  'String.prototype|replace',
];
const ROWS = "[ { id: 1, name: 'one' }, { id: 2, name: 'two' } ]";

beforeAll(async () => {
  const c = await directConnection();
  await c.query(`CREATE TABLE ${TABLE} (id INT PRIMARY KEY, name VARCHAR(20))`);
  await c.query(`INSERT INTO ${TABLE} VALUES (1, 'one'), (2, 'two')`);
});
afterAll(async () => {
  const c = await directConnection();
  await c.query(`DROP TABLE IF EXISTS ${TABLE}`);
});

async function session(): Promise<TestClient> {
  const client = await connect(await startDbGateway());
  await client.next(); // hello
  // db is built (Kysely loaded) before the replacement, as a session would have used it.
  expect((await client.eval('typeof db.selectFrom')).value).toBe('function');
  return client;
}

async function names(client: TestClient, code: string): Promise<unknown> {
  return (await client.request({ op: 'complete', code })).frame.candidates;
}

describe('after user code replaces builtins, the database and completion behave the same', () => {
  test('db.selectFrom and sql rows render, with everything replaced that Kysely itself leaves alone', async () => {
    const client = await session();
    const targets = ALL_TARGETS.filter((t) => !USED_BY_KYSELY.includes(t));
    expect((await client.eval(hijackBuiltins(targets))).value).toBe('hijacked');

    const selected = await client.eval(`await db.selectFrom('${TABLE}').selectAll().orderBy('id').execute()`);
    expect(selected).toMatchObject({ type: 'result', text: ROWS });
    const raw = await client.eval(`(await sql\`SELECT id, name FROM ${TABLE} ORDER BY id\`.execute(db)).rows`);
    expect(raw).toMatchObject({ type: 'result', text: ROWS });
    expect(await client.eval('_.length')).toMatchObject({ value: 2 });
    const logged = await client.request({
      op: 'eval',
      code: `console.log(await db.selectFrom('${TABLE}').select('name').where('id', '=', 2).execute())`,
    });
    expect(logged.logs.map((l) => l.text)).toEqual(["[ { name: 'two' } ]"]);
    // A database error is still a DB_ERROR with its fields.
    expect(await client.eval('await sql`SELECT * FROM no_such_table_here`.execute(db)')).toMatchObject({
      type: 'error',
      error: { code: 'DB_ERROR' },
    });
  });

  test('with everything replaced, a query fails with the user’s own error; REPL and completion go on', async () => {
    const client = await session();
    await client.eval('const later = 1');
    expect((await client.eval(hijackBuiltins())).value).toBe('hijacked');

    const failed = await client.eval(`await db.selectFrom('${TABLE}').selectAll().execute()`);
    expect(failed).toMatchObject({ type: 'error', error: { code: 'UNCAUGHT' } });
    expect((failed.error as { message: string }).message).toMatch(/^hijacked /);

    expect(await client.eval('const later = 2; later')).toMatchObject({ value: 2 });
    expect(await names(client, 'lat')).toEqual(['later']);
    expect(await names(client, 'db.selectF')).toEqual(['selectFrom']);
    expect(await names(client, 'Math.P')).toEqual(['PI']);
    expect(await client.eval('({ list: [1, 2], when: new Date(0) })')).toMatchObject({
      text: '{ list: [ 1, 2 ], when: 1970-01-01T00:00:00.000Z }',
    });
  });
});
