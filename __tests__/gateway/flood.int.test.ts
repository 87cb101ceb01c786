import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { type Socket, connect as tcpConnect } from 'node:net';
import type { Gateway } from '../../gateway/server';
import { connect, startTestGateway, type TestClient, upgradeStatus } from '../helpers/gateway';

/**
 * The network DoS suite: one attack per row, from one client over loopback,
 * while a bystander session evaluates `1 + 1` every 100 ms and `/healthz` is
 * polled every 200 ms. Each row asserts the bystander's p99 stays under
 * BYSTANDER_P99_BOUND_MS (generous: a loaded 2-core machine) and that every
 * probe was answered 200. The figures are printed at the end (docs/security.md).
 */

const BYSTANDER_P99_BOUND_MS = 2_000;
const ATTACK_MS = 3_000;

interface Row {
  readonly attack: string;
  readonly p50: number;
  readonly p99: number;
  readonly evals: number;
  readonly probes: number;
  readonly probesFailed: number;
  /** Peak V8 heap of this process (the gateway, its realms and the test clients) during the attack. */
  readonly heapMiB: number;
  /** What the attack did, in its own terms (set after the run, before the checks). */
  note: string;
}

const rows: Row[] = [];

afterAll(() => {
  const lines = rows.map(
    (r) =>
      `| ${r.attack} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.evals} | ${r.probes - r.probesFailed}/${r.probes} | ${r.heapMiB.toFixed(0)} | ${r.note} |`,
  );
  process.stdout.write(
    `\nflood suite (bystander 1 + 1 every 100 ms, /healthz every 200 ms, ${ATTACK_MS} ms per attack)\n| attack | p50 ms | p99 ms | evals | /healthz ok | heap peak MiB | outcome |\n| --- | --- | --- | --- | --- | --- | --- |\n${lines.join('\n')}\n`,
  );
});

function healthz(port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/healthz', timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

/** Runs `attack` while measuring the bystander and the probe; records and checks the row. */
async function measure(gateway: Gateway, attack: string, run: (until: number) => Promise<void>): Promise<Row> {
  const bystander = await connect(gateway);
  await bystander.next();
  const until = Date.now() + ATTACK_MS;
  const latencies: number[] = [];
  let probes = 0;
  let probesFailed = 0;
  let heap = process.memoryUsage().heapUsed;
  const sampler = setInterval(() => {
    heap = Math.max(heap, process.memoryUsage().heapUsed);
  }, 50);
  const probing = (async () => {
    while (Date.now() < until) {
      probes++;
      if ((await healthz(gateway.port)) !== 200) probesFailed++;
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  const evaluating = (async () => {
    while (Date.now() < until) {
      const started = performance.now();
      const frame = await bystander.eval('1 + 1');
      latencies.push(performance.now() - started);
      if (frame.value !== 2) throw new Error(`bystander got ${JSON.stringify(frame)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  await Promise.all([run(until), probing, evaluating]).finally(() => clearInterval(sampler));
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))] ?? Infinity;
  const heapMiB = heap / 1024 / 1024;
  const row = { attack, p50: at(0.5), p99: at(0.99), evals: latencies.length, probes, probesFailed, heapMiB, note: '' };
  rows.push(row);
  bystander.ws.close();
  return row;
}

function expectBounded(row: Row): void {
  expect(row.p99).toBeLessThan(BYSTANDER_P99_BOUND_MS);
  expect(row.probesFailed).toBe(0);
}

async function openClients(gateway: Gateway, n: number): Promise<TestClient[]> {
  const clients: TestClient[] = [];
  for (let i = 0; i < n; i++) {
    const client = await connect(gateway);
    await client.next();
    clients.push(client);
  }
  return clients;
}

/** The attacker of the tiny-frame row: sends `{"op":"ping"}` as fast as it can, reports what happened. */
const FLOOD_SCRIPT = `
const WebSocket = require('ws');
const [url, ms] = process.argv.slice(1);
const ws = new WebSocket(url, ['vmgate.v1']);
let sent = 0;
let closeCode = null;
const end = () => { process.stdout.write(JSON.stringify({ sent, closeCode })); process.exit(0); };
ws.on('open', () => {
  const until = Date.now() + Number(ms);
  const burst = () => {
    if (Date.now() >= until || ws.readyState !== ws.OPEN) {
      // Wait for the gateway's verdict (it may still be reading the backlog).
      if (closeCode === null) ws.once('close', () => setImmediate(end));
      return setTimeout(end, closeCode === null ? 10000 : 0);
    }
    for (let i = 0; i < 2000; i++) ws.send('{"op":"ping"}');
    sent += 2000;
    setImmediate(burst);
  };
  burst();
});
ws.on('message', () => {});
ws.on('close', (code) => { closeCode = code; });
ws.on('error', () => {});
`;

/** The frames held for clients at most (absent on a gateway without a budget). */
function budgetNote(gateway: Gateway): string {
  const budget = (gateway as Partial<Gateway>).budget;
  return budget ? `frames held ≤ ${(budget.peak / 1024 / 1024).toFixed(1)} MiB` : 'no budget';
}

const socketOf = (client: TestClient) => (client.ws as unknown as { _socket: Socket })._socket;

describe('the gateway under flood', () => {
  test('sessions printing the most output the limits allow, half of them not reading', async () => {
    const gateway = await startTestGateway({ limits: { memoryBudgetBytes: 32 * 1024 * 1024 } });
    const clients = await openClients(gateway, 40);
    clients.forEach((client, i) => {
      if (i % 2 === 0) socketOf(client).pause();
      client.send({
        op: 'eval',
        code: 'for (let i = 0; i < 60; i++) { console.log("x".repeat(60000)); await new Promise((r) => setTimeout(r, 50)) }',
        timeoutMs: 30_000,
      });
    });
    const row = await measure(gateway, '40 sessions printing ~1 MiB/s each, half not reading', async (until) => {
      while (Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    });
    row.note = budgetNote(gateway);
    expectBounded(row);
    expect(gateway.budget.peak).toBeLessThanOrEqual(gateway.budget.ceiling + 2 * 1024 * 1024);
  }, 60_000);

  test('timer output to clients that do not read', async () => {
    const gateway = await startTestGateway();
    const clients = await openClients(gateway, 20);
    for (const client of clients) {
      socketOf(client).pause();
      client.send({ op: 'eval', code: 'setInterval(() => console.log("t".repeat(1000)), 10); 1' });
    }
    const row = await measure(gateway, '20 non-reading clients, timer output 100 kB/s each', async (until) => {
      while (Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    });
    row.note = `${budgetNote(gateway)}, ${clients.filter((c) => c.ws.readyState === c.ws.OPEN).length} of 20 still connected`;
    expectBounded(row);
    // Each held at most about its soft send limit plus a frame: the budget saw a few MiB, not a growing pile.
    expect(gateway.budget.peak).toBeLessThan(20 * 2 * 1024 * 1024);
  }, 60_000);

  test('a flood of tiny frames on one connection (from another process)', async () => {
    // Pinned below the default (5000): on a loaded machine the attacker must still outpace it within the window.
    const gateway = await startTestGateway({ limits: { maxFramesPerSecond: 1_000 } });
    // The attacker runs in its own process, as on the network: it does not share the gateway's event loop.
    const attacker = spawn(process.execPath, ['-e', FLOOD_SCRIPT, gateway.url, String(ATTACK_MS)], {
      cwd: process.cwd(),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    attacker.stdout.on('data', (chunk) => {
      output += chunk;
    });
    const exited = new Promise<void>((resolve) => attacker.once('exit', () => resolve()));
    const row = await measure(gateway, 'tiny JSON frames as fast as one client can send', async () => {
      await exited;
    });
    const report = JSON.parse(output) as { sent: number; closeCode: number | null };
    row.note = `${report.sent} frames sent, attacker closed with ${report.closeCode ?? 'nothing'}`;
    expectBounded(row);
    expect(report.sent).toBeGreaterThan(2_000);
    // Persistent abuse ends in 1008.
    expect(report.closeCode).toBe(1008);
  }, 60_000);

  test('sessions opened then dropped cannot lock others out', async () => {
    const gateway = await startTestGateway({ limits: { maxSessions: 200, maxSessionsPerAddress: 200 } });
    let opened = 0;
    const row = await measure(gateway, 'open-and-drop churn (200-session gateway)', async (until) => {
      while (Date.now() < until) {
        const batch = await Promise.all(
          Array.from({ length: 20 }, () =>
            connect(gateway).then(
              (c) => c,
              () => undefined,
            ),
          ),
        );
        for (const client of batch) client?.ws.terminate();
        opened += batch.filter(Boolean).length;
      }
    });
    row.note = `${opened} sessions opened and dropped, newcomer: HTTP ${await upgradeStatus(gateway.url)}`;
    expectBounded(row);
    expect(opened).toBeGreaterThan(200);
    // A newcomer still gets in.
    const late = await connect(gateway);
    expect(await late.eval('1 + 1')).toMatchObject({ value: 2 });
  }, 60_000);

  test('half-open upgrades are dropped after the header timeout', async () => {
    const gateway = await startTestGateway({ limits: { headerTimeoutMs: 1_000 } });
    const sockets: Socket[] = [];
    let closedEarly = 0;
    const row = await measure(gateway, '300 half-open upgrades (1 s header timeout)', async (until) => {
      for (let i = 0; i < 300; i++) {
        const socket = tcpConnect(gateway.port, '127.0.0.1');
        socket.on('error', () => {});
        socket.on('close', () => closedEarly++);
        socket.resume(); // read the 408, so the end (and the close) is seen
        socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n');
        sockets.push(socket);
      }
      while (Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    });
    row.note = `${closedEarly} of 300 dropped within the window`;
    expectBounded(row);
    // All dropped within the attack window (timeout 1 s, checked every second).
    expect(closedEarly).toBe(300);
  }, 60_000);

  test('console output of control characters is limited on wire bytes', async () => {
    // The per-eval limit out of the way: the per-second limit (1 MiB) is what is measured.
    const gateway = await startTestGateway({ session: { maxOutputBytesPerEval: 256 * 1024 * 1024 } });
    const attacker = await connect(gateway);
    await attacker.next();
    let bytes = 0;
    attacker.ws.on('message', (data) => {
      bytes += (data as Buffer).length;
    });
    attacker.send({
      op: 'eval',
      code: 'for (let i = 0; i < 400; i++) { console.log("\\u0001".repeat(60000)); await new Promise((r) => setTimeout(r, 5)) }',
      timeoutMs: 30_000,
    });
    const started = Date.now();
    const row = await measure(gateway, 'console output of control characters', async (until) => {
      while (Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    });
    const seconds = (Date.now() - started) / 1000;
    row.note = `${(bytes / seconds / 1024 / 1024).toFixed(1)} MiB/s on the wire`;
    expectBounded(row);
    // The documented 1 MiB per second, counted after escaping (each started window may hold 1 MiB).
    expect(bytes).toBeLessThan((Math.ceil(seconds) + 1) * 1024 * 1024 + 64 * 1024);
  }, 60_000);
});
