import { directConnection, startDbGateway, tableName } from '../helpers/database';
import { connect } from '../helpers/gateway';

describe('parameters and column values (docs/protocol.md, "Database values")', () => {
  test('plain objects and arrays travel as JSON text; other objects are refused; JSON columns arrive exact', async () => {
    const table = tableName('vals');
    const direct = await directConnection();
    await direct.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, doc JSON, note TEXT, at DATETIME(6))`);
    const gateway = await startDbGateway({}, { executors: { count: 1 } });
    const client = await connect(gateway);
    await client.next();
    expect(
      await client.eval(`await db.insertInto('${table}').values([
        { id: 1, doc: { a: [1, 2], s: 'x' }, note: [1, 'two'] },
        { id: 2, doc: sql\`'{"n": 12345678901234567890.5}'\` },
      ]).execute(); await db.commit(); 1`),
    ).toMatchObject({ type: 'result' });
    const [rows] = await direct.query(`SELECT id, note, JSON_EXTRACT(doc, '$.a[1]') AS a FROM ${table} ORDER BY id`);
    expect(rows).toEqual([
      { id: 1, note: '[1,"two"]', a: 2 },
      { id: 2, note: null, a: null },
    ]);
    // Exact text, not a parsed number that lost digits.
    expect(
      await client.eval(`(await db.selectFrom('${table}').select('doc').where('id', '=', 2).execute())[0].doc`),
    ).toMatchObject({ type: 'result', value: expect.stringContaining('12345678901234567890.5') });
    for (const value of ['new Map([[1, 2]])', 'new Set([1])', '{ big: 1n }']) {
      const reply = await client.eval(`await db.insertInto('${table}').values({ id: 3, note: ${value} }).execute()`);
      expect({ value, reply }).toMatchObject({
        value,
        reply: { type: 'error', error: { code: 'DB_REFUSED', message: expect.stringContaining('parameter 2') } },
      });
    }
    const [none] = await direct.query(`SELECT id FROM ${table} WHERE id = 3`);
    expect(none).toEqual([]);
  });

  test('parameters travel as prepared-statement values: typed as meant, never in the process list', async () => {
    const table = tableName('ps');
    const direct = await directConnection();
    await direct.query(
      `CREATE TABLE ${table} (id BIGINT PRIMARY KEY, flag BOOLEAN, at DATETIME(3), amount DECIMAL(12,2), bytes BLOB)`,
    );
    const gateway = await startDbGateway({}, { executors: { count: 1 } });
    const client = await connect(gateway);
    await client.next();
    const reply = await client.eval(`
      await db.insertInto('${table}').values([
        { id: 9007199254740993n, flag: true, at: new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)), amount: 0.1, bytes: new Uint8Array([0, 255]) },
        { id: 2, flag: false, at: null, amount: '12345678.91', bytes: null },
      ]).execute();
      const rows = await db.selectFrom('${table}').selectAll().orderBy('id').limit(5).offset(0).execute();
      const one = await db.selectFrom('${table}').select('id').where('id', '=', 2).where('amount', '>', 1.5).execute();
      [rows.map((r) => [typeof r.id, String(r.id), r.flag, r.at && r.at.toISOString(), r.amount, r.bytes && Array.from(r.bytes)]), one]`);
    expect(reply).toMatchObject({
      type: 'result',
      value: [
        [
          ['number', '2', 0, null, '12345678.91', null],
          ['bigint', '9007199254740993', 1, '2024-01-02T03:04:05.678Z', '0.10', [0, 255]],
        ],
        [{ id: 2 }],
      ],
    });
    // A running statement's parameter is not in the process list other sessions can read.
    client.send({
      op: 'eval',
      id: 'slow',
      code: `await sql\`SELECT SLEEP(3) AS s, \${'secret-value-${table}'} AS v\`.execute(db)`,
      timeoutMs: 20_000,
    });
    let info: string | undefined;
    for (let i = 0; i < 40 && info === undefined; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const [rows] = await direct.query(
        "SELECT INFO FROM information_schema.PROCESSLIST WHERE INFO LIKE '%SLEEP(3)%' AND ID <> CONNECTION_ID()",
      );
      info = (rows as Array<{ INFO: string }>)[0]?.INFO;
    }
    expect(info).toBeDefined();
    expect(info).not.toContain('secret-value');
    client.send({ op: 'interrupt', id: 'stop' });
    await client.until('error', 'slow');
  });

  test('DATETIME(6) arrives as a Date, to the millisecond (documented)', async () => {
    const table = tableName('micro');
    const direct = await directConnection();
    await direct.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, at DATETIME(6))`);
    await direct.query(`INSERT INTO ${table} VALUES (1, '2024-05-06 07:08:09.123456')`);
    const gateway = await startDbGateway({}, { executors: { count: 1 } });
    const client = await connect(gateway);
    await client.next();
    expect(
      await client.eval(
        `const [row] = await db.selectFrom('${table}').select(['at', sql\`DATE_FORMAT(at, '%f')\`.as('micro')]).execute(); [row.at.toISOString(), row.micro]`,
      ),
    ).toMatchObject({ type: 'result', value: ['2024-05-06T07:08:09.123Z', '123456'] });
  });
});
