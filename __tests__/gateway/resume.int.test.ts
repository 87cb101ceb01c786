import { SignJWT } from 'jose';
import { directConnection, startDbGateway, tableName } from '../helpers/database';
import { connect, type Frame, startTestGateway, type TestClient } from '../helpers/gateway';

/** Drops the socket the way a network does: no close frame. */
async function drop(client: TestClient): Promise<void> {
  client.ws.terminate();
  await client.closed;
}

/** Resumes with the token of `hello` or of the last `resumed` frame (each resume issues a new one). */
async function resume(url: string, from: Frame, last: number, headers?: Record<string, string>): Promise<TestClient> {
  const token = (from.resume as { token: string }).token;
  return connect(url, { path: `/?resume=${encodeURIComponent(token)}&last=${last}`, ...(headers ? { headers } : {}) });
}

/** Frames until (and including) the terminal one for `id`. */
async function untilTerminal(client: TestClient, id: string): Promise<Frame[]> {
  const frames: Frame[] = [];
  for (;;) {
    const frame = await client.next(10_000);
    frames.push(frame);
    if (frame.id === id && frame.type !== 'log') return frames;
  }
}

describe('resuming a session after a dropped socket', () => {
  test('hello carries a token; frames are numbered consecutively', async () => {
    const gateway = await startTestGateway();
    const client = await connect(gateway);
    const hello = await client.next();
    expect(hello).toMatchObject({
      type: 'hello',
      resume: { token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), graceMs: 30000 },
    });
    await client.eval('console.log(1); console.log(2); 3');
    expect(client.seqs).toEqual([0, 1, 2, 3]);
  });

  test('a drop mid-eval: the same session, and the missed frames in order, exactly once', async () => {
    const gateway = await startTestGateway();
    const first = await connect(gateway);
    const hello = await first.next();
    await first.eval('let kept = "bindings survive"');
    first.send({
      op: 'eval',
      id: 'slow',
      code: 'for (let i = 0; i < 5; i++) { console.log("tick " + i); await new Promise((r) => setTimeout(r, 40)) } "done"',
      timeoutMs: 10_000,
    });
    expect((await first.next()).text).toBe('tick 0');
    const last = first.lastSeq;
    await drop(first);
    await new Promise((r) => setTimeout(r, 150)); // frames produced while detached
    const second = await resume(gateway.url, hello, last);
    const resumed = await second.next();
    expect(resumed).toMatchObject({ type: 'resumed', session: hello.session });
    const frames = await untilTerminal(second, 'slow');
    expect(frames.map((f) => (f.type === 'log' ? f.text : f.value))).toEqual([
      'tick 1',
      'tick 2',
      'tick 3',
      'tick 4',
      'done',
    ]);
    expect(second.seqs.slice(1)).toEqual([last + 1, last + 2, last + 3, last + 4, last + 5]);
    expect(resumed.replayed).toBeGreaterThanOrEqual(1);
    expect(await second.eval('kept')).toMatchObject({ value: 'bindings survive' });
  });

  test('a drop while output streams loses nothing and duplicates nothing', async () => {
    const gateway = await startTestGateway();
    let client = await connect(gateway);
    let latest = await client.next();
    client.send({
      op: 'eval',
      id: 'stream',
      code: 'for (let i = 0; i < 300; i++) { console.log(String(i)); if (i % 20 === 0) await new Promise((r) => setTimeout(r, 5)) } 300',
      timeoutMs: 10_000,
    });
    const seen: string[] = [];
    const text = (f: Frame) => String(f.type === 'log' ? f.text : f.value);
    for (let drops = 0; drops < 3 && !seen.includes('300'); drops++) {
      seen.push(text(await client.next()));
      await drop(client);
      // Whatever arrived before the drop counts; the rest must be replayed.
      for (const frame of client.drain()) seen.push(text(frame));
      client = await resume(gateway.url, latest, client.lastSeq);
      latest = await client.next();
      expect(latest).toMatchObject({ type: 'resumed' });
    }
    if (!seen.includes('300')) for (const frame of await untilTerminal(client, 'stream')) seen.push(text(frame));
    expect(seen).toEqual([...Array.from({ length: 300 }, (_, i) => String(i)), '300']);
  });

  test('a drop mid-transaction keeps the transaction', async () => {
    const table = tableName('resume');
    const direct = await directConnection();
    await direct.query(`CREATE TABLE ${table} (id INT PRIMARY KEY)`);
    const gateway = await startDbGateway();
    const first = await connect(gateway);
    const hello = await first.next();
    await first.eval(`await db.insertInto('${table}').values({ id: 1 }).execute()`);
    await drop(first);
    const second = await resume(gateway.url, hello, first.lastSeq);
    await second.next();
    expect(await second.eval(`(await db.selectFrom('${table}').selectAll().execute()).length`)).toMatchObject({
      value: 1,
    });
    expect((await second.request({ op: 'commit' })).frame).toMatchObject({ type: 'ok' });
    const [rows] = await direct.query(`SELECT id FROM ${table}`);
    expect(rows).toEqual([{ id: 1 }]);
  });

  test('a token works once per attachment', async () => {
    const gateway = await startTestGateway();
    const first = await connect(gateway);
    const hello = await first.next();
    const intruder = await resume(gateway.url, hello, 0);
    expect(await intruder.closed).toEqual({ code: 4409, reason: 'session is attached to another connection' });
    expect(await first.eval('"still mine"')).toMatchObject({ value: 'still mine' });
    await drop(first);
    const back = await resume(gateway.url, hello, first.lastSeq);
    const resumed = await back.next();
    expect(resumed).toMatchObject({ type: 'resumed' });
    const second = await resume(gateway.url, resumed, first.lastSeq);
    expect((await second.closed).code).toBe(4409);
  });

  test('after the grace period the session is closed and rolled back', async () => {
    const table = tableName('grace');
    const direct = await directConnection();
    await direct.query(`CREATE TABLE ${table} (id INT PRIMARY KEY)`);
    const gateway = await startDbGateway({}, { limits: { resumeGraceMs: 200 } });
    const first = await connect(gateway);
    const hello = await first.next();
    await first.eval(`await db.insertInto('${table}').values({ id: 1 }).execute()`);
    await drop(first);
    await new Promise((r) => setTimeout(r, 500));
    expect(gateway.sessions.size).toBe(0);
    expect(gateway.database.pool?.bound).toBe(0);
    const late = await resume(gateway.url, hello, first.lastSeq);
    expect(await late.closed).toEqual({ code: 4404, reason: 'no such session' });
    const [rows] = await direct.query(`SELECT id FROM ${table}`);
    expect(rows).toEqual([]);
  });

  test('output beyond the buffer while detached ends the session, said plainly on the next attempt', async () => {
    const gateway = await startTestGateway({ limits: { resumeBufferBytes: 20_000 } });
    const first = await connect(gateway);
    const hello = await first.next();
    first.send({
      op: 'eval',
      id: 'flood',
      code: 'await new Promise((r) => setTimeout(r, 100)); for (let i = 0; i < 500; i++) console.log("x".repeat(100))',
      timeoutMs: 10_000,
    });
    await drop(first);
    await new Promise((r) => setTimeout(r, 400));
    const late = await resume(gateway.url, hello, first.lastSeq);
    expect(await late.closed).toEqual({ code: 4410, reason: 'session ended: output buffer overflowed while detached' });
  });

  test('a client that closes normally ends its session; text mode does not resume', async () => {
    const gateway = await startTestGateway();
    const client = await connect(gateway);
    const hello = await client.next();
    client.ws.close(1000);
    await client.closed;
    await new Promise((r) => setTimeout(r, 50));
    expect(gateway.sessions.size).toBe(0);
    expect((await (await resume(gateway.url, hello, 0)).closed).code).toBe(4404);
    const text = await connect(gateway, { json: false });
    await text.next();
    await drop(text);
    await new Promise((r) => setTimeout(r, 50));
    expect(gateway.sessions.size).toBe(0);
  });

  test('the token is bound to the authenticated user', async () => {
    const secret = 'resume-test-secret-of-sufficient-length';
    const key = new TextEncoder().encode(secret);
    const gateway = await startTestGateway({ auth: { jwt: { secret } } });
    const token = (sub: string) =>
      new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setExpirationTime('10m').sign(key);
    const alice = { authorization: `Bearer ${await token('alice')}` };
    const first = await connect(gateway, { headers: alice });
    const hello = await first.next();
    await drop(first);
    const mallory = await resume(gateway.url, hello, 0, { authorization: `Bearer ${await token('mallory')}` });
    expect((await mallory.closed).code).toBe(4403);
    const back = await resume(gateway.url, hello, first.lastSeq, alice);
    expect(await back.next()).toMatchObject({ type: 'resumed' });
  });
});

describe('resume tokens: bound and rotated', () => {
  test('a static-token session cannot be resumed with another token', async () => {
    const gateway = await startTestGateway({ auth: { tokens: ['token-of-alice', 'token-of-bob'] } });
    const alice = { authorization: 'Bearer token-of-alice' };
    const first = await connect(gateway, { headers: alice });
    const hello = await first.next();
    await first.eval('let secret = 42');
    await drop(first);
    const bob = await resume(gateway.url, hello, first.lastSeq, { authorization: 'Bearer token-of-bob' });
    expect(await bob.closed).toEqual({ code: 4403, reason: 'the session belongs to another user' });
    const back = await resume(gateway.url, hello, first.lastSeq, alice);
    expect(await back.next()).toMatchObject({ type: 'resumed', session: hello.session });
    expect(await back.eval('secret')).toMatchObject({ value: 42 });
  });

  test('every resume issues a new token and the one used stops working', async () => {
    const gateway = await startTestGateway();
    const first = await connect(gateway);
    const hello = await first.next();
    await drop(first);
    const second = await resume(gateway.url, hello, first.lastSeq);
    const resumed = await second.next();
    const token = (frame: Frame) => (frame.resume as { token: string }).token;
    expect(resumed).toMatchObject({
      type: 'resumed',
      resume: { token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), graceMs: 30000 },
    });
    expect(token(resumed)).not.toBe(token(hello));
    await drop(second);
    // A token seen once (a log, a shoulder) is worth nothing after its resume.
    const stale = await resume(gateway.url, hello, second.lastSeq);
    expect(await stale.closed).toEqual({ code: 4404, reason: 'no such session' });
    const third = await resume(gateway.url, resumed, second.lastSeq);
    const again = await third.next();
    expect(again).toMatchObject({ type: 'resumed', session: hello.session });
    expect(token(again)).not.toBe(token(resumed));
    expect(await third.eval('1 + 1')).toMatchObject({ value: 2 });
  });
});

describe('resume tokens behind a proxy', () => {
  test('a gateway id prefixes the token, and the whole token still resumes', async () => {
    const gateway = await startTestGateway({ gatewayId: 'gw-7' });
    const first = await connect(gateway);
    const hello = await first.next();
    expect((hello.resume as { token: string }).token).toMatch(/^gw-7\.[A-Za-z0-9_-]{43}$/);
    await drop(first);
    const back = await resume(gateway.url, hello, first.lastSeq);
    expect(await back.next()).toMatchObject({
      type: 'resumed',
      resume: { token: expect.stringMatching(/^gw-7\.[A-Za-z0-9_-]{43}$/) },
    });
  });
});
