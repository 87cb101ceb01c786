/**
 * What a database statement costs through a vmgate session, side by side with
 * raw mysql2 on the same server, in the same run; every variant of a phase runs
 * in every round, the order rotating, figures are medians over rounds. Phases,
 * variants, options, database: docs/benchmarks-db.md.
 *
 * Longer than the other benchmarks (~950 lines) because its six phases drive
 * four different sides (a raw connection or pool, in-process session engines,
 * a gateway child with its ws client child, memory children), each next to the
 * baseline it is compared with in the same round; the children re-run this
 * script in a `--role`, so the drivers of one phase and its baseline stay in one file.
 */
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import vm from 'node:vm';
import type mysql from 'mysql2/promise';
import WebSocket from 'ws';
import { findPackageRoot } from '../common/package-root';
import { type EmbeddedDatabase, startEmbeddedDatabase } from '../db/embedded-mariadb';
import { kyselyScript } from '../db/kysely-bundle';
import { DatabasePool, DEFAULT_DATABASE_OPTIONS, type ServerFlavor } from '../db/pool';
import { defaultExecutorCount } from '../executors/options';
import type { EngineInput, EngineOutput } from '../sandbox/engine-messages';
import { SessionEngine } from '../sandbox/session-engine';
import type { SessionLimits } from '../sandbox/session-limits';
import { summarizeProfile } from './cpuprofile-top';
import { benchCommand, int, listOf, parseOptions } from './lib/args';
import { WindowProfiler } from './lib/diag';
import { settleGc } from './lib/gc';
import { procStat } from './lib/proc';
import { detectFlavor, openRawConnection, openRawPool, serverPid, sessionSetupSql } from './lib/raw-mysql';
import { floorContext } from './lib/realms';
import type { Column } from './lib/report';
import { columns, fmt, fmtInt, fmtRatio, machineLine, resultFile, sourceFingerprint, writeJson } from './lib/report';
import { Child, emitEvent, exitSoon, runInChild, runMain, serveRpc } from './lib/rpc';
import { serveGateway, serverWindow, spawnGateway } from './lib/servers';
import { mean, medianFields, percentile, rotatingRounds } from './lib/stats';
import { closedLoops, summarizeWindow, windowMarks } from './lib/window';

const ROOT = findPackageRoot(__dirname);
const cpuMsOf = (pid: number | undefined) => (pid === undefined ? undefined : procStat(pid)?.cpuMs);
const rssKbOf = (pid: number | undefined) => {
  const rss = pid === undefined ? undefined : procStat(pid)?.rss;
  return rss === undefined ? undefined : rss / 1024;
};
const ROWS = 10_000;
const TARGET_P50_OVER_RAW_MS = 0.15;
const TARGET_THROUGHPUT_RATIO = 0.5;
const TARGET_MEMORY_KB = 1024;
/** Long evals (the in-realm loops) get this budget. */
const LONG_EVAL_MS = 60_000;
const LIMITS: Partial<SessionLimits> = { maxTimeoutMs: 120_000 };

/** The k-th id of the fixed permutation of 1..ROWS (7919 is prime, coprime with 10 000). */
const idAt = (k: number, offset = 0) => 1 + ((k * 7919 + offset) % ROWS);
const REALM_ID = (k: string, offset: string | number = 0) => `(1 + ((${k} * 7919 + ${offset}) % ${ROWS}))`;

/** A session engine driven in-process, as the gateway drives it. */
class EngineClient {
  readonly #pending = new Map<number, (message: EngineOutput) => void>();
  readonly #engine: SessionEngine;
  #ref = 0;

  constructor(pool: DatabasePool) {
    this.#engine = new SessionEngine({
      limits: LIMITS,
      database: { pool, hint: '', kysely: kyselyScript },
      emit: (message) => {
        if (message.type === 'log') process.stderr.write(`[session log] ${message.text.slice(0, 300)}\n`);
        if (message.type === 'log' || message.type === 'closed' || message.type === 'transaction') return;
        this.#pending.get(message.ref)?.(message);
        this.#pending.delete(message.ref);
      },
    });
  }

  /** Sends one request; resolves with its terminal message, or throws unless it is of type `expect`. */
  send(input: { type: 'eval'; code: string; timeoutMs?: number } | { type: 'commit' }, expect?: string) {
    const ref = ++this.#ref;
    return new Promise<EngineOutput>((resolve, reject) => {
      this.#pending.set(ref, (m) =>
        expect && m.type !== expect
          ? reject(new Error(`${input.type} failed: ${JSON.stringify(m).slice(0, 500)}`))
          : resolve(m),
      );
      this.#engine.send({ ...input, ref } as EngineInput);
    });
  }

  /** The eval's value decoded from its JSON (strings come back as strings); throws on an error reply. */
  async value(code: string, timeoutMs?: number): Promise<unknown> {
    const m = await this.send({ type: 'eval', code, ...(timeoutMs ? { timeoutMs } : {}) }, 'result');
    return m.type === 'result' ? JSON.parse(m.value) : undefined;
  }

  close(): Promise<void> {
    return this.#engine.close('benchmark done');
  }
}

/** The floor of delivering anything into a realm (docs/design.md §6): one timed entry into a bare context. */
const FLOOR_SCRIPT = new vm.Script('1 + 1', { filename: 'floor' });
function floorEntry(): () => void {
  const context = floorContext();
  return () => FLOOR_SCRIPT.runInContext(context, { timeout: 5_000, displayErrors: false });
}

const SELECT_SQL = 'SELECT * FROM bench WHERE id = ?';
const kyselySelect = (id: string | number) =>
  `await db.selectFrom('bench').selectAll().where('id', '=', ${id}).execute()`;
const sqlSelect = (id: string | number) => `await sql\`SELECT * FROM bench WHERE id = \${${id}}\`.execute(db)`;
const kyselyInsertOnly = (id: string | number) =>
  `await db.insertInto('bench_w').values({ id: ${id}, name: 'name-' + ${id}, n: ${id} }).execute()`;
const kyselyInsert = (id: string | number) => `${kyselyInsertOnly(id)}; await db.commit()`;
/** The load-script workload: one eval per insert (literals differ every time), then a `commit` op. */
const kyselyTxInsert = (s: number, k: number) =>
  `await db.insertInto('bench_tx').values({ s: ${s}, k: ${k} }).execute()`;
const RAW_TX_INSERT = 'INSERT INTO bench_tx (s, k) VALUES (?, ?)';
type GatewayWorkload = 'select' | 'insert';

/** An eval that runs `body` (which may use `id`) n times and returns each iteration's latency (ms), as JSON text. */
const realmLoop = (n: number, body: string, idExpr: string) => `await (async () => {
  const lat = new Array(${n});
  for (let k = 0; k < ${n}; k++) {
    const id = ${idExpr};
    const t = performance.now();
    ${body};
    lat[k] = performance.now() - t;
  }
  return JSON.stringify(lat);
})()`;

/** An eval that loops until the host-clock time `end`, counting the statements that finish in [start, end). */
const realmWindowLoop = (body: string, offset: number, start: number, end: number) => `await (async () => {
  const lat = [];
  let n = 0;
  for (let k = 0; k < 10000000; k++) {
    const id = ${REALM_ID('k', offset)};
    const t = performance.now();
    ${body};
    const u = performance.now();
    if (u >= ${end}) break;
    if (u >= ${start}) { n++; lat.push(u - t); }
  }
  return JSON.stringify({ n, lat });
})()`;

const PHASES = ['latency', 'insert', 'throughput', 'gateway', 'gateway-insert', 'memory'] as const;
type Phase = (typeof PHASES)[number];

function readOptions() {
  const o = parseOptions<{
    quick?: boolean;
    rounds?: number;
    n?: number;
    insertN?: number;
    duration?: number;
    warmup: number;
    sessions: number;
    executors: number;
    memSessions?: number;
    memRuns?: number;
    phases: Phase[];
    variants?: string[];
    profile?: boolean;
  }>(
    benchCommand(
      'db',
      'what a database statement costs through a vmgate session, next to raw mysql2 (docs/benchmarks-db.md)',
    )
      .option('--quick', '1 round, smaller N, 2 s windows (smoke test)')
      .option('--rounds <n>', 'rounds; the variant order rotates (default 3, --quick 1)', int())
      .option('--n <n>', 'selects per variant per round (default 2000, --quick 500)', int())
      .option('--insert-n <n>', 'insert+commit per variant per round (default 500, --quick 100)', int())
      .option('--duration <s>', 'throughput window, seconds (default 5, --quick 2)', int())
      .option('--warmup <s>', 'warm-up before each throughput window, seconds', int(), 1)
      .option('--sessions <n>', 'sessions / pool size of the throughput phases', int(), 50)
      .option(
        '--executors <n>',
        'executor processes of the gateway phases (0: in-process)',
        int(0),
        defaultExecutorCount(),
      )
      .option('--mem-sessions <n>', 'sessions per memory child (default 200, --quick 50)', int())
      .option('--mem-runs <n>', 'memory runs (default 3, --quick 1)', int())
      .option('--phases <list>', `among ${PHASES.join(',')}`, listOf(PHASES), [...PHASES])
      .option('--variants <list>', 'only these variant keys', (raw: string) => raw.split(',').filter(Boolean))
      .option('--profile', "diagnostic: CPU profile of each vmgate variant's measured part (round 1)"),
  );
  const quick = o.quick === true;
  return {
    rounds: o.rounds ?? (quick ? 1 : 3),
    n: o.n ?? (quick ? 500 : 2000),
    insertN: o.insertN ?? (quick ? 100 : 500),
    durationMs: (o.duration ?? (quick ? 2 : 5)) * 1000,
    warmupMs: o.warmup * 1000,
    sessions: o.sessions,
    executors: o.executors,
    memSessions: o.memSessions ?? (quick ? 50 : 200),
    memRuns: o.memRuns ?? (quick ? 1 : 3),
    phases: o.phases,
    variants: o.variants,
    profile: o.profile === true,
    json: o.json === true,
    role: o.role,
  };
}
type Options = ReturnType<typeof readOptions>;

/** The variants of a phase that `--variants` selects. */
const pick = <T extends { key: string }>(options: Options, variants: T[]) =>
  variants.filter((v) => !options.variants || options.variants.includes(v.key));

interface Db {
  readonly url: string;
  readonly flavor: ServerFlavor;
  readonly serverPid: number | undefined;
  readonly source: string;
  readonly version: string;
  stop(): Promise<void>;
}

async function openDatabase(): Promise<Db> {
  let embedded: EmbeddedDatabase | undefined;
  let url = process.env.DATABASE_URL;
  let source = 'DATABASE_URL';
  if (!url) {
    embedded = await startEmbeddedDatabase({
      dataDir: path.join(ROOT, '.vmgate', 'bench-mariadb'),
      database: 'vmgate_bench',
    });
    url = embedded.url;
    source = 'embedded MariaDB (.vmgate/bench-mariadb, Unix socket)';
  }
  const flavor = await detectFlavor(url);
  const connection = await openRawConnection(url, flavor);
  let version = '?';
  try {
    const [v] = await connection.query('SELECT VERSION() AS v');
    version = String((v as Array<{ v: string }>)[0]?.v);
    const [count] = await connection
      .query('SELECT COUNT(*) AS c, MIN(id) AS lo, MAX(id) AS hi FROM bench')
      .catch(() => [[{ c: -1 }]]);
    const c = (count as Array<{ c: number; lo: number; hi: number }>)[0];
    if (c?.c !== ROWS || c.lo !== 1 || c.hi !== ROWS) {
      process.stderr.write(`creating table bench with ${ROWS} rows…\n`);
      await connection.query('DROP TABLE IF EXISTS bench');
      await connection.query('CREATE TABLE bench (id INT PRIMARY KEY, name VARCHAR(40), n INT)');
      for (let base = 0; base < ROWS; base += 1000) {
        const rows = [];
        for (let i = base + 1; i <= Math.min(ROWS, base + 1000); i++) rows.push([i, `name-${i}`, (i * 37) % 1000]);
        await connection.query('INSERT INTO bench (id, name, n) VALUES ?', [rows]);
      }
    }
    await connection.query('DROP TABLE IF EXISTS bench_w');
    await connection.query('CREATE TABLE bench_w (id INT PRIMARY KEY, name VARCHAR(40), n INT)');
    await connection.query('DROP TABLE IF EXISTS bench_tx');
    await connection.query('CREATE TABLE bench_tx (id BIGINT AUTO_INCREMENT PRIMARY KEY, s INT, k INT)');
    // Pull the table into the buffer pool.
    await connection.query('SELECT SUM(n) FROM bench');
    await connection.query('COMMIT');
  } finally {
    await connection.end();
  }
  const pid = await serverPid(url);
  return { url, flavor, serverPid: pid, source, version, stop: async () => embedded?.stop() };
}

const profiles: string[] = [];
const profileFile = (name: string) => resultFile(`db-profile-${name}`, '.cpuprofile');
const addProfile = (name: string, file: string) =>
  profiles.push(`--- profile: ${name} (${path.relative(ROOT, file)})\n${summarizeProfile(file, { top: 20 })}`);

async function profiled<T>(name: string | undefined, fn: () => Promise<T>): Promise<T> {
  if (!name) return fn();
  const profiler = await WindowProfiler.start();
  try {
    return await fn();
  } finally {
    const file = profileFile(name);
    await profiler.stop(file);
    addProfile(name, file);
  }
}

const isVmgate = (key: string) => !key.startsWith('raw');
const profileName = (options: Options, phase: string, key: string, round: number) =>
  options.profile && round === 0 && isVmgate(key) ? `${phase}-${key}` : undefined;

interface Variant {
  readonly key: string;
  readonly label: string;
  /** Statements per operation when the p50 target applies to the row (0: no target). */
  readonly target: number;
  /** Per-operation latencies (ms) of n operations; `base`: where this run's ids start (a fresh range every run). */
  run(n: number, base: number): Promise<number[]>;
}
const variant = (key: string, label: string, target: number, run: Variant['run']): Variant => ({
  key,
  label,
  target,
  run,
});

/** Per variant, medians over rounds; cpuUs: this process's CPU (all threads, node:vm's watchdog too) per operation, µs. */
type LatencyRow = Awaited<ReturnType<typeof runVariants>>[number];

async function runVariants(phase: string, options: Options, variants: Variant[], n: number) {
  let base = 1;
  const run = async (v: Variant, count: number) => {
    base += count;
    return v.run(count, base - count);
  };
  for (const v of variants) await run(v, Math.ceil(n / 4));
  const runs = await rotatingRounds(options.rounds, variants, async (v, round) => {
    const cpu = process.cpuUsage();
    const lat = await profiled(profileName(options, phase, v.key, round), () => run(v, n));
    const { user, system } = process.cpuUsage(cpu);
    process.stderr.write(`  round ${round + 1} ${v.key}: p50 ${us(percentile(lat, 50))} µs\n`);
    return { lat, cpuUs: (user + system) / n, sysUs: system / n };
  });
  return variants.map(({ key, label, target }) => {
    const r = (runs.get(key) ?? []).map(({ lat, ...cpu }) => {
      return { p50: percentile(lat, 50), p99: percentile(lat, 99), mean: mean(lat), ...cpu };
    });
    return { key, label, target, ...(medianFields(r) as (typeof r)[number]), p50s: r.map((x) => x.p50) };
  });
}

/** A loop timed in the host: `op(k)` n times. */
async function hostLoop(n: number, op: (k: number) => Promise<unknown>): Promise<number[]> {
  const lat = new Array<number>(n);
  for (let k = 0; k < n; k++) {
    const t = performance.now();
    await op(k);
    lat[k] = performance.now() - t;
  }
  return lat;
}

/** An in-realm loop: each statement timed inside the realm. */
async function realmLoopRun(client: EngineClient, n: number, body: string, idExpr: string): Promise<number[]> {
  const lat = JSON.parse((await client.value(realmLoop(n, body, idExpr), LONG_EVAL_MS)) as string) as number[];
  if (lat.length !== n) throw new Error(`realm loop returned ${lat.length} samples, expected ${n}`);
  return lat;
}

/** One eval per operation (then a `commit` op with `commitOp`), timed from `send` to the terminal message. */
const perEvalRun = (client: EngineClient, n: number, code: (k: number) => string, commitOp = false) =>
  hostLoop(n, async (k) => {
    await client.send({ type: 'eval', code: code(k) }, 'result');
    if (commitOp) await client.send({ type: 'commit' }, 'ok');
  });

interface OneSession {
  readonly raw: mysql.Connection;
  /** A session in session pool mode (the default). */
  readonly client: EngineClient;
  /** A session in transaction pool mode: its connection goes back to the pool (reset on the server) after every commit. */
  readonly txClient: EngineClient;
}

/** Phases 1 and 2: one session (Kysely loaded, a connection bound) vs one raw connection. */
async function oneSession(db: Db, options: Options, phase: string, n: number, make: (s: OneSession) => Variant[]) {
  const raw = await openRawConnection(db.url, db.flavor);
  const pool = new DatabasePool({ ...DEFAULT_DATABASE_OPTIONS, url: db.url, poolSize: 2 });
  const txPool = new DatabasePool({ ...DEFAULT_DATABASE_OPTIONS, url: db.url, poolSize: 2, poolMode: 'transaction' });
  const clients = [new EngineClient(pool), new EngineClient(txPool)] as const;
  try {
    for (const c of clients) {
      const value = await c.value(kyselySelect(1));
      if (!Array.isArray(value) || value.length !== 1) throw new Error(`unexpected select ${JSON.stringify(value)}`);
    }
    const variants = make({ raw, client: clients[0], txClient: clients[1] });
    return await runVariants(phase, options, pick(options, variants), n);
  } finally {
    const { count, ms, failed } = txPool.resets;
    if (count > 0) {
      const mean = (ms / count).toFixed(3);
      process.stderr.write(
        `transaction pool mode: ${count} hand-overs, mean reset + setup ${mean} ms (${failed} failed)\n`,
      );
    }
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all([pool.close(), txPool.close(), raw.end()]);
  }
}

const phaseLatency = (db: Db, options: Options) =>
  oneSession(db, options, 'select', options.n, ({ raw, client }) => [
    variant('raw', 'raw mysql2 connection.query', 0, (n, o) => hostLoop(n, (k) => raw.query(SELECT_SQL, [idAt(k, o)]))),
    variant('kysely', 'vmgate, Kysely builder, in-realm loop', 1, (n, o) =>
      realmLoopRun(client, n, kyselySelect('id'), REALM_ID('k', o)),
    ),
    variant('sql', 'vmgate, sql`` template, in-realm loop', 1, (n, o) =>
      realmLoopRun(client, n, sqlSelect('id'), REALM_ID('k', o)),
    ),
    variant('eval', 'vmgate, one eval per statement (engine)', 0, (n, o) =>
      perEvalRun(client, n, (k) => kyselySelect(idAt(k, o))),
    ),
  ]);

const phaseInsert = (db: Db, options: Options) =>
  oneSession(db, options, 'insert', options.insertN, ({ raw, client, txClient }) => {
    const setup = sessionSetupSql(db.flavor);
    const insert = (id: number) =>
      raw.query('INSERT INTO bench_w (id, name, n) VALUES (?, ?, ?)', [id, `name-${id}`, id]);
    return [
      variant('raw', 'raw mysql2: query(INSERT) + query(COMMIT)', 0, (n, base) =>
        hostLoop(n, (k) => insert(base + k).then(() => raw.query('COMMIT'))),
      ),
      variant('kysely', 'vmgate, Kysely insert + db.commit(), in-realm loop', 2, (n, base) =>
        realmLoopRun(client, n, kyselyInsert('id'), `${base} + k`),
      ),
      variant('eval', 'vmgate, one eval per insert + commit (engine)', 0, (n, base) =>
        perEvalRun(client, n, (k) => kyselyInsert(base + k)),
      ),
      variant('eval+op', 'vmgate, one eval per insert, then a commit op (engine, session pool mode)', 0, (n, base) =>
        perEvalRun(client, n, (k) => kyselyInsertOnly(base + k), true),
      ),
      variant(
        'eval+op-tx',
        'the same in transaction pool mode (a hand-over, so a reset, after every commit)',
        0,
        (n, base) => perEvalRun(txClient, n, (k) => kyselyInsertOnly(base + k), true),
      ),
      variant('raw-reset', 'raw mysql2: what one hand-over adds: reset() + the session setup', 0, (n) =>
        hostLoop(n, () => raw.reset().then(() => raw.query(setup))),
      ),
    ];
  });

interface ThroughputRun {
  readonly statementsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** CPU over the window, in cores (1.0 = one core busy), per process. */
  readonly cpu: Readonly<Record<string, number | undefined>>;
}

interface ThroughputVariant {
  readonly key: string;
  readonly label: string;
  /** The throughput target applies to this row. */
  readonly target: boolean;
  run(options: Options, db: Db, round: number): Promise<ThroughputRun>;
}

interface ThroughputRow extends ThroughputRun, Pick<ThroughputVariant, 'key' | 'label' | 'target'> {
  readonly perSecRuns: readonly number[];
}

/** CPU of this process and of the database server over the window [start, end) (and a profile of it, if named). */
function windowProbe(db: Db, start: number, end: number, profile: string | undefined) {
  const cpuNow = () => {
    const u = process.cpuUsage();
    return { self: (u.user + u.system) / 1000, server: cpuMsOf(db.serverPid) };
  };
  let a: ReturnType<typeof cpuNow> | undefined;
  let b: ReturnType<typeof cpuNow> | undefined;
  let profiler: Promise<WindowProfiler> | undefined;
  let stopped: Promise<void> | undefined;
  const file = profile ? profileFile(profile) : '';
  const marks = windowMarks(
    start,
    end,
    () => {
      a = cpuNow();
      if (profile) profiler = WindowProfiler.start();
    },
    () => {
      b = cpuNow();
      stopped = profiler?.then((p) => p.stop(file));
    },
  );
  return async (window: ReturnType<typeof summarizeWindow>): Promise<ThroughputRun> => {
    marks.cancel();
    if (stopped && profile) addProfile(profile, await stopped.then(() => file));
    const secs = (end - start) / 1000;
    const over = (x?: number, y?: number) => (x !== undefined && y !== undefined ? (y - x) / 1000 / secs : undefined);
    return { ...window, cpu: { bench: over(a?.self, b?.self), server: over(a?.server, b?.server) } };
  };
}

/** S held connections of a raw pool, each in a closed loop of `op`. */
async function rawPoolRun(
  options: Options,
  db: Db,
  op: (c: mysql.PoolConnection, j: number, k: number) => Promise<unknown>,
): Promise<ThroughputRun> {
  const pool = openRawPool(db.url, db.flavor, options.sessions);
  const connections: mysql.PoolConnection[] = [];
  try {
    for (let j = 0; j < options.sessions; j++) connections.push(await pool.getConnection());
    await Promise.all(connections.map((c) => c.query(SELECT_SQL, [1])));
    const start = performance.now() + options.warmupMs;
    const end = start + options.durationMs;
    const probe = windowProbe(db, start, end, undefined);
    const { counts, lat } = await closedLoops(connections.length, start, end, (j, k) =>
      op(connections[j] as mysql.PoolConnection, j, k),
    );
    return await probe(summarizeWindow(counts, lat, options.durationMs));
  } finally {
    for (const c of connections) c.release();
    await pool.end();
  }
}

/** The raw pool; `withEntry`: each statement followed by one timed entry into a context of its connection (the floor). */
const rawPoolVariant = (withEntry: boolean): ThroughputVariant => ({
  key: withEntry ? 'raw-pool+entry' : 'raw-pool',
  label: withEntry ? 'floor: raw pool + one timed runInContext per statement' : 'raw mysql2 pool, S held connections',
  target: false,
  run(options, db) {
    const enter = Array.from({ length: options.sessions }, () => (withEntry ? floorEntry() : undefined));
    return rawPoolRun(options, db, async (c, j, k) => {
      await c.query(SELECT_SQL, [idAt(k, j * 131)]);
      enter[j]?.();
    });
  },
});

/** S in-process engines, each looping inside one long eval. */
const enginesLoopVariant: ThroughputVariant = {
  key: 'engines-loop',
  label: 'vmgate: S in-process engines, Kysely, one long eval each',
  target: true,
  async run(options, db, round) {
    const pool = new DatabasePool({ ...DEFAULT_DATABASE_OPTIONS, url: db.url, poolSize: options.sessions });
    const clients = Array.from({ length: options.sessions }, () => new EngineClient(pool));
    try {
      // Kysely loaded and a connection bound in every session.
      for (const c of clients) await c.value(kyselySelect(1));
      const start = performance.now() + options.warmupMs;
      const end = start + options.durationMs;
      const probe = windowProbe(db, start, end, profileName(options, 'throughput', 'engines-loop', round));
      const lat: number[] = [];
      const counts = await Promise.all(
        clients.map(async (c, j) => {
          const code = realmWindowLoop(kyselySelect('id'), j * 131, start, end);
          const r = JSON.parse((await c.value(code, LONG_EVAL_MS)) as string) as { n: number; lat: number[] };
          lat.push(...r.lat);
          return r.n;
        }),
      );
      return await probe(summarizeWindow(counts, lat, options.durationMs));
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      await pool.close();
    }
  },
};

/** Every acknowledged commit must be a row (and nothing else may be). */
async function countTxRows(db: Db): Promise<number> {
  const pool = openRawPool(db.url, db.flavor, 1);
  try {
    const [rows] = await pool.query('SELECT COUNT(*) AS n FROM bench_tx');
    return Number((rows as Array<{ n: number }>)[0]?.n);
  } finally {
    await pool.end();
  }
}

async function checkTxRows<T>(db: Db, run: () => Promise<T & { acknowledged: number }>): Promise<T> {
  const before = await countTxRows(db);
  const result = await run();
  const rows = (await countTxRows(db)) - before;
  if (result.acknowledged !== rows) throw new Error(`${result.acknowledged} commits acknowledged but ${rows} rows`);
  return result;
}

/**
 * The raw side of the insert workload, INSERT + COMMIT per transaction, the
 * INSERT as text (the baseline), as a prepared statement kept per connection
 * (what a session pays in session pool mode), or prepared again for every
 * transaction (transaction pool mode: each hand-over's reset drops the
 * server's prepared statements).
 */
const rawPoolTxVariant = (mode: 'text' | 'prepared' | 'prepare-each'): ThroughputVariant => ({
  key: mode === 'text' ? 'raw-pool-insert' : `raw-pool-insert-${mode}`,
  label: `raw mysql2 pool, S held connections, INSERT + COMMIT${{ text: '', prepared: ' (prepared, kept)', 'prepare-each': ' (prepared per transaction)' }[mode]}`,
  target: false,
  run: (options, db) =>
    checkTxRows(db, async () => {
      let acknowledged = 0;
      const result = await rawPoolRun(options, db, async (c, j, k) => {
        await (mode === 'text' ? c.query(RAW_TX_INSERT, [j, k]) : c.execute(RAW_TX_INSERT, [j, k]));
        await c.query('COMMIT');
        if (mode === 'prepare-each') c.unprepare(RAW_TX_INSERT);
        acknowledged++;
      });
      return { ...result, acknowledged };
    }),
});

/** A real gateway in a child process, S WebSocket sessions driven by a ws client in another. */
const gatewayVariant = (workload: GatewayWorkload): ThroughputVariant => ({
  key: workload === 'select' ? 'gateway' : 'gateway-insert',
  label:
    workload === 'select'
      ? 'vmgate gateway over ws (client in another process), one eval per statement'
      : 'vmgate gateway over ws, one eval per insert + one commit op (per transaction)',
  target: true,
  async run(options, db, round) {
    const profile = profileName(options, 'throughput', workload === 'select' ? 'gateway' : 'gateway-insert', round);
    const file = profile ? profileFile(profile) : '';
    const { child: gateway, ready } = await spawnGateway(__filename, {
      limits: { maxSessions: 10_000, maxSessionsPerAddress: 10_000, heartbeatMs: 0 },
      session: LIMITS,
      database: { mode: 'url', url: db.url, ...DEFAULT_DATABASE_OPTIONS, poolSize: options.sessions },
      executors: { count: options.executors },
    });
    let client: Child | undefined;
    try {
      const server: (number | undefined)[] = [];
      const watch = serverWindow(gateway, {
        ...(profile ? { profileFile: file } : {}),
        onEdge: (start) => (server[start ? 0 : 1] = cpuMsOf(db.serverPid)),
      });
      client = Child.role(__filename, 'client', [], [], (event) => watch.onEvent(event));
      await client.ready;
      await client.call('open', { port: ready.port, sessions: options.sessions });
      const run = () =>
        (client as Child).call<{
          counts: number[];
          acknowledged: number;
          p50Ms: number;
          p99Ms: number;
          clientCpu: number;
        }>('run', { warmupMs: options.warmupMs, durationMs: options.durationMs, workload });
      const result = workload === 'insert' ? await checkTxRows(db, run) : await run();
      const w = await watch.result();
      if (profile) addProfile(`${profile}, the gateway process`, file);
      const secs = options.durationMs / 1000;
      const [a, b] = server;
      return {
        statementsPerSec: result.counts.reduce((x, y) => x + y, 0) / secs,
        p50Ms: result.p50Ms,
        p99Ms: result.p99Ms,
        cpu: {
          gateway: w ? w.cpuPct / 100 : undefined,
          executors: w && options.executors > 0 ? w.childCpuPct / 100 : undefined,
          client: result.clientCpu,
          server: a !== undefined && b !== undefined ? (b - a) / 1000 / secs : undefined,
        },
      };
    } finally {
      await client?.stop();
      await gateway.stop();
    }
  },
});

async function runThroughput(db: Db, options: Options, variants: ThroughputVariant[]): Promise<ThroughputRow[]> {
  const runs = await rotatingRounds(options.rounds, variants, async (v, round) => {
    const r = await v.run(options, db, round);
    const cpu = Object.entries(r.cpu).map(([k, x]) => `${k} ${fmt(x, 2)}`);
    process.stderr.write(
      `  round ${round + 1} ${v.key}: ${fmtInt(r.statementsPerSec)} stmt/s, p50 ${fmt(r.p50Ms, 2)} ms, cpu ${cpu.join(', ')}\n`,
    );
    return r;
  });
  return variants.map(({ key, label, target }) => {
    const r = runs.get(key) ?? [];
    const { statementsPerSec, p50Ms, p99Ms } = medianFields(r) as ThroughputRun;
    const cpu = medianFields(r.map((x) => x.cpu)) ?? {};
    return { key, label, target, statementsPerSec, perSecRuns: r.map((x) => x.statementsPerSec), p50Ms, p99Ms, cpu };
  });
}

interface MemoryResult {
  readonly rssKb: number;
  readonly heapKb: number;
  readonly externalKb: number;
  readonly serverRssKb: number | undefined;
  readonly msPerSession: number;
}

/** N sessions that each ran one db statement (Kysely loaded, a connection bound), all kept alive. */
async function memoryChild(url: string, n: number): Promise<MemoryResult> {
  const pid = await serverPid(url);
  kyselyScript();
  // Warm-up on a pool that is closed again: compiles the bootstrap and Kysely,
  // warms the JIT, and leaves no idle connection behind to be reused.
  const warm = new DatabasePool({ ...DEFAULT_DATABASE_OPTIONS, url, poolSize: 4 });
  const warmClients = Array.from({ length: 4 }, () => new EngineClient(warm));
  for (const c of warmClients) await c.value(kyselySelect(1));
  await Promise.all(warmClients.map((c) => c.close()));
  await warm.close();
  await settleGc();
  const serverBefore = rssKbOf(pid);
  const before = process.memoryUsage();
  const t0 = performance.now();
  const pool = new DatabasePool({ ...DEFAULT_DATABASE_OPTIONS, url, poolSize: n });
  const clients: EngineClient[] = [];
  for (let i = 0; i < n; i++) {
    const client = new EngineClient(pool);
    const value = await client.value(kyselySelect(idAt(i)));
    if (!Array.isArray(value) || value.length !== 1) throw new Error('select returned no row');
    clients.push(client);
  }
  const ms = performance.now() - t0;
  await settleGc();
  const after = process.memoryUsage();
  const serverAfter = rssKbOf(pid);
  await Promise.all(clients.map((c) => c.close()));
  await pool.close();
  return {
    rssKb: (after.rss - before.rss) / 1024 / n,
    heapKb: (after.heapUsed - before.heapUsed) / 1024 / n,
    externalKb: (after.external - before.external) / 1024 / n,
    serverRssKb: serverBefore !== undefined && serverAfter !== undefined ? (serverAfter - serverBefore) / n : undefined,
    msPerSession: ms / n,
  };
}

async function phaseMemory(db: Db, options: Options): Promise<MemoryResult & { runs: number[] }> {
  const runs: MemoryResult[] = [];
  for (let run = 0; run < options.memRuns; run++) {
    const result = await runInChild<MemoryResult>(__filename, { url: db.url, n: options.memSessions });
    runs.push(result);
    process.stderr.write(
      `  run ${run + 1}: ${fmt(result.rssKb, 0)} KB RSS, ${fmt(result.heapKb, 0)} KB heap per session\n`,
    );
  }
  return { ...(medianFields(runs) as MemoryResult), runs: runs.map((x) => x.rssKb) };
}

function clientRole(): void {
  type Socket = { ws: WebSocket; pending: Map<number, (frame: { type: string }) => void> };
  const sockets: Socket[] = [];
  let nextId = 0;
  let acknowledged = 0;
  const send = async (s: Socket, frame: Record<string, unknown>, expect = 'result') => {
    const id = ++nextId;
    const reply = await new Promise<{ type: string }>((resolve) => {
      s.pending.set(id, resolve);
      s.ws.send(JSON.stringify({ ...frame, id }));
    });
    if (reply.type !== expect) throw new Error(`request failed over ws: ${JSON.stringify(reply).slice(0, 500)}`);
  };
  /** One operation of the workload: a select, or an insert then a commit op. */
  const operation = async (s: Socket, j: number, k: number, workload: GatewayWorkload) => {
    if (workload === 'select') return send(s, { op: 'eval', code: kyselySelect(idAt(k, j * 131)) });
    await send(s, { op: 'eval', code: kyselyTxInsert(j, k) });
    await send(s, { op: 'commit' }, 'ok');
    acknowledged++;
  };
  serveRpc({
    open: async (a) => {
      for (let j = 0; j < Number(a.sessions); j++) {
        const ws = new WebSocket(`ws://127.0.0.1:${a.port}/`, 'vmgate.v1', { perMessageDeflate: false });
        const s: Socket = { ws, pending: new Map() };
        await new Promise<void>((resolve, reject) => {
          ws.once('error', reject);
          ws.on('message', (data) => {
            const frame = JSON.parse(data.toString()) as { type: string; id?: number };
            if (frame.type === 'hello') resolve();
            const done = typeof frame.id === 'number' && frame.type !== 'log' ? s.pending.get(frame.id) : undefined;
            if (done && frame.id !== undefined) {
              s.pending.delete(frame.id);
              done(frame);
            }
          });
        });
        sockets.push(s);
      }
      for (const s of sockets) await send(s, { op: 'eval', code: kyselySelect(1) });
      return sockets.length;
    },
    run: async (a) => {
      const start = performance.now() + Number(a.warmupMs);
      const end = start + Number(a.durationMs);
      const cpuNow = () => {
        const u = process.cpuUsage();
        return (u.user + u.system) / 1000;
      };
      const cpu = [0, 0];
      const edge = (i: number, event: string) => () => {
        cpu[i] = cpuNow();
        emitEvent({ event });
      };
      const marks = windowMarks(start, end, edge(0, 'window-start'), edge(1, 'window-end'));
      acknowledged = 0;
      const { counts, lat } = await closedLoops(sockets.length, start, end, (j, k) =>
        operation(sockets[j] as Socket, j, k, a.workload as GatewayWorkload),
      );
      marks.cancel();
      const clientCpu = ((cpu[1] as number) - (cpu[0] as number)) / (end - start);
      return { counts, p50Ms: percentile(lat, 50), p99Ms: percentile(lat, 99), acknowledged, clientCpu };
    },
    stop: () => {
      for (const s of sockets) s.ws.close();
      return exitSoon();
    },
  });
}

const us = (ms: number) => fmt(ms * 1000, 0);
const withSessions = (label: string, options: Options) => label.replace(/\bS\b/g, String(options.sessions));

function latencyColumns(rows: readonly LatencyRow[]): Column<LatencyRow>[] {
  const raw = rows.find((r) => r.key === 'raw');
  const over = (r: LatencyRow) => (raw ? r.p50 - raw.p50 : Number.NaN);
  const allowed = (r: LatencyRow) => TARGET_P50_OVER_RAW_MS * r.target;
  return [
    ['variant', (r) => r.label],
    ['p50 µs', (r) => us(r.p50)],
    ['p99 µs', (r) => us(r.p99)],
    ['mean µs', (r) => us(r.mean)],
    ['p50 range', (r) => `${us(Math.min(...r.p50s))}–${us(Math.max(...r.p50s))}`],
    ['p50 − raw', (r) => (r === raw ? '' : `${over(r) >= 0 ? '+' : ''}${us(over(r))}`)],
    ['p50 ×raw', (r) => (raw && r !== raw ? fmtRatio(r.p50 / raw.p50) : '')],
    ['CPU µs/op', (r) => fmt(r.cpuUs, 0)],
    ['sys µs/op', (r) => fmt(r.sysUs, 0)],
    ['target', (r) => (r.target ? `≤ +${us(allowed(r))} ${over(r) <= allowed(r) ? 'PASS' : 'FAIL'}` : '')],
  ];
}

function throughputColumns(rows: readonly ThroughputRow[], options: Options): Column<ThroughputRow>[] {
  // The baseline of the phase: the raw pool (selects, or INSERT + COMMIT).
  const raw = rows.find((r) => r.key === 'raw-pool' || r.key === 'raw-pool-insert');
  const ratio = (r: ThroughputRow) => (raw ? r.statementsPerSec / raw.statementsPerSec : Number.NaN);
  // Each round's ratio to the baseline measured in the same round.
  const roundRatios = (r: ThroughputRow) =>
    r.perSecRuns.map((x, i) => fmtRatio(x / (raw?.perSecRuns[i] ?? Number.NaN)));
  // CPU per operation of the side being measured: not the database server's, not the load client's.
  const ownCores = (r: ThroughputRow) =>
    Object.entries(r.cpu).reduce((sum, [k, v]) => (k === 'server' || k === 'client' ? sum : sum + (v ?? 0)), 0);
  return [
    ['variant', (r) => withSessions(r.label, options)],
    ['stmt/s', (r) => fmtInt(r.statementsPerSec)],
    ['per round', (r) => r.perSecRuns.map((x) => fmtInt(x)).join(' / ')],
    ['×raw', (r) => (r === raw ? '' : `${fmtRatio(ratio(r))} (rounds ${roundRatios(r).join(' / ')})`)],
    ['p50 ms', (r) => fmt(r.p50Ms, 2)],
    ['p99 ms', (r) => fmt(r.p99Ms, 2)],
    [
      'CPU (cores) in window',
      (r) =>
        Object.entries(r.cpu)
          .map(([k, v]) => `${k} ${fmt(v, 2)}`)
          .join(', '),
    ],
    ['CPU µs/op', (r) => fmtInt((ownCores(r) * 1e6) / r.statementsPerSec)],
    [
      'target',
      (r) => (r.target ? `≥ ${TARGET_THROUGHPUT_RATIO}× ${ratio(r) >= TARGET_THROUGHPUT_RATIO ? 'PASS' : 'FAIL'}` : ''),
    ],
  ];
}

const memoryColumns: Column<MemoryResult & { runs: number[] }>[] = [
  ['per session', () => 'session that ran one db statement (Kysely + bound connection)'],
  ['RSS KB', (r) => fmt(r.rssKb, 0)],
  ['RSS per run', (r) => r.runs.map((x) => fmt(x, 0)).join(' / ')],
  ['heap KB', (r) => fmt(r.heapKb, 0)],
  ['external KB', (r) => fmt(r.externalKb, 0)],
  ['db server KB', (r) => fmt(r.serverRssKb, 0)],
  ['ms each', (r) => fmt(r.msPerSession, 1)],
  ['target', (r) => `≤ ${TARGET_MEMORY_KB} KB ${r.rssKb <= TARGET_MEMORY_KB ? 'PASS' : 'FAIL'}`],
];

/** Each phase: its heading, how it runs, and its table. */
function phases(
  db: Db,
  o: Options,
): Record<Phase, { title: string; run: () => Promise<unknown>; table(rows: unknown): string }> {
  const s = o.sessions;
  const latency = (title: string, run: () => Promise<LatencyRow[]>) => ({
    title,
    run,
    table: (rows: unknown) => columns(latencyColumns(rows as LatencyRow[]), rows as LatencyRow[]),
  });
  const throughput = (title: string, variants: ThroughputVariant[]) => ({
    title,
    run: () => runThroughput(db, o, pick(o, variants)),
    table: (rows: unknown) => columns(throughputColumns(rows as ThroughputRow[], o), rows as ThroughputRow[]),
  });
  return {
    latency: latency('1. Primary-key select, one session vs one connection (per statement)', () => phaseLatency(db, o)),
    insert: latency('2. INSERT + COMMIT, one session vs one connection (per operation = 2 statements)', () =>
      phaseInsert(db, o),
    ),
    throughput: throughput(
      `3. Aggregate throughput, ${s} sessions vs a raw pool of ${s} (primary-key selects, closed loop, in-process)`,
      [rawPoolVariant(false), rawPoolVariant(true), enginesLoopVariant],
    ),
    gateway: throughput(
      `3b. Through a real gateway (${o.executors} executors): ${s} WebSocket sessions (ws client in a child process) vs the raw pool measured next to it`,
      [rawPoolVariant(false), gatewayVariant('select')],
    ),
    'gateway-insert': throughput(
      `3c. Insert + commit through a real gateway (${o.executors} executors): ${s} WebSocket sessions, one eval per insert then a commit op, vs a raw pool (INSERT + COMMIT); every acknowledged commit checked to be a row (figures: transactions/s)`,
      [
        rawPoolTxVariant('text'),
        rawPoolTxVariant('prepared'),
        rawPoolTxVariant('prepare-each'),
        gatewayVariant('insert'),
      ],
    ),
    memory: {
      title: `4. Memory, ${o.memSessions} sessions per child process (after gc(); medians of ${o.memRuns} runs)`,
      run: () => phaseMemory(db, o),
      table: (row: unknown) => columns(memoryColumns, [row as MemoryResult & { runs: number[] }]),
    },
  };
}

async function main(options: Options): Promise<void> {
  const fingerprint = sourceFingerprint();
  const loadavg = () =>
    os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ');
  process.stderr.write('starting the database…\n');
  const db = await openDatabase();
  const results: Record<string, unknown> = {};
  const out = [
    `bench:db — ${machineLine(fingerprint)}`,
    `database: ${db.source}, ${db.version}; load average at start ${loadavg()}`,
    `rounds ${options.rounds}, N ${options.n} selects / ${options.insertN} inserts per variant per round, ` +
      `throughput window ${options.durationMs / 1000} s after ${options.warmupMs / 1000} s warm-up, ${options.sessions} sessions; ` +
      `figures are medians over rounds. Session setup on every connection: ${sessionSetupSql(db.flavor)}`,
  ];
  try {
    const all = phases(db, options);
    for (const phase of PHASES.filter((p) => options.phases.includes(p))) {
      const { title, run, table } = all[phase];
      process.stderr.write(`${title}\n`);
      results[phase] = await run();
      out.push('', title, table(results[phase]));
    }
    if (options.profile) out.push('', '--profile was on: it perturbs the figures; quote figures from runs without it.');
    for (const p of profiles) out.push('', p);
    out.push('', `load average at end ${loadavg()}`);
  } finally {
    await db.stop();
  }
  const text = out.join('\n');
  process.stdout.write(`${text}\n`);
  const file = resultFile('db', '.json');
  writeJson(file, { machine: machineLine(fingerprint), options, results, text });
  process.stderr.write(`results written to ${path.relative(ROOT, file)}\n`);
  if (options.json) process.stdout.write(`${JSON.stringify(results)}\n`);
}

const options = readOptions();
if (options.role === 'gateway') serveGateway();
else if (options.role === 'client') clientRole();
else if (options.role === 'child') serveRpc({ run: (a) => memoryChild(String(a.url), Number(a.n)) });
// The parent exits when done (pools and timers of the phases may linger).
else runMain(() => main(options).then(() => process.exit(0)));
