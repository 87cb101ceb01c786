import type { Socket } from 'node:net';
import { connect, type Frame, startTestGateway, type TestClient, upgradeStatus } from '../helpers/gateway';

/** Drops the socket the way a network does: no close frame. */
async function drop(client: TestClient): Promise<void> {
  client.ws.terminate();
  await client.closed;
}

async function resume(url: string, hello: Frame, last: number): Promise<TestClient> {
  const token = (hello.resume as { token: string }).token;
  return connect(url, { path: `/?resume=${encodeURIComponent(token)}&last=${last}` });
}

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  while (!condition() && Date.now() - started < timeoutMs) await new Promise((r) => setTimeout(r, 20));
}

const MiB = 1024 * 1024;

describe('frame caps', () => {
  test('an error, a result and a log line are cut to the frame cap, visibly', async () => {
    const gateway = await startTestGateway({
      limits: { maxReplyFrameBytes: 64 * 1024 },
      session: { maxLogLine: 1024 * 1024, maxOutputBytesPerEval: 16 * MiB, maxOutputBytesPerSecond: 16 * MiB },
    });
    const client = await connect(gateway);
    await client.next();
    const sizes: number[] = [];
    client.ws.on('message', (data) => sizes.push((data as Buffer).length));
    const thrown = await client.eval('throw new Error("x".repeat(4.6e6))');
    expect(thrown).toMatchObject({ type: 'error', error: { code: 'UNCAUGHT' } });
    const error = thrown.error as Record<string, unknown>;
    expect(String(error.message)).toMatch(/… \[truncated: \d+ of 4600000 characters not shown\]$/);
    expect(String(error.text)).toContain('[truncated:');
    // The rendering (`text`) is short already; the encoded value is what outgrows the frame.
    const result = await client.eval('"y".repeat(3e6)');
    expect(result.value).toEqual({ $type: 'truncated', reason: 'size' });
    // Control characters cost six bytes each once escaped: the cap counts the escaped bytes.
    const { logs } = await client.request({ op: 'eval', code: 'console.log("\\u0001".repeat(500000)); 1' });
    expect(String(logs[0]?.text)).toContain('[truncated:');
    expect(Math.max(...sizes)).toBeLessThanOrEqual(64 * 1024);
    expect(await client.eval('1 + 1')).toMatchObject({ value: 2 });
  });

  test('text mode frames are cut the same way', async () => {
    const gateway = await startTestGateway({ limits: { maxReplyFrameBytes: 16 * 1024 } });
    const client = await connect(gateway, { json: false });
    await client.next();
    const text = await client.line('console.log("z".repeat(100000))');
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(16 * 1024);
    expect(text).toMatch(/\[truncated: \d+ of \d+ characters not shown\]$/);
  });
});

describe('resume buffer and the memory budget', () => {
  test('a frame larger than the resume buffer is not kept: the resume says so in its place', async () => {
    const gateway = await startTestGateway({ limits: { resumeBufferBytes: 8 * 1024 } });
    const first = await connect(gateway);
    const hello = await first.next();
    first.send({ op: 'eval', id: 'big', code: 'await new Promise((r) => setTimeout(r, 200)); "q".repeat(20000)' });
    await drop(first);
    await until(() => [...gateway.sessions].every((s) => s.seq >= 1));
    const second = await resume(gateway.url, hello, first.lastSeq);
    expect(await second.next()).toMatchObject({ type: 'resumed', replayed: 1, notKept: 1 });
    expect(await second.next()).toMatchObject({
      type: 'error',
      id: 'big',
      error: { code: 'LIMIT', notKept: true, message: expect.stringContaining('larger than the resume buffer') },
    });
    expect(await second.eval('1 + 1')).toMatchObject({ value: 2 });
  });

  test('when the budget is full, the oldest detached session is evicted (4404 on resume)', async () => {
    const gateway = await startTestGateway({
      limits: { memoryBudgetBytes: 2 * MiB, resumeBufferBytes: 1 * MiB },
      session: { maxOutputBytesPerSecond: 16 * MiB, maxOutputBytesPerEval: 16 * MiB, maxLogLine: MiB },
    });
    const hellos: Frame[] = [];
    for (let i = 0; i < 3; i++) {
      const client = await connect(gateway);
      hellos.push(await client.next());
      // Each detached session buffers ~900 KB of output: the third does not fit beside the first two.
      client.send({
        op: 'eval',
        code: 'await new Promise((r) => setTimeout(r, 100)); for (let i = 0; i < 9; i++) console.log("w".repeat(100000))',
      });
      await drop(client);
      await new Promise((r) => setTimeout(r, 400));
    }
    expect(gateway.budget.used).toBeLessThanOrEqual(2 * MiB);
    const oldest = await resume(gateway.url, hellos[0] as Frame, 0);
    expect(await oldest.closed).toEqual({ code: 4404, reason: 'session evicted: the gateway memory budget is full' });
    const newest = await resume(gateway.url, hellos[2] as Frame, 0);
    expect(await newest.next()).toMatchObject({ type: 'resumed' });
  });
});

describe('when the budget runs out', () => {
  test('clients that do not read are cut off first; a reading client gets every reply', async () => {
    // No resuming: a dropped client's session ends with its socket (and lets go of its frames).
    const gateway = await startTestGateway({ limits: { memoryBudgetBytes: 3 * MiB, resumeGraceMs: 0 } });
    const code = '"r".repeat(1e6)';
    const idle: TestClient[] = [];
    for (let i = 0; i < 4; i++) {
      const client = await connect(gateway);
      await client.next();
      (client.ws as unknown as { _socket: Socket })._socket.pause();
      // 20 MB each: more than the kernel's socket buffers take, so the rest waits in the gateway.
      for (let j = 0; j < 20; j++) client.send({ op: 'eval', id: j, code });
      idle.push(client);
    }
    const reader = await connect(gateway);
    await reader.next();
    for (let j = 0; j < 20; j++) reader.send({ op: 'eval', id: j, code });
    for (let j = 0; j < 20; j++) expect((await reader.until('result', j)).frame).toMatchObject({ id: j });
    // At least two of the four were cut off (which ones depends on how far each got).
    await until(() => gateway.sessions.size <= 3, 15_000);
    expect(gateway.sessions.size).toBeLessThanOrEqual(3);
    // Held at most the ceiling plus the frames in flight while a culprit's socket was being destroyed.
    expect(gateway.budget.peak).toBeLessThanOrEqual(gateway.budget.ceiling + 4 * MiB);
    const codes: number[] = [];
    for (const client of idle) {
      void client.closed.then(({ code }) => codes.push(code));
      (client.ws as unknown as { _socket: Socket })._socket.resume();
    }
    await until(() => codes.length >= 2);
    expect(codes.length).toBeGreaterThanOrEqual(2);
    for (const code of codes) expect([1006, 1008]).toContain(code);
    // Every byte counted is released once the sessions are gone.
    for (const client of [...idle, reader]) client.ws.terminate();
    await until(() => gateway.sessions.size === 0 && gateway.budget.used === 0);
    expect(gateway.budget.used).toBe(0);
  }, 60_000);
});

describe('detached sessions are budgeted', () => {
  test('per address: a new drop evicts the oldest detached session of that address', async () => {
    const gateway = await startTestGateway({ limits: { maxDetachedPerAddress: 2 } });
    const hellos: Frame[] = [];
    for (let i = 0; i < 3; i++) {
      const client = await connect(gateway);
      hellos.push(await client.next());
      await drop(client);
      await until(() => gateway.sessions.size === Math.min(i + 1, 2) || i === 2, 2_000);
    }
    const oldest = await resume(gateway.url, hellos[0] as Frame, 0);
    expect((await oldest.closed).code).toBe(4404);
    expect(await (await resume(gateway.url, hellos[2] as Frame, 0)).next()).toMatchObject({ type: 'resumed' });
  });

  test('dropped sessions cannot lock others out: a new session takes the place of the oldest detached one', async () => {
    const gateway = await startTestGateway({ limits: { maxSessions: 3, maxSessionsPerAddress: 3 } });
    for (let i = 0; i < 3; i++) {
      const client = await connect(gateway);
      await client.next();
      await drop(client);
    }
    await until(() => [...gateway.sessions].every((s) => s.state === 'detached'));
    expect(await upgradeStatus(gateway.url)).toBe(101);
    const client = await connect(gateway);
    await client.next();
    expect(await client.eval('1 + 1')).toMatchObject({ value: 2 });
  });
});

describe('many sessions producing the largest frames the limits allow', () => {
  test('the gateway heap stays bounded and a bystander keeps working', async () => {
    const budget = 16 * MiB;
    // Realms in executor processes, as deployed: this process's heap is the gateway's (and the test clients').
    const gateway = await startTestGateway({
      limits: { memoryBudgetBytes: budget, maxReplyFrameBytes: MiB, heartbeatMs: 0 },
      executors: { count: 2 },
    });
    const sessions = 90;
    const clients: TestClient[] = [];
    // Every session asks for results at the frame cap (1 MB strings) and a 360 kB log line (control
    // characters, six bytes each on the wire) per eval, two evals queued; a third of the clients never
    // read, a third drop their socket (detached, buffering).
    const code = 'console.log("\\u0001".repeat(60000)); "r".repeat(1e6)';
    if (global.gc) global.gc();
    const heapBefore = process.memoryUsage().heapUsed;
    for (let i = 0; i < sessions; i++) {
      const client = await connect(gateway);
      await client.next();
      if (i % 3 === 0) (client.ws as unknown as { _socket: Socket })._socket.pause();
      for (let j = 0; j < 2; j++) client.send({ op: 'eval', id: `${i}.${j}`, code, timeoutMs: 30_000 });
      clients.push(client);
    }
    for (let i = 1; i < sessions; i += 3) clients[i]?.ws.terminate();
    const bystander = await connect(gateway);
    await bystander.next();
    let peakHeap = 0;
    const sampler = setInterval(() => {
      peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
    }, 50);
    const latencies: number[] = [];
    const started = Date.now();
    while (Date.now() - started < 6_000) {
      const t = performance.now();
      expect(await bystander.eval('1 + 1')).toMatchObject({ value: 2 });
      latencies.push(performance.now() - t);
      await new Promise((r) => setTimeout(r, 100));
    }
    clearInterval(sampler);
    latencies.sort((a, b) => a - b);
    const p99 = latencies[Math.floor(latencies.length * 0.99)] as number;
    process.stdout.write(
      `memory flood: ${sessions} sessions, budget ${budget / MiB} MiB, budget peak ${(gateway.budget.peak / MiB).toFixed(1)} MiB, ` +
        `heap before ${(heapBefore / MiB).toFixed(0)} MiB, peak ${(peakHeap / MiB).toFixed(0)} MiB; ` +
        `bystander p50 ${latencies[Math.floor(latencies.length / 2)]?.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms\n`,
    );
    expect(gateway.budget.peak).toBeLessThanOrEqual(gateway.budget.ceiling + 2 * MiB);
    expect(peakHeap - heapBefore).toBeLessThan(400 * MiB);
    // Generous: the bystander shares two executors with 180 queued evals on a loaded machine.
    expect(p99).toBeLessThan(10_000);
    // Reading clients are still connected.
    expect(clients.filter((c, i) => i % 3 === 2 && c.ws.readyState === c.ws.OPEN).length).toBe(sessions / 3);
  }, 120_000);
});
