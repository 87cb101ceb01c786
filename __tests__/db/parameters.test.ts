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
