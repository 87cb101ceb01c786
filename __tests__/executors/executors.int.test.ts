import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SignJWT } from 'jose';
import { DEFAULT_DATABASE_OPTIONS } from '../../db/pool';
import type { ExecutorPool } from '../../executors/pool';
import type { Gateway } from '../../gateway/server';
import { testDatabaseUrl } from '../helpers/database';
import { openSession, sleep, startExecutorGateway } from '../helpers/executors';
import { connect, type Frame, type TestClient } from '../helpers/gateway';

/**
 * Sessions hosted by executor processes: placement, accounting visible to the
 * session and in /metrics, shared state reloads, an executor that dies or
 * grows past its memory bound, shutdown.
 */

jest.setTimeout(60_000);

const SECRET = 'executor-tests-secret-of-sufficient-length';
/** Sessions without a user: a static token (a JWT must name its `sub`). */
const STATIC_TOKEN = 'executor-tests-static-token';
const sign = (sub: string) =>
  new SignJWT({ sub })
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(SECRET));
const as = async (sub?: string) => ({
  headers: { authorization: `Bearer ${sub === undefined ? STATIC_TOKEN : await sign(sub)}` },
});

let gateway: Gateway;
let pool: ExecutorPool;
let dir: string;
let sharedFile: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'vmgate-executors-'));
  sharedFile = path.join(dir, 'shared.json');
  writeFileSync(sharedFile, JSON.stringify({ version: 1 }));
  ({ gateway, pool } = await startExecutorGateway({
    sharedFile,
    auth: { tokens: [STATIC_TOKEN], jwt: { secret: SECRET } },
    database: { mode: 'url', url: testDatabaseUrl(), ...DEFAULT_DATABASE_OPTIONS, poolSize: 10 },
    executors: { count: 2, maxUserSeries: 2 },
  }));
}, 120_000);

afterAll(async () => {
  await gateway?.close();
  rmSync(dir, { recursive: true, force: true });
});

const http = (p: string) => `${gateway.url.replace('ws:', 'http:')}${p}`;
// With authentication on, /metrics and the details of /readyz need credentials too.
const metricsText = async () => (await fetch(http('/metrics'), await as('ops'))).text();
const metric = (text: string, line: string) =>
  Number(
    text
      .split('\n')
      .find((l) => l.startsWith(`${line} `))
      ?.split(' ')[1] ?? Number.NaN,
  );

async function session(sub?: string): Promise<{ client: TestClient; id: string }> {
  const client = await connect(gateway, await as(sub));
  const hello = await client.next();
  return { client, id: String(hello.session) };
}

describe('executors', () => {
  test('new sessions go to the least-loaded executor', async () => {
    const sessions = await Promise.all([session(), session(), session(), session()].map((p) => p));
    const placed = sessions.map((s) => pool.executorOf(s.id)?.index);
    expect(placed.filter((i) => i === 0)).toHaveLength(2);
    expect(placed.filter((i) => i === 1)).toHaveLength(2);
    for (const s of sessions) expect(await s.client.eval('6 * 7')).toMatchObject({ type: 'result', value: 42 });
  });

  test('a session sees its own accounting in every eval, and /metrics the totals', async () => {
    const { client } = await session();
    const first = await client.eval('console.log("hello"); let n = 0; for (let i = 0; i < 1e6; i++) n += i; n');
    const totals = (first.stats as { session: Record<string, number> }).session;
    expect(totals).toMatchObject({ evals: 1, transactionAgeMs: 0 });
    expect(totals.cpuMs).toBeGreaterThan(0);
    expect(totals.outputBytes).toBeGreaterThan('hello'.length);
    // A change keeps the transaction open after its eval (one that only reads ends with it).
    await client.eval(
      'await sql`CREATE TEMPORARY TABLE acct (x INT)`.execute(db); await sql`INSERT INTO acct VALUES (1)`.execute(db)',
    );
    await sleep(20);
    const third = await client.eval('2');
    const after = (third.stats as { session: Record<string, number> }).session;
    expect(after.evals).toBe(3);
    expect(after.cpuMs).toBeGreaterThanOrEqual(totals.cpuMs);
    expect(after.transactionAgeMs).toBeGreaterThan(0);
    await sleep(300); // a heartbeat carries the executors' reports
    const text = await metricsText();
    expect(metric(text, 'vmgate_session_cpu_seconds_total')).toBeGreaterThan(0);
    expect(metric(text, 'vmgate_transactions_open')).toBeGreaterThanOrEqual(1);
    expect(metric(text, 'vmgate_executors{state="ready"}')).toBe(2);
    expect(metric(text, 'vmgate_executor_heap_used_bytes{executor="0"}')).toBeGreaterThan(0);
    expect(metric(text, 'vmgate_executor_heap_limit_bytes{executor="1"}')).toBeGreaterThan(0);
    expect(metric(text, 'vmgate_db_connections_bound')).toBeGreaterThanOrEqual(1);
    expect((await client.request({ op: 'rollback' })).frame).toMatchObject({ type: 'ok' });
    const ready = await (await fetch(http('/readyz'), await as('ops'))).json();
    expect(ready).toMatchObject({ ready: true, executors: { ready: 2, total: 2 } });
  });

  test('per-user series exist only for JWT users, and only as many as the cap', async () => {
    for (const sub of ['alice', 'bob', 'carol', 'dave', undefined]) {
      const { client } = await session(sub);
      await client.eval('1 + 1');
    }
    await sleep(300);
    const text = await metricsText();
    const users = new Set(
      text
        .split('\n')
        .filter((l) => l.startsWith('vmgate_user_evals_total{'))
        .map((l) => /user="([^"]*)"/.exec(l)?.[1]),
    );
    expect(users).toEqual(new Set(['alice', 'bob', '_other']));
    expect(metric(text, 'vmgate_user_evals_total{user="_other"}')).toBe(2);
  });

  test('a new shared state version reaches the executors; open sessions keep theirs', async () => {
    const before = await session();
    expect(await before.client.eval('shared.version')).toMatchObject({ value: 1 });
    writeFileSync(sharedFile, JSON.stringify({ version: 2 }));
    gateway.reloadShared();
    const after = await session();
    const hello = after.client.frames[0] as Frame;
    expect(hello.shared).toMatchObject({ version: expect.any(String) });
    expect(await after.client.eval('shared.version')).toMatchObject({ value: 2 });
    expect(await before.client.eval('shared.version')).toMatchObject({ value: 1 });
  });

  test('an executor that dies takes only its own sessions (1011), and is replaced', async () => {
    const a = await session();
    const victim = pool.executorOf(a.id);
    // Least-loaded placement: sessions of earlier tests may still be closing, so open until one lands elsewhere.
    let b = await session();
    for (let i = 0; i < 10 && pool.executorOf(b.id) === victim; i++) b = await session();
    const other = pool.executorOf(b.id);
    expect(victim).toBeDefined();
    expect(other).not.toBe(victim);
    await a.client.eval('let kept = 1');
    const restartsBefore =
      metric(await metricsText(), `vmgate_executor_restarts_total{executor="${victim?.index}",reason="crashed"}`) || 0;
    // A request in flight when it dies still gets its terminal frame.
    const pending = a.client.request({ op: 'eval', code: 'await new Promise((r) => setTimeout(r, 5000))' });
    await sleep(100);
    process.kill(victim?.pid as number, 'SIGKILL');
    expect((await pending).frame).toMatchObject({
      type: 'error',
      error: { code: 'INTERRUPTED', message: 'session closed: executor restarted: crashed (SIGKILL)' },
    });
    expect(await a.client.closed).toEqual({ code: 1011, reason: 'executor restarted: crashed (SIGKILL)' });
    expect(await b.client.eval('21 * 2')).toMatchObject({ value: 42 });
    const replacement = await pool.replaced(victim?.index as number, victim as never);
    expect(replacement.pid).not.toBe(victim?.pid);
    const text = await metricsText();
    expect(metric(text, `vmgate_executor_restarts_total{executor="${victim?.index}",reason="crashed"}`)).toBe(
      restartsBefore + 1,
    );
    expect(metric(text, 'vmgate_executor_sessions_lost_total{reason="crashed"}')).toBeGreaterThanOrEqual(1);
    const c = await session();
    expect(await c.client.eval('"fresh"')).toMatchObject({ value: 'fresh' });
  });

  test('a gateway too busy to ask for heartbeats does not kill its executors', async () => {
    const { client } = await session();
    const restarts = pool.status().executors?.restarts;
    // The gateway (this process) blocks longer than an executor may stay silent.
    const until = Date.now() + pool.options.unresponsiveMs + 1_000;
    while (Date.now() < until) {
      // busy
    }
    await sleep(pool.options.heartbeatMs * 4);
    expect(pool.status().executors?.restarts).toBe(restarts);
    expect(await client.eval('"still here"')).toMatchObject({ value: 'still here' });
  });

  test('requests beyond the queue bound are refused at the gateway while the executor is busy', async () => {
    const { client } = await session();
    client.send({ op: 'eval', id: 'busy', code: 'for (;;) {}', timeoutMs: 1000 });
    for (let i = 0; i < 40; i++) client.send({ op: 'eval', id: i, code: String(i) });
    const terminal = new Map<unknown, Frame>();
    while (terminal.size < 41) {
      const frame = await client.next(10_000);
      if (frame.type !== 'log') terminal.set(frame.id, frame);
    }
    expect(terminal.get('busy')).toMatchObject({ type: 'error', error: { code: 'TIMEOUT' } });
    const refused = [...terminal.values()].filter(
      (f) => f.type === 'error' && (f.error as { code: string }).code === 'LIMIT',
    );
    const answered = [...terminal.values()].filter((f) => f.type === 'result');
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.length + answered.length).toBe(40);
  });
});

describe('an executor past its memory bound', () => {
  test('is replaced, and its sessions are told why', async () => {
    // A heap large enough that V8 would let it grow: the resident-memory bound ends it first.
    const { gateway: small, pool: one } = await startExecutorGateway({
      executors: { count: 1, heapMb: 2048, maxRssMb: 400, heartbeatMs: 100 },
      session: { defaultTimeoutMs: 20_000, maxTimeoutMs: 20_000 },
    });
    try {
      const s = await openSession(small);
      const first = one.executors[0];
      const reply = s.client.request({ op: 'eval', code: 'const a = []; for (;;) a.push(new Array(1e5).fill(1.5))' });
      expect(await s.client.closed).toEqual({ code: 1011, reason: 'executor restarted: out of memory' });
      expect((await reply).frame).toMatchObject({ type: 'error', error: { code: 'INTERRUPTED' } });
      const replacement = await one.replaced(0, first as never);
      expect(replacement.state).toBe('ready');
      const again = await openSession(small);
      expect(await again.client.eval('1 + 1')).toMatchObject({ value: 2 });
    } finally {
      await small.close();
    }
  });
});

describe('shutdown', () => {
  test('closes the sessions with 1001, then every executor process exits', async () => {
    const { gateway: g, pool: p } = await startExecutorGateway({ executors: { count: 1 } });
    const s = await openSession(g);
    const pid = p.executors[0]?.pid as number;
    await g.close();
    expect((await s.client.closed).code).toBe(1001);
    expect(() => process.kill(pid, 0)).toThrow();
  });
});
