import net from 'node:net';
import { parseDatabaseUrl } from '../../db/database-url';
import { directConnection, startDbGateway, tableName, testDatabaseUrl } from '../helpers/database';
import { connect } from '../helpers/gateway';

/**
 * A TCP proxy in front of the test database that, once armed, lets the next
 * COMMIT reach the server and swallows the server's reply, then cuts the
 * connection: the gateway never learns whether the commit happened.
 */
class CommitReplyDropper {
  readonly server: net.Server;
  armed = false;
  readonly #sockets = new Set<net.Socket>();

  constructor() {
    const target = parseDatabaseUrl(testDatabaseUrl());
    this.server = net.createServer((client) => {
      const upstream = target.socketPath
        ? net.connect(target.socketPath)
        : net.connect(target.port ?? 3306, target.host ?? '127.0.0.1');
      this.#sockets.add(client).add(upstream);
      let pending = Buffer.alloc(0);
      let dropping = false;
      client.on('data', (chunk) => {
        upstream.write(chunk);
        pending = Buffer.concat([pending, chunk]);
        while (pending.length >= 4) {
          const length = pending.readUIntLE(0, 3);
          if (pending.length < 4 + length) break;
          const sequence = pending[3];
          const payload = pending.subarray(4, 4 + length);
          pending = pending.subarray(4 + length);
          // COM_QUERY (0x03) starting a command (sequence 0) with the text COMMIT.
          if (
            this.armed &&
            sequence === 0 &&
            payload[0] === 0x03 &&
            /^\s*commit\s*$/i.test(payload.toString('utf8', 1))
          ) {
            this.armed = false;
            dropping = true;
          }
        }
      });
      upstream.on('data', (chunk) => {
        if (!dropping) {
          client.write(chunk);
          return;
        }
        // The server answered the COMMIT: the client never hears it.
        client.destroy();
        upstream.destroy();
      });
      const end = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as net.AddressInfo;
    const target = parseDatabaseUrl(testDatabaseUrl());
    const auth = `${encodeURIComponent(target.user)}${target.password !== undefined ? `:${encodeURIComponent(target.password)}` : ''}`;
    return `mysql://${auth}@127.0.0.1:${port}/${encodeURIComponent(target.database ?? '')}`;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const proxies: CommitReplyDropper[] = [];
afterAll(async () => {
  await Promise.all(proxies.map((p) => p.close()));
});

describe('a commit whose reply never arrives', () => {
  test.each(['op', 'db.commit()'])('is DB_OUTCOME_UNKNOWN (%s), and nothing later claims a rollback', async (how) => {
    const table = tableName('lost');
    const direct = await directConnection();
    await direct.query(`CREATE TABLE ${table} (id INT PRIMARY KEY)`);
    const proxy = new CommitReplyDropper();
    proxies.push(proxy);
    const url = await proxy.listen();
    const gateway = await startDbGateway({ url, poolSize: 1 }, { executors: { count: 1 } });
    const client = await connect(gateway);
    await client.next();
    expect(await client.eval(`await db.insertInto('${table}').values({ id: 1 }).execute(); 1`)).toMatchObject({
      type: 'result',
    });
    proxy.armed = true;
    const committed =
      how === 'op' ? (await client.request({ op: 'commit' })).frame : await client.eval('await db.commit()');
    expect(committed).toMatchObject({
      type: 'error',
      error: { code: 'DB_OUTCOME_UNKNOWN', message: expect.stringContaining('may or may not') },
    });
    // It did commit (the server answered): the gateway said "unknown", not "rolled back".
    const [rows] = await direct.query(`SELECT id FROM ${table}`);
    expect(rows).toEqual([{ id: 1 }]);
    const next = await client.request({ op: 'eval', code: '(await sql`SELECT 2 AS n`.execute(db)).rows[0].n' });
    expect(next.frame).toMatchObject({ type: 'result', value: 2 });
    expect(next.logs.filter((log) => /rolled back/.test(String(log.text)))).toEqual([]);
    expect((await client.request({ op: 'rollback' })).frame).toMatchObject({ type: 'ok' });
  });
});
