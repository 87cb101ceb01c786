import type mysql from 'mysql2/promise';
import { DEFAULT_DATABASE_OPTIONS } from '../../db/pool';
import type { ExecutorPool } from '../../executors/pool';
import type { Gateway } from '../../gateway/server';
import { testDatabaseUrl } from '../helpers/database';
import {
  LatencyProbe,
  openSession,
  ownConnection,
  percentile,
  sleep,
  startExecutorGateway,
  uniqueName,
  withDatabase,
} from '../helpers/executors';
import { connect, type Frame, type TestClient } from '../helpers/gateway';

/**
 * Denial of service against a running gateway with two executors (issue 5).
 * For every attack: the offending session ends with a clear error or a close
 * (1011 `executor restarted: <why>` when its executor had to be killed), the
 * gateway stays up, a bystander session on the *other* executor keeps
 * answering at its usual latency throughout (measured), its open transaction
 * survives, and no database connection leaks (a killed executor's
 * connections vanish from the server's process list and their transactions
 * are rolled back).
 *
 * Limits are lowered so that the suite runs in about a minute: 1.5 s eval
 * budgets, a 160 MiB heap per executor, 1 s of silence allowed beyond the
 * evals' budgets.
 */

jest.setTimeout(60_000);

const EVAL_TIMEOUT_MS = 1_500;
let gateway: Gateway;
let pool: ExecutorPool;
let direct: mysql.Connection;
let database: string;
let nextRow = 1;
const report: string[] = [];

beforeAll(async () => {
  direct = await ownConnection(testDatabaseUrl());
  database = uniqueName('vmgate_dos');
  await direct.query(`CREATE DATABASE ${database}`);
  await direct.query(`CREATE TABLE ${database}.t (id INT PRIMARY KEY, who VARCHAR(20))`);
  ({ gateway, pool } = await startExecutorGateway({
    database: {
      mode: 'url',
      url: withDatabase(testDatabaseUrl(), database),
      ...DEFAULT_DATABASE_OPTIONS,
      poolSize: 20,
    },
    session: { defaultTimeoutMs: EVAL_TIMEOUT_MS, maxTimeoutMs: 4_000 },
    executors: { count: 2, heapMb: 160, maxRssMb: 700, unresponsiveMs: 1_000, heartbeatMs: 100 },
  }));
}, 120_000);

afterAll(async () => {
  await gateway?.close();
  if (direct && database) {
    // Nothing of the gateway's stays connected once it has closed.
    const threads = await waitFor(async () => ((await databaseThreads()).length === 0 ? true : undefined), 5_000);
    await direct.query(`DROP DATABASE ${database}`);
    await direct.end();
    expect(threads).toBe(true);
  }
  process.stdout.write(
    `\nDoS suite — outcome, time to it | bystander latency in ms: baseline p50 | during p50 / p99 / max (samples):\n${report.join('\n')}\n`,
  );
});

async function databaseThreads(): Promise<number[]> {
  const [rows] = await direct.query('SELECT ID AS id FROM information_schema.PROCESSLIST WHERE DB = ?', [database]);
  return (rows as Array<{ id: number }>).map((r) => Number(r.id));
}

async function rowOwner(id: number): Promise<string | undefined> {
  const [rows] = await direct.query(`SELECT who FROM ${database}.t WHERE id = ?`, [id]);
  return (rows as Array<{ who: string }>)[0]?.who;
}

async function waitFor<T>(
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
): Promise<T | undefined> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (performance.now() > deadline) return undefined;
    await sleep(50);
  }
}

async function bothExecutorsReady(): Promise<void> {
  const ready = await waitFor(() => (pool.executors.every((e) => e.state === 'ready') ? true : undefined), 30_000);
  expect(ready).toBe(true);
}

type Outcome =
  | { readonly kind: 'result'; readonly text: string }
  | { readonly kind: 'error'; readonly code: string; readonly message: string }
  | { readonly kind: 'close'; readonly code: number; readonly reason: string };

/** Sends the attack and waits for how it ends: a terminal frame, or the socket closing. */
async function offend(client: TestClient, code: string, extra: Record<string, unknown> = {}): Promise<Outcome> {
  const reply = client.request({ op: 'eval', code, ...extra }).then(
    (r) => r.frame,
    () => undefined,
  );
  const first = await Promise.race([reply, client.closed.then(() => undefined)]);
  const error = first?.type === 'error' ? (first.error as { code: string; message: string }) : undefined;
  if (first === undefined || /executor restarted/.test(error?.message ?? '')) {
    const closed = await client.closed;
    return { kind: 'close', code: closed.code, reason: closed.reason };
  }
  if (error) return { kind: 'error', code: error.code, message: error.message };
  return { kind: 'result', text: String((first as Frame).text).slice(0, 200) };
}

function describeOutcome(outcome: Outcome): string {
  if (outcome.kind === 'close') return `close ${outcome.code} "${outcome.reason}"`;
  if (outcome.kind === 'error') return `error ${outcome.code}: ${outcome.message.slice(0, 90)}`;
  return `result ${outcome.text.slice(0, 60)}`;
}

interface Attack {
  readonly code: string;
  readonly timeoutMs?: number;
  /** What the offender may see; every case allows a 1011 close. */
  readonly errors?: readonly string[];
  readonly result?: boolean;
  /** Instead of an eval: what the offender does (e.g. open many sessions). */
  readonly act?: () => Promise<Outcome>;
}

/**
 * One attack, with a bystander on the other executor. Both hold an open
 * transaction with an uncommitted row; the bystander's must survive, the
 * offender's must be rolled back.
 */
async function attack(name: string, spec: Attack): Promise<Outcome> {
  await bothExecutorsReady();
  const bystander = await openSession(gateway);
  const offender = await openSession(gateway);
  const byExecutor = pool.executorOf(bystander.id);
  const offExecutor = pool.executorOf(offender.id);
  expect(byExecutor).toBeDefined();
  expect(offExecutor).toBeDefined();
  expect(offExecutor).not.toBe(byExecutor);
  const byPid = byExecutor?.pid;

  const byRow = nextRow++;
  const offRow = nextRow++;
  expect(
    await bystander.client.eval(`await db.insertInto('t').values({ id: ${byRow}, who: 'bystander' }).execute(); 1`),
  ).toMatchObject({ value: 1 });
  const thread = await offender.client.eval(
    `await db.insertInto('t').values({ id: ${offRow}, who: 'offender' }).execute(); (await sql\`SELECT CONNECTION_ID() AS id\`.execute(db)).rows[0].id`,
  );
  const offThread = Number(thread.value);
  expect(offThread).toBeGreaterThan(0);

  const baseline = await new LatencyProbe(bystander.client).stopAfter(400);
  const probe = new LatencyProbe(bystander.client);
  const started = performance.now();
  const outcome = spec.act
    ? await spec.act()
    : await offend(offender.client, spec.code, spec.timeoutMs ? { timeoutMs: spec.timeoutMs } : {});
  const elapsed = performance.now() - started;
  await sleep(300);
  const during = await probe.stop();

  const base = [...baseline.samples].sort((a, b) => a - b);
  const seen = [...during.samples].sort((a, b) => a - b);
  const p50 = percentile(base, 50);
  const max = seen[seen.length - 1] ?? Number.NaN;
  report.push(
    `  ${name.padEnd(44)} ${describeOutcome(outcome).padEnd(72)} ${(elapsed / 1000).toFixed(1)} s | ${p50.toFixed(1)} | ${percentile(seen, 50).toFixed(1)} / ${percentile(seen, 99).toFixed(1)} / ${max.toFixed(1)} (${seen.length})`,
  );

  // The offender ended clearly.
  if (outcome.kind === 'close') {
    expect(outcome.code).toBe(1011);
    expect(outcome.reason).toMatch(/^executor restarted: (out of memory|unresponsive)$/);
  } else if (outcome.kind === 'error') {
    expect(spec.errors ?? []).toContain(outcome.code);
  } else {
    expect(spec.result).toBe(true);
  }

  // The bystander answered throughout, at its usual latency.
  expect(during.failures).toEqual([]);
  expect(seen.length).toBeGreaterThan(0);
  // Loose bounds (the machine is shared and busy: a short attack leaves a handful
  // of samples, each at the mercy of other processes), yet far below what sharing
  // the offender's executor would cost: the attack holds it for its whole budget or more.
  expect(percentile(seen, 50)).toBeLessThan(Math.max(3 * p50, p50 + 250));
  expect(max).toBeLessThan(EVAL_TIMEOUT_MS * 0.66);
  // Its executor was never touched, and its transaction is intact.
  expect(pool.executorOf(bystander.id)).toBe(byExecutor);
  expect(byExecutor?.pid).toBe(byPid);
  expect(byExecutor?.state).toBe('ready');
  expect((await bystander.client.request({ op: 'commit' })).frame).toMatchObject({ type: 'ok' });
  expect(await rowOwner(byRow)).toBe('bystander');

  // The gateway is up.
  expect((await fetch(`${gateway.url.replace('ws:', 'http:')}/healthz`)).status).toBe(200);

  if (outcome.kind === 'close') {
    // The database saw the killed executor's connection close: gone, and rolled back.
    const gone = await waitFor(async () => ((await databaseThreads()).includes(offThread) ? undefined : true), 5_000);
    expect(gone).toBe(true);
    expect(await rowOwner(offRow)).toBeUndefined();
  } else {
    offender.client.ws.close();
    await offender.client.closed;
    expect(await waitFor(async () => ((await rowOwner(offRow)) === undefined ? true : undefined), 5_000)).toBe(true);
  }
  bystander.client.ws.close();
  await bystander.client.closed;
  // No connection stays bound to a session once both are gone.
  expect(await waitFor(() => (pool.dbBound === 0 ? true : undefined), 5_000)).toBe(true);
  return outcome;
}

describe('denial of service against a gateway with two executors', () => {
  test('memory bomb: arrays', async () => {
    await attack('memory bomb: arrays', {
      code: 'const a = []; for (;;) a.push(new Array(1e6).fill(1))',
      errors: ['TIMEOUT'],
    });
  });

  test('memory bomb: objects', async () => {
    await attack('memory bomb: objects', {
      code: 'const o = []; for (let i = 0; ; i++) o.push({ i, pair: [i, i], name: "k" + i })',
      errors: ['TIMEOUT'],
    });
  });

  test('memory bomb: strings', async () => {
    await attack('memory bomb: strings', {
      code: 'const k = []; for (let i = 0; ; i++) k.push("x".repeat(1 << 20) + i)',
      errors: ['TIMEOUT'],
    });
  });

  test('one huge string in one call', async () => {
    const outcome = await attack('one huge string in one call', {
      code: '"x".repeat(2 ** 29 - 24)',
      errors: ['UNCAUGHT'],
    });
    expect(outcome).toMatchObject({ kind: 'error', message: expect.stringMatching(/repeat refused/) });
  });

  test('memory bomb: ArrayBuffers', async () => {
    // Allocated, not yet touched: the per-session bound stops it before the memory is ever used.
    const outcome = await attack('memory bomb: ArrayBuffers', {
      code: 'const k = []; for (;;) k.push(new Uint8Array(32e6))',
      errors: ['UNCAUGHT'],
    });
    expect(outcome).toMatchObject({ kind: 'error', message: expect.stringMatching(/Array buffer allocation/) });
    // Touched as they come: slower (page faults), ended by the bound or the budget.
    await attack('memory bomb: ArrayBuffers, filled', {
      code: 'const k = []; for (;;) k.push(new Uint8Array(16e6).fill(1))',
      errors: ['UNCAUGHT', 'TIMEOUT'],
    });
  });

  test('one ArrayBuffer outside the heap in one call', async () => {
    const outcome = await attack('new ArrayBuffer(8e9)', { code: 'new ArrayBuffer(8e9)', errors: ['UNCAUGHT'] });
    expect(outcome).toMatchObject({ kind: 'error', message: expect.stringMatching(/Array buffer allocation/) });
  });

  test('memory bomb: Map growth', async () => {
    await attack('memory bomb: Map growth', {
      code: 'const m = new Map(); for (let i = 0; ; i++) m.set(i, [i])',
      errors: ['TIMEOUT', 'UNCAUGHT'],
    });
  });

  test('an uninterruptible builtin on a huge array', async () => {
    const outcome = await attack('new Array(1e9).fill(0)', { code: 'new Array(1e9).fill(0)' });
    expect(outcome.kind).toBe('close');
  });

  test('deep recursion', async () => {
    const outcome = await attack('deep recursion', {
      code: 'function f(n) { return f(n + 1) + 1 } f(0)',
      errors: ['UNCAUGHT'],
    });
    expect(outcome).toMatchObject({ kind: 'error', message: expect.stringMatching(/call stack/) });
  });

  test('catastrophic regular-expression backtracking', async () => {
    await attack('catastrophic regex', { code: '/^(a+)+$/.test("a".repeat(40) + "b")', errors: ['TIMEOUT'] });
  });

  test('JSON.stringify of a huge structure', async () => {
    // Built fast (one fill), then one builtin call producing ~180 MB of text.
    await attack('JSON.stringify of a huge structure', {
      code: 'const a = new Array(3e6).fill({ k: "abcdefghij".repeat(5) }); JSON.stringify(a).length',
      errors: ['UNCAUGHT', 'TIMEOUT'],
    });
  });

  test('output flood', async () => {
    await attack('output flood (console)', { code: 'for (;;) console.log("x".repeat(1000))', errors: ['TIMEOUT'] });
  });

  test('output flood: one huge result', async () => {
    await attack('output flood (a 50 MB result)', { code: '"y".repeat(5e7)', errors: ['LIMIT'], result: true });
  });

  test('timer flood', async () => {
    await attack('timer flood', {
      code: 'for (let i = 0; i < 5000; i++) setInterval(() => { for (let j = 0; j < 1e5; j++); }, 0)',
      errors: ['UNCAUGHT'],
    });
  });

  test('thousands of pending promises', async () => {
    await attack('thousands of pending promises', {
      code: 'for (let i = 0; i < 1e6; i++) new Promise(() => {}); await Promise.all(Array.from({ length: 1e5 }, () => new Promise(() => {})))',
      errors: ['TIMEOUT'],
    });
  });

  test('an endless promise chain', async () => {
    await attack('an endless promise chain', {
      code: 'const loop = () => Promise.resolve().then(loop); loop(); await new Promise(() => {})',
      errors: ['TIMEOUT'],
    });
  });

  test('a hostile Error.prepareStackTrace', async () => {
    const outcome = await attack('hostile Error.prepareStackTrace', {
      code: 'Error.prepareStackTrace = () => { for (;;) {} }; function f() { return f() + 1 } f()',
      errors: ['UNCAUGHT'],
    });
    expect(outcome).toMatchObject({ kind: 'error', message: expect.stringMatching(/call stack/) });
  });

  test('throwing getters on thrown values', async () => {
    await attack('throwing getters on a thrown value', {
      code: 'throw { get name() { throw new Error("no name") }, get message() { for (;;) {} }, get stack() { throw 1 } }',
      errors: ['UNCAUGHT', 'TIMEOUT'],
    });
    await attack('a thrown Proxy with hostile traps', {
      code: 'throw new Proxy(new Error("x"), { get() { for (;;) {} }, getPrototypeOf() { throw new Error("trap") }, ownKeys() { for (;;) {} } })',
      errors: ['UNCAUGHT', 'TIMEOUT'],
    });
  });

  test('many sessions opened at once', async () => {
    const opened: TestClient[] = [];
    await attack('500 sessions opened at once', {
      code: '',
      result: true,
      act: async () => {
        const clients = await Promise.all(Array.from({ length: 500 }, () => connect(gateway)));
        opened.push(...clients);
        const hellos = await Promise.all(clients.map((c) => c.next()));
        expect(hellos.every((h) => h.type === 'hello')).toBe(true);
        return { kind: 'result', text: `${hellos.length} sessions` };
      },
    });
    for (const client of opened) client.ws.close();
    await Promise.all(opened.map((c) => c.closed));
    expect(await waitFor(() => (gateway.sessions.size === 0 ? true : undefined), 10_000)).toBe(true);
  });
});

describe('CPU fairness between sessions of one executor', () => {
  const SPIN_MS = 600;
  test('sessions queuing long evals do not keep a bystander of the same executor waiting behind all of them', async () => {
    await bothExecutorsReady();
    const bystander = await openSession(gateway);
    const executor = pool.executorOf(bystander.id);
    expect(await bystander.client.eval('let mine = 1; mine')).toMatchObject({ value: 1 });
    // Four attackers on the bystander's executor (new sessions alternate between the two).
    const attackers: TestClient[] = [];
    for (let tries = 0; attackers.length < 4 && tries < 40; tries++) {
      const session = await openSession(gateway);
      if (pool.executorOf(session.id) === executor) attackers.push(session.client);
    }
    expect(attackers).toHaveLength(4);

    const baseline = await new LatencyProbe(bystander.client).stopAfter(400);
    const probe = new LatencyProbe(bystander.client);
    // Each queues six evals that spin for their whole budget (14 s of CPU in all);
    // after 6 s they close, which drops the rest.
    for (const client of attackers) {
      for (let i = 0; i < 6; i++) client.send({ op: 'eval', id: `spin${i}`, code: 'for (;;) {}', timeoutMs: SPIN_MS });
    }
    const during = await probe.stopAfter(6_000);
    const outcomes = attackers.flatMap((client) => client.drain());
    for (const client of attackers) client.ws.close();

    const base = [...baseline.samples].sort((a, b) => a - b);
    const seen = [...during.samples].sort((a, b) => a - b);
    const [p50, p99, max] = [percentile(seen, 50), percentile(seen, 99), seen[seen.length - 1] ?? Number.NaN];
    report.push(
      `  ${'4 sessions × 6 queued 600 ms spins, same exec.'.padEnd(44)} ${`attackers' entries ran: ${outcomes.length} TIMEOUTs`.padEnd(72)} 6.0 s | ${percentile(base, 50).toFixed(1)} | ${p50.toFixed(1)} / ${p99.toFixed(1)} / ${max.toFixed(1)} (${seen.length})`,
    );
    expect(outcomes.length).toBeGreaterThan(0);
    expect(outcomes.every((frame) => (frame.error as { code?: string } | undefined)?.code === 'TIMEOUT')).toBe(true);
    expect(during.failures).toEqual([]);
    // Served in turn with the attackers, the bystander would wait for an entry
    // of each (4 × 600 ms) every time. Served before the sessions that used
    // more CPU, it waits for the entry that is running, and at worst once for
    // one first entry of each attacker (they have no history yet). Bounds
    // (docs/security.md): median within two spins, worst within five, with
    // room for a loaded machine.
    expect(seen.length).toBeGreaterThan(5);
    expect(p50).toBeLessThan(2 * SPIN_MS + 300);
    expect(max).toBeLessThan(5 * SPIN_MS + 1_000);
    expect(await bystander.client.eval('mine + 1')).toMatchObject({ value: 2 });
    expect(executor?.state).toBe('ready');
  });
});
