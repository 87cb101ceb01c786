import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SignJWT } from 'jose';
import mysql from 'mysql2/promise';
import { optionsFromFlags } from '../../bin/serve-command';
import { parseAccounts } from '../../db/accounts';
import { parseDatabaseUrl } from '../../db/database-url';
import { directConnection, startDbGateway, testDatabaseUrl } from '../helpers/database';
import { connect, type TestClient } from '../helpers/gateway';

const SECRET = 'db-accounts-test-secret-of-sufficient-length';
const target = parseDatabaseUrl(testDatabaseUrl());
const suffix = randomBytes(3).toString('hex');
const accounts = {
  alice: { user: `vm_alice_${suffix}`, password: `pa-${suffix}` },
  bob: { user: `vm_bob_${suffix}`, password: `pb-${suffix}` },
};
const HOST = target.socketPath ? 'localhost' : '%';

beforeAll(async () => {
  const direct = await directConnection();
  for (const account of Object.values(accounts)) {
    await direct.query(`CREATE USER '${account.user}'@'${HOST}' IDENTIFIED BY '${account.password}'`);
    await direct.query(`GRANT ALL ON \`${target.database}\`.* TO '${account.user}'@'${HOST}'`);
  }
});

afterAll(async () => {
  const direct = await directConnection();
  for (const account of Object.values(accounts)) await direct.query(`DROP USER IF EXISTS '${account.user}'@'${HOST}'`);
});

async function as(gateway: Awaited<ReturnType<typeof startDbGateway>>, sub: string): Promise<TestClient> {
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime('10m')
    .sign(new TextEncoder().encode(SECRET));
  const client = await connect(gateway, { headers: { authorization: `Bearer ${token}` } });
  await client.next();
  return client;
}

async function value(client: TestClient, code: string): Promise<unknown> {
  const frame = await client.eval(code);
  if (frame.type !== 'result') throw new Error(`expected a result for ${code}, got ${JSON.stringify(frame)}`);
  return frame.value;
}

describe('identity-mapped database accounts', () => {
  test('each user runs as its own account: sees only its own threads, cannot kill another user’s', async () => {
    const gateway = await startDbGateway(
      { accounts: parseAccounts(JSON.stringify(accounts)), accountPoolSize: 2 },
      { auth: { jwt: { secret: SECRET } }, executors: { count: 1 } },
    );
    const alice = await as(gateway, 'alice');
    const bob = await as(gateway, 'bob');
    const who = '(await sql`SELECT CURRENT_USER() AS u, CONNECTION_ID() AS id`.execute(db)).rows[0]';
    const a = (await value(alice, who)) as { u: string; id: number };
    const b = (await value(bob, who)) as { u: string; id: number };
    expect(a.u).toBe(`${accounts.alice.user}@${HOST}`);
    expect(b.u).toBe(`${accounts.bob.user}@${HOST}`);
    // The process list alice can read holds only her own account's threads.
    const users = await value(
      alice,
      '(await sql`SELECT DISTINCT USER AS u FROM information_schema.PROCESSLIST`.execute(db)).rows.map((r) => r.u)',
    );
    expect(users).toEqual([accounts.alice.user]);
    // KILL is refused in a session; and the server itself would not let alice's account kill bob's thread.
    expect(await alice.eval(`await sql.raw('KILL ${b.id}').execute(db)`)).toMatchObject({
      error: { code: 'DB_REFUSED' },
    });
    const asAlice = await mysql.createConnection({
      ...(target.socketPath ? { socketPath: target.socketPath } : { host: target.host, port: target.port }),
      user: accounts.alice.user,
      password: accounts.alice.password,
    });
    try {
      await expect(asAlice.query(`KILL ${b.id}`)).rejects.toMatchObject({ errno: 1095 });
    } finally {
      await asAlice.end();
    }
    expect(await value(bob, '(await sql`SELECT 1 AS one`.execute(db)).rows[0].one')).toBe(1);
  });

  test('a session with no mapped account gets DB_UNAVAILABLE, and keeps working without db', async () => {
    const gateway = await startDbGateway(
      { accounts: parseAccounts(JSON.stringify(accounts)) },
      { auth: { jwt: { secret: SECRET } }, executors: { count: 1 } },
    );
    const carol = await as(gateway, 'carol');
    expect(await carol.eval('await sql`SELECT 1`.execute(db)')).toMatchObject({
      type: 'error',
      error: { code: 'DB_UNAVAILABLE', message: expect.stringContaining('"carol"') },
    });
    expect(await value(carol, '6 * 7')).toBe(42);
  });

  test('serve --db-accounts reads the file into the database options', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vmgate-accounts-'));
    const file = path.join(dir, 'accounts.json');
    writeFileSync(file, JSON.stringify({ alice: { user: 'app_alice', password: 'x' } }));
    const options = optionsFromFlags({
      databaseUrl: 'mysql://root@127.0.0.1:3306/app',
      dbAccounts: file,
      dbAccountPoolSize: 3,
      host: '127.0.0.1',
      port: 0,
    });
    expect(options.database).toMatchObject({
      mode: 'url',
      accounts: { alice: { user: 'app_alice', password: 'x' } },
      accountPoolSize: 3,
    });
    writeFileSync(file, '{"alice": {}}');
    expect(() =>
      optionsFromFlags({ databaseUrl: 'mysql://root@h/app', dbAccounts: file, host: '127.0.0.1', port: 0 }),
    ).toThrow(/--db-accounts: entry "alice" needs a non-empty "user"/);
  });

  test('the accounts file is checked', () => {
    expect(() => parseAccounts('[]')).toThrow(/expected an object/);
    expect(() => parseAccounts('{"a": {"password": "x"}}')).toThrow(/needs a non-empty "user"/);
    expect(() => parseAccounts('{')).toThrow(/not valid JSON/);
    expect(parseAccounts('{"a": {"user": "u"}}')).toEqual({ a: { user: 'u' } });
  });
});
