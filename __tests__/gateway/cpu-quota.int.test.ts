import { SignJWT } from 'jose';
import { connect, startTestGateway } from '../helpers/gateway';

/**
 * CPU quota per user (issue 11, item 3): evals of a user who used their
 * quota within the window are refused with QUOTA_EXCEEDED in every one of
 * their sessions, others are not, and the user runs again once the use has
 * slid out of the window. A session's queued evals hold a bounded budget.
 */

const SECRET = 'quota-secret-0123456789-0123456789';
const tokenFor = (sub: string) =>
  new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(SECRET));

async function sessionOf(url: string, sub: string) {
  const client = await connect(url, { headers: { authorization: `Bearer ${await tokenFor(sub)}` } });
  await client.next(); // hello
  return client;
}

describe('CPU quota per user', () => {
  test('a user past the quota gets QUOTA_EXCEEDED in all their sessions until it slides out of the window', async () => {
    const gateway = await startTestGateway({
      auth: { jwt: { secret: SECRET } },
      cpuQuota: { quotaMs: 300, windowMs: 2_000 },
    });
    const alice = await sessionOf(gateway.url, 'alice');
    const aliceToo = await sessionOf(gateway.url, 'alice');
    const bob = await sessionOf(gateway.url, 'bob');
    expect(await alice.eval('let kept = 1; kept')).toMatchObject({ type: 'result', value: 1 });
    expect(await alice.eval('for (;;) {}', { timeoutMs: 400 })).toMatchObject({ error: { code: 'TIMEOUT' } });

    const refused = await alice.eval('kept + 1');
    expect(refused).toMatchObject({ type: 'error', error: { code: 'QUOTA_EXCEEDED', quotaMs: 300, windowMs: 2_000 } });
    const retryAfterMs = (refused.error as { retryAfterMs: number }).retryAfterMs;
    expect(retryAfterMs).toBeGreaterThan(0);
    expect(retryAfterMs).toBeLessThanOrEqual(2_200);
    expect(await aliceToo.eval('1')).toMatchObject({ error: { code: 'QUOTA_EXCEEDED' } });
    expect(await bob.eval('1 + 1')).toMatchObject({ type: 'result', value: 2 });

    await new Promise((resolve) => setTimeout(resolve, retryAfterMs + 50));
    // Nothing was lost while refused.
    expect(await alice.eval('kept + 1')).toMatchObject({ type: 'result', value: 2 });
  });

  test('anonymous sessions share their address’s quota; text mode says so too', async () => {
    const gateway = await startTestGateway({ cpuQuota: { quotaMs: 200, windowMs: 5_000 } });
    const first = await connect(gateway);
    await first.next();
    const text = await connect(gateway, { json: false });
    await text.next(); // banner
    expect(await first.eval('for (;;) {}', { timeoutMs: 300 })).toMatchObject({ error: { code: 'TIMEOUT' } });
    expect(await text.line('1 + 1')).toMatch(/QUOTA_EXCEEDED|CPU quota used up/);
  });
});

describe('time budget a session may hold', () => {
  test('queued evals beyond it are refused with LIMIT; the session keeps working', async () => {
    const gateway = await startTestGateway({ session: { maxQueuedBudgetMs: 1_000, defaultTimeoutMs: 400 } });
    const client = await connect(gateway);
    await client.next();
    // The realm exists before `a` starts, and `a` waits before it spins, so it still holds (nearly) all
    // of its budget when `b` and `c` arrive: the gateway takes one frame per turn of the event loop,
    // and a spin that started at once would end before they are read.
    await client.eval('1');
    client.send({ op: 'eval', id: 'a', code: 'await new Promise((r) => setTimeout(r, 300)); for (;;) {}' });
    for (const id of ['b', 'c']) client.send({ op: 'eval', id, code: 'for (;;) {}' });
    const codes: Record<string, string> = {};
    while (Object.keys(codes).length < 3) {
      const { frame } = await client.until('error');
      codes[String(frame.id)] = (frame.error as { code: string }).code;
    }
    // Two spins of 400 ms fit in 1000 ms; the third would not.
    expect(codes).toEqual({ a: 'TIMEOUT', b: 'TIMEOUT', c: 'LIMIT' });
    expect(await client.eval('1 + 1')).toMatchObject({ value: 2 });
  });
});
