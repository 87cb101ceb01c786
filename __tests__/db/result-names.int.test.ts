import { directConnection, startDbGateway, tableName } from '../helpers/database';
import { connect } from '../helpers/gateway';

// Kysely's classes keep their real names in the bundle a realm runs, so results
// print as `InsertResult {…}` rather than a minifier's `rr {…}`.
describe("Kysely's result and builder classes keep their names", () => {
  test('in text mode and in JSON mode', async () => {
    const table = tableName('names');
    const direct = await directConnection();
    await direct.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, v INT)`);
    const gateway = await startDbGateway();
    const text = await connect(gateway, { json: false });
    await text.next();
    expect(await text.line(`await db.insertInto('${table}').values({ id: 1, v: 1 }).execute()`)).toMatch(
      /^\[ InsertResult \{/,
    );
    expect(await text.line(`await db.updateTable('${table}').set({ v: 2 }).execute()`)).toMatch(/^\[ UpdateResult \{/);
    expect(await text.line(`await db.deleteFrom('${table}').execute()`)).toMatch(/^\[ DeleteResult \{/);
    expect(await text.line(`db.selectFrom('${table}')`)).toBe('SelectQueryBuilderImpl {}');
    await text.line('.rollback');

    const json = await connect(gateway);
    await json.next();
    const frame = await json.eval(`(await db.insertInto('${table}').values({ id: 2, v: 2 }).execute())[0]`);
    expect(frame).toMatchObject({ type: 'result' });
    expect(JSON.stringify(frame.value)).toContain('"class":"InsertResult"');
    await json.request({ op: 'rollback' });
  });
});
