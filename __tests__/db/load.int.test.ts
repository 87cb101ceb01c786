import type { PoolMode } from '../../db/pool';
import { directConnection, startDbGateway, tableName } from '../helpers/database';
import { connect, type Frame } from '../helpers/gateway';

/**
 * 50 sessions insert and commit for a few seconds over a pool far smaller
 * than the sessions, so connections change hands (and are reset) all the
 * time: the rows in the table are exactly the commits that were acknowledged.
 * (The 20 s run is `LOAD_SECONDS=20`.)
 */
const SESSIONS = 50;
const SECONDS = Number(process.env.LOAD_SECONDS ?? 3);

describe.each(['session', 'transaction'] as const)('load, pool mode %s', (poolMode: PoolMode) => {
  test(`${SESSIONS} sessions × insert+commit: rows = acknowledged commits`, async () => {
    const table = tableName('load');
    const direct = await directConnection();
    await direct.query(`CREATE TABLE ${table} (id INT PRIMARY KEY)`);
    const gateway = await startDbGateway(
      { poolMode, poolSize: 8, acquireTimeoutMs: 60_000 },
      { executors: { count: 1 } },
    );
    const deadline = Date.now() + SECONDS * 1000;
    let acknowledged = 0;
    const failures: Frame[] = [];
    const worker = async (w: number) => {
      let n = 0;
      while (Date.now() < deadline) {
        // Session mode hands a connection over when a session ends: sessions come and go.
        const client = await connect(gateway);
        await client.next();
        for (let i = 0; i < 5 && Date.now() < deadline; i++) {
          const id = w * 100_000 + n++;
          const reply = await client.eval(
            `await db.insertInto('${table}').values({ id: ${id} }).execute(); await db.commit(); 'ok'`,
            { timeoutMs: 60_000 },
          );
          if (reply.type === 'result') acknowledged++;
          else failures.push(reply);
        }
        client.ws.close();
        await client.closed;
      }
    };
    await Promise.all(Array.from({ length: SESSIONS }, (_, w) => worker(w)));
    const [rows] = await direct.query(`SELECT COUNT(*) AS n FROM ${table}`);
    expect(failures).toEqual([]);
    expect(acknowledged).toBeGreaterThan(SESSIONS);
    expect(Number((rows as Array<{ n: number }>)[0]?.n)).toBe(acknowledged);
  }, 120_000);
});
