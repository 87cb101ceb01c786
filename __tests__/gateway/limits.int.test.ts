import type { Socket } from 'node:net';
import { connect, startTestGateway, upgradeStatus } from '../helpers/gateway';

describe('limits', () => {
  test.each([
    ['JSON', true],
    ['text', false],
  ])(
    'a frame above the size limit closes the session (%s mode) with 1009 and a readable reason',
    async (_mode, json) => {
      const gateway = await startTestGateway({ limits: { maxFrameBytes: 1024 } });
      const client = await connect(gateway, { json });
      await client.next();
      client.ws.send(`"${'x'.repeat(2048)}"`);
      expect(await client.closed).toEqual({ code: 1009, reason: 'frame too large (2050 bytes; the limit is 1024)' });
      for (let i = 0; i < 100 && gateway.sessions.size > 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(gateway.sessions.size).toBe(0);
      // Counted under its real reason, not as a socket error.
      const counted = await gateway.metrics.registry.getSingleMetricAsString('vmgate_sessions_closed_total');
      expect(counted).toContain('vmgate_sessions_closed_total{reason="frame_too_large"} 1');
    },
  );

  test('sessions in total and per address are refused at the upgrade (503 / 429)', async () => {
    const total = await startTestGateway({ limits: { maxSessions: 2 } });
    await connect(total);
    await connect(total);
    expect(await upgradeStatus(total.url)).toBe(503);
    const perAddress = await startTestGateway({ limits: { maxSessionsPerAddress: 1 } });
    const first = await connect(perAddress);
    expect(await upgradeStatus(perAddress.url)).toBe(429);
    first.ws.close();
    await first.closed;
    await new Promise((r) => setTimeout(r, 50));
    expect(await upgradeStatus(perAddress.url)).toBe(101);
  });

  test('an idle session is closed with 4001, but not while an eval runs', async () => {
    const gateway = await startTestGateway({ limits: { idleTimeoutMs: 150 } });
    const client = await connect(gateway);
    await client.next();
    const running = client.eval('await new Promise((r) => setTimeout(r, 300)); "done"', { timeoutMs: 1000 });
    expect(await running).toMatchObject({ type: 'result', value: 'done' });
    expect(await client.closed).toEqual({ code: 4001, reason: 'idle timeout' });
  });

  test('the session lifetime is bounded (4002)', async () => {
    const gateway = await startTestGateway({ limits: { maxLifetimeMs: 100 } });
    const client = await connect(gateway);
    expect(await client.closed).toEqual({ code: 4002, reason: 'session lifetime exceeded' });
  });

  test('a client that does not read has its output dropped, then hears how much once it reads', async () => {
    const gateway = await startTestGateway({
      limits: { sendBufferSoftBytes: 64 * 1024 },
      session: {
        maxOutputBytesPerEval: 64 * 1024 * 1024,
        maxOutputBytesPerSecond: 1024 * 1024 * 1024,
        maxLogLine: 1024 * 1024,
      },
    });
    const client = await connect(gateway);
    await client.next();
    const socket = (client.ws as unknown as { _socket: Socket })._socket;
    socket.pause();
    const line = 'console.log("y".repeat(1000000));';
    client.send({ op: 'eval', id: 'flood', code: `for (let i = 0; i < 40; i++) { ${line} } 1`, timeoutMs: 20000 });
    const dropped = async () => (await gateway.metrics.framesDropped.get()).values[0]?.value ?? 0;
    const started = Date.now();
    while ((await dropped()) < 30 && Date.now() - started < 15_000) await new Promise((r) => setTimeout(r, 20));
    expect(await dropped()).toBeGreaterThanOrEqual(30);
    // 40 MB of output, but the gateway holds little of it and the session lives on.
    expect(gateway.budget.peak).toBeLessThan(16 * 1024 * 1024);
    expect(gateway.sessions.size).toBe(1);
    socket.resume();
    const { frame, before } = await client.until('result', 'flood');
    expect(frame).toMatchObject({ value: 1 });
    const notice = [...before, ...client.drain()].find(
      (f) => f.type === 'log' && String(f.text).startsWith('[output dropped:'),
    );
    expect(notice).toMatchObject({ level: 'warn' });
  }, 30_000);

  test('a client whose replies pile up beyond the hard limit is closed (1008)', async () => {
    const gateway = await startTestGateway({
      limits: { sendBufferSoftBytes: 64 * 1024, sendBufferHardBytes: 256 * 1024, maxFramesPerSecond: 0 },
    });
    const client = await connect(gateway);
    await client.next();
    const socket = (client.ws as unknown as { _socket: Socket })._socket;
    socket.pause();
    // Pongs are replies (never dropped): 12 MB of them outgrow every socket buffer on the way.
    const id = 'p'.repeat(250);
    for (let i = 0; i < 40_000; i++) client.send({ op: 'ping', id: `${id}${i}` });
    const started = Date.now();
    while (gateway.sessions.size > 0 && Date.now() - started < 15_000) await new Promise((r) => setTimeout(r, 20));
    expect(gateway.sessions.size).toBe(0);
    // The client could not read a close frame behind megabytes it did not read: once it reads, it sees the end.
    socket.resume();
    expect([1006, 1008]).toContain((await client.closed).code);
  }, 30_000);

  test('paused evals resume when the client reads again', async () => {
    const gateway = await startTestGateway({
      limits: { sendBufferSoftBytes: 32 * 1024, sendBufferHardBytes: 256 * 1024 * 1024 },
      session: {
        maxOutputBytesPerEval: 64 * 1024 * 1024,
        maxOutputBytesPerSecond: 1024 * 1024 * 1024,
        maxLogLine: 1024 * 1024,
      },
    });
    const client = await connect(gateway);
    await client.next();
    const socket = (client.ws as unknown as { _socket: Socket })._socket;
    socket.pause();
    for (let i = 0; i < 6; i++) client.send({ op: 'eval', id: i, code: 'console.log("z".repeat(1000000)); 1' });
    await new Promise((r) => setTimeout(r, 300));
    socket.resume();
    const done = await client.until('result', 5);
    expect(done.frame).toMatchObject({ type: 'result', id: 5 });
  });

  test('heartbeats drop a peer that stopped answering', async () => {
    const gateway = await startTestGateway({ limits: { heartbeatMs: 100, resumeGraceMs: 0 } });
    const client = await connect(gateway);
    await client.next();
    (client.ws as unknown as { _socket: Socket })._socket.pause();
    const started = Date.now();
    while (gateway.sessions.size > 0 && Date.now() - started < 3000) await new Promise((r) => setTimeout(r, 20));
    expect(gateway.sessions.size).toBe(0);
  });
});
