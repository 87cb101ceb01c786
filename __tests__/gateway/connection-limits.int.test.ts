import { get } from 'node:http';
import pino from 'pino';
import { descriptorLimit } from '../../gateway/descriptors';
import { connect, startTestGateway, upgradeStatus } from '../helpers/gateway';

function httpGet(port: number, urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: urlPath }, (res) => {
      let body = '';
      res.on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

describe('per-connection rate limits', () => {
  test('a frame over the limit gets LIMIT with its id; the session keeps working', async () => {
    const gateway = await startTestGateway({ limits: { maxFramesPerSecond: 5 } });
    const client = await connect(gateway);
    await client.next();
    // The burst is twice the rate: 10 frames pass, the 11th (sent at once) does not.
    for (let i = 0; i < 11; i++) client.send({ op: 'ping', id: i });
    const frames = [];
    for (let i = 0; i < 11; i++) frames.push(await client.next());
    expect(frames.filter((f) => f.type === 'pong')).toHaveLength(10);
    expect(frames.find((f) => f.type === 'error')).toMatchObject({
      id: 10,
      error: { code: 'LIMIT', message: expect.stringContaining('rate limit') },
    });
    await new Promise((r) => setTimeout(r, 600));
    expect(await client.eval('1 + 1')).toMatchObject({ value: 2 });
  });

  test('persistent abuse closes the connection with 1008', async () => {
    const gateway = await startTestGateway({ limits: { maxFramesPerSecond: 10 } });
    const client = await connect(gateway);
    await client.next();
    for (let i = 0; i < 200; i++) client.send({ op: 'ping' });
    expect(await client.closed).toEqual({ code: 1008, reason: 'rate limit exceeded' });
  });

  test('the byte rate counts payload bytes', async () => {
    const gateway = await startTestGateway({ limits: { maxBytesPerSecond: 1024, maxFrameBytes: 4096 } });
    const client = await connect(gateway);
    await client.next();
    // Burst: max(2 × 1024, maxFrameBytes) = 4096 bytes; the second 3 KB frame does not fit.
    const code = `"${'a'.repeat(3000)}".length`;
    client.send({ op: 'eval', id: 'a', code });
    client.send({ op: 'eval', id: 'b', code });
    const replies = [await client.next(), await client.next()];
    expect(replies.find((f) => f.id === 'a')).toMatchObject({ type: 'result', value: 3000 });
    expect(replies.find((f) => f.id === 'b')).toMatchObject({ type: 'error', error: { code: 'LIMIT' } });
  });
});

describe('descriptors', () => {
  test('a --max-sessions the descriptors cannot serve is said at start', async () => {
    const limit = descriptorLimit();
    if (!limit || !Number.isFinite(limit.soft)) return;
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });
    await startTestGateway({ logger, limits: { maxSessions: limit.soft + 1 } });
    expect(lines.map((l) => JSON.parse(l).msg)).toContain(
      'max sessions is above what the descriptor limit allows: sessions beyond it get 503 (raise `ulimit -n`)',
    );
  });

  test('past the descriptor budget upgrades get 503, and /healthz still answers', async () => {
    const limit = descriptorLimit();
    if (!limit || !Number.isFinite(limit.soft)) return; // not Linux: nothing to budget
    // Leave room for 16 connections (the least the gateway allows).
    const gateway = await startTestGateway({ limits: { descriptorReserve: limit.soft } });
    const clients = [];
    for (let i = 0; i < 16; i++) clients.push(await connect(gateway));
    expect(await upgradeStatus(gateway.url)).toBe(503);
    expect((await httpGet(gateway.port, '/healthz')).status).toBe(200);
    const ready = JSON.parse((await httpGet(gateway.port, '/readyz')).body) as Record<string, unknown>;
    expect(ready.connections).toMatchObject({ limit: 16 });
  });
});

describe('/readyz', () => {
  test('says not ready while every executor is busy running code', async () => {
    const gateway = await startTestGateway({ executors: { count: 1 } });
    const client = await connect(gateway);
    await client.next();
    client.send({ op: 'eval', id: 'spin', code: 'while (true) {}', timeoutMs: 4_000 });
    // The executor answers no heartbeat while it spins: busy after a second.
    let body: Record<string, unknown> = {};
    let status = 0;
    for (const end = Date.now() + 3_500; Date.now() < end && status !== 503; ) {
      await new Promise((r) => setTimeout(r, 200));
      const reply = await httpGet(gateway.port, '/readyz');
      status = reply.status;
      body = JSON.parse(reply.body) as Record<string, unknown>;
    }
    expect(status).toBe(503);
    expect(body.executors).toMatchObject({ ready: 1, busy: 1 });
    expect(await client.until('error', 'spin')).toMatchObject({ frame: { error: { code: 'TIMEOUT' } } });
  }, 30_000);

  test('says not ready, with the numbers, while the event loop lags', async () => {
    const gateway = await startTestGateway({ limits: { readyMaxLagMs: 100 } });
    const before = await httpGet(gateway.port, '/readyz');
    expect(before.status).toBe(200);
    expect(JSON.parse(before.body)).toMatchObject({
      ready: true,
      detached: 0,
      eventLoopLagMs: expect.any(Number),
      memoryBudget: { used: expect.any(Number), limit: expect.any(Number) },
    });
    // Keep this process (the gateway's event loop) busy for a second, in 150 ms stretches.
    for (const end = Date.now() + 1_000; Date.now() < end; ) {
      const until = Date.now() + 150;
      while (Date.now() < until);
      await new Promise((r) => setImmediate(r));
    }
    const after = await httpGet(gateway.port, '/readyz');
    expect(after.status).toBe(503);
    expect(JSON.parse(after.body).eventLoopLagMs).toBeGreaterThan(100);
  });
});
