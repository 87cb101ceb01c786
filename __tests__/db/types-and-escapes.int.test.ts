import { directConnection, startDbGateway, tableName } from '../helpers/database';
import { connect } from '../helpers/gateway';

describe('database values', () => {
  test('types are the same in both modes and round-trip as parameters', async () => {
    const table = tableName('types');
    const direct = await directConnection();
    await direct.query(
      `CREATE TABLE ${table} (id INT PRIMARY KEY, at DATETIME(3), ts TIMESTAMP(3) NULL, amount DECIMAL(12,2), small BIGINT, big BIGINT, data BLOB, doc JSON, note TEXT)`,
    );
    const gateway = await startDbGateway();
    const client = await connect(gateway);
    await client.next();
    const insert = await client.eval(`
      await db.insertInto('${table}').values({
        id: 1, at: new Date('2024-05-06T07:08:09.123Z'), ts: new Date(1000), amount: '1234.50', small: 42, big: 2n ** 62n,
        data: new Uint8Array([0, 1, 254, 255]), doc: JSON.stringify({ a: [1, 2] }), note: null,
      }).execute();
      const row = await db.selectFrom('${table}').selectAll().executeTakeFirstOrThrow();
      [row.at instanceof Date, row.at.toISOString(), row.ts.getTime(), row.amount, row.small, typeof row.big, row.big === 2n ** 62n,
       row.data instanceof Uint8Array, Array.from(row.data), typeof row.doc === 'string' ? JSON.parse(row.doc) : row.doc, row.note]`);
    expect(insert).toMatchObject({
      type: 'result',
      value: [
        true,
        '2024-05-06T07:08:09.123Z',
        1000,
        '1234.50',
        42,
        'bigint',
        true,
        true,
        [0, 1, 254, 255],
        { a: [1, 2] },
        null,
      ],
    });
    const json = await client.eval(`await db.selectFrom('${table}').select(['at', 'big', 'data', 'amount']).execute()`);
    expect(json.value).toEqual([
      {
        at: { $type: 'date', value: '2024-05-06T07:08:09.123Z' },
        big: { $type: 'bigint', value: '4611686018427387904' },
        data: { $type: 'bytes', kind: 'Uint8Array', value: 'AAH+/w==' },
        amount: '1234.50',
      },
    ]);
    await client.request({ op: 'commit' });
    const text = await connect(gateway, { json: false });
    await text.next();
    expect(await text.line(`(await db.selectFrom('${table}').select(['big', 'amount']).execute())[0]`)).toBe(
      "{ big: 4611686018427387904n, amount: '1234.50' }",
    );
  });

  test('insertId and affected rows come back as bigints, as Kysely reports them', async () => {
    const table = tableName('ids');
    const direct = await directConnection();
    await direct.query(`CREATE TABLE ${table} (id INT AUTO_INCREMENT PRIMARY KEY, v INT)`);
    const gateway = await startDbGateway();
    const client = await connect(gateway);
    await client.next();
    const reply = await client.eval(`
      const r = await db.insertInto('${table}').values([{ v: 1 }, { v: 2 }]).executeTakeFirst();
      const u = await db.updateTable('${table}').set({ v: 3 }).executeTakeFirst();
      [r.insertId, r.numInsertedOrUpdatedRows, u.numUpdatedRows]`);
    expect(reply.text).toBe('[ 1n, 2n, 2n ]');
  });
});

describe('escape attempts through db', () => {
  test('db, its builders, results and errors belong to the session realm', async () => {
    const table = tableName('esc');
    const direct = await directConnection();
    await direct.query(`CREATE TABLE ${table} (id INT PRIMARY KEY)`);
    const gateway = await startDbGateway();
    const client = await connect(gateway);
    await client.next();
    const reply = await client.eval(`
      const REALM = Object.prototype;
      const foreign = (x) => { if (x === null || (typeof x !== 'object' && typeof x !== 'function')) return false;
        let p = x; for (let i = 0; i < 1000; i++) { const n = Object.getPrototypeOf(p); if (n === null) return p !== REALM && p !== x; p = n } return true };
      const escaped = (x) => { try { return typeof x.constructor.constructor('return process')() === 'object' } catch { return false } };
      const seen = new Set(); const queue = [db, sql, db.selectFrom('${table}'), db.getExecutor()];
      await db.insertInto('${table}').values({ id: 1 }).execute();
      queue.push(await db.selectFrom('${table}').selectAll().execute());
      queue.push(await db.insertInto('${table}').values({ id: 2 }).executeTakeFirst());
      try { await sql\`SELECT * FROM no_such_table\`.execute(db) } catch (e) { queue.push(e) }
      try { await db.insertInto('${table}').values({ id: 1 }).execute() } catch (e) { queue.push(e) }
      const bad = [];
      while (queue.length > 0 && seen.size < 50000) {
        const o = queue.pop();
        if (o === null || (typeof o !== 'object' && typeof o !== 'function') || seen.has(o)) continue;
        seen.add(o);
        if (foreign(o) || escaped(o)) bad.push(Object.prototype.toString.call(o) + " " + (typeof o === "function" ? o.name : Reflect.ownKeys(o).slice(0, 5).map(String).join()));
        queue.push(Object.getPrototypeOf(o));
        for (const key of Reflect.ownKeys(o)) {
          const d = Object.getOwnPropertyDescriptor(o, key);
          if (!d) continue;
          if ('value' in d) queue.push(d.value); else queue.push(d.get, d.set);
        }
      }
      [bad, seen.size > 100, typeof process]`);
    expect(reply).toMatchObject({ type: 'result', value: [[], true, 'undefined'] });
  });

  test('SQL injection through values is not possible: parameters are escaped by the host', async () => {
    const table = tableName('inj');
    const direct = await directConnection();
    await direct.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, name VARCHAR(80))`);
    const gateway = await startDbGateway();
    const client = await connect(gateway);
    await client.next();
    const reply = await client.eval(`
      await db.insertInto('${table}').values({ id: 1, name: "x'); DROP TABLE ${table}; --" }).execute();
      (await db.selectFrom('${table}').select('name').execute())[0].name`);
    expect(reply).toMatchObject({ value: `x'); DROP TABLE ${table}; --` });
  });
});
