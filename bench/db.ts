/**
 * What a database statement costs through a vmgate session, side by side with
 * raw mysql2 on the same server, in the same run. Phases, variants, options
 * and figures: docs/benchmarks-db.md (`npm run bench:db -- --help`).
 *
 * Database: `DATABASE_URL` if set, else the project's embedded MariaDB with
 * its data in `.vmgate/bench-mariadb` (database `vmgate_bench`), stopped at
 * the end. Raw side: connections opened as the gateway opens its own
 * (bench/lib/raw-mysql.ts); vmgate side: `SessionEngine`s with a
 * `DatabasePool` and the Kysely bundle, i.e. what the gateway hands each
 * session; the gateway phases run a real gateway (bench/lib/servers.ts) and a
 * ws client in child processes of their own. Every variant of a phase runs in
 * every round, the order rotating; figures are medians over rounds.
 *
 * Diagnostics (bench/lib/diag.ts; they perturb the figures a little):
 * `--entry-timing`, `--profile`, and `--what-if-untimed` (realm entries
 * without their timeout: prices Node's per-call watchdog; never a valid
 * configuration).
 *
 * Only local servers (Unix socket / 127.0.0.1). Every loop is bounded in count and time.
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
import type { EngineDatabase } from '../sandbox/database-calls';
import type { EngineOutput, EvalStats } from '../sandbox/engine-messages';
import { SessionEngine } from '../sandbox/session-engine';
import type { SessionLimits } from '../sandbox/session-limits';
import { summarizeProfile } from './cpuprofile-top';
import { benchCommand, int, listOf, parseOptions } from './lib/args';
import {
  type EntryCounters,
  entryCounters,
  entryTimingInstalled,
  installEntryTiming,
  installUntimedEntries,
  takeEntrySamples,
  WindowProfiler,
} from './lib/diag';
import { settleGc } from './lib/gc';
import { procStat } from './lib/proc';
import { detectFlavor, openRawConnection, openRawPool, serverPid, sessionSetupSql } from './lib/raw-mysql';
import { fmt, fmtInt, fmtRatio, machineLine, resultFile, sourceFingerprint, table, writeJson } from './lib/report';
import { Child, type ChildEvent, emitEvent, exitSoon, runInChild, runMain, serveRpc } from './lib/rpc';
import { type ServerWindow, serveGateway, spawnGateway } from './lib/servers';
import { median, medianFields, percentile } from './lib/stats';
import { closedLoops, summarizeWindow, windowMarks } from './lib/window';

const ROOT = findPackageRoot(__dirname);
/** CPU time (ms) and resident memory (KB) of a process (the database server), from /proc. */
const processCpuMs = (pid: number | undefined) => (pid === undefined ? undefined : procStat(pid)?.cpuMs);
const processRssKb = (pid: number | undefined) => {
  const rss = pid === undefined ? undefined : procStat(pid)?.rss;
  return rss === undefined ? undefined : rss / 1024;
};
const ROWS = 10_000;
const HOST = '127.0.0.1';
const PROTOCOL = 'vmgate.v1';

/** Targets. */
const TARGET_P50_OVER_RAW_MS = 0.15;
const TARGET_THROUGHPUT_RATIO = 0.5;
const TARGET_MEMORY_KB = 1024;

/** Long evals (the in-realm loops) get this budget. */
const LONG_EVAL_MS = 60_000;
const LIMITS: Partial<SessionLimits> = { maxTimeoutMs: 120_000 };

/** The k-th id of the fixed permutation of 1..ROWS (7919 is prime, coprime with 10 000). */
const idAt = (k: number, offset = 0) => 1 + ((k * 7919 + offset) % ROWS);
const REALM_ID = (k: string, offset: string | number = 0) => `(1 + ((${k} * 7919 + ${offset}) % ${ROWS}))`;

// ===========================================================================
// A session engine driven in-process
// ===========================================================================

class EngineClient {
  readonly engine: SessionEngine;
  readonly #pending = new Map<number, (message: EngineOutput) => void>();
  #ref = 0;
  logs = 0;

  constructor(database: EngineDatabase) {
    this.engine = new SessionEngine({
      limits: LIMITS,
      database,
      emit: (message) => {
        if (message.type === 'log') {
          this.logs++;
          if (this.logs <= 3) process.stderr.write(`[session log] ${message.level}: ${message.text.slice(0, 300)}\n`);
          return;
        }
        if (message.type === 'closed' || message.type === 'transaction') return;
        const resolve = this.#pending.get(message.ref);
        if (!resolve) return;
        this.#pending.delete(message.ref);
        resolve(message);
      },
    });
  }

  eval(code: string, timeoutMs?: number): Promise<EngineOutput> {
    const ref = ++this.#ref;
    return new Promise((resolve) => {
      this.#pending.set(ref, resolve);
      this.engine.send({ type: 'eval', ref, code, ...(timeoutMs !== undefined ? { timeoutMs } : {}) });
    });
  }

  /** The eval's value decoded from its JSON (strings come back as strings); throws on an error reply. */
  async value(code: string, timeoutMs?: number): Promise<{ value: unknown; stats: EvalStats }> {
    const message = await this.eval(code, timeoutMs);
    if (message.type !== 'result') throw new Error(`eval failed: ${JSON.stringify(message).slice(0, 500)}`);
    return { value: JSON.parse(message.value), stats: message.stats };
  }

  /** A `commit` request (the client's op, not `db.commit()`); throws on an error reply. */
  async commit(): Promise<void> {
    const ref = ++this.#ref;
    const message = await new Promise<EngineOutput>((resolve) => {
      this.#pending.set(ref, resolve);
      this.engine.send({ type: 'commit', ref });
    });
    if (message.type !== 'ok') throw new Error(`commit failed: ${JSON.stringify(message).slice(0, 500)}`);
  }

  close(): Promise<void> {
    return this.engine.close('benchmark done');
  }
}

function expectResult(message: EngineOutput): EvalStats {
  if (message.type !== 'result') throw new Error(`eval failed: ${JSON.stringify(message).slice(0, 500)}`);
  return message.stats;
}

/**
 * The design's floor for delivering anything into a realm (docs/design.md §6): a
 * null-prototype `afterEvaluate` context with codegen off, and one tiny
 * precompiled script run with a `timeout`.
 */
const FLOOR_SCRIPT = new vm.Script('1 + 1', { filename: 'floor' });
function floorEntry(): () => void {
  const context = vm.createContext(Object.create(null), {
    codeGeneration: { strings: false, wasm: false },
    microtaskMode: 'afterEvaluate',
  });
  return () => {
    FLOOR_SCRIPT.runInContext(context, { timeout: 5_000, displayErrors: false });
  };
}

const engineDatabase = (pool: DatabasePool): EngineDatabase => ({ pool, hint: '', kysely: kyselyScript });

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
/** The gateway's workload: primary-key selects, or insert + commit op (rows checked against acknowledgements). */
type GatewayWorkload = 'select' | 'insert';

/** An eval that runs `body` (which may use `id`) n times and returns each iteration's latency (ms), as JSON text. */
function realmLoop(n: number, body: string, idExpr: string): string {
  return `await (async () => {
  const lat = new Array(${n});
  for (let k = 0; k < ${n}; k++) {
    const id = ${idExpr};
    const t = performance.now();
    ${body};
    lat[k] = performance.now() - t;
  }
  return JSON.stringify(lat);
})()`;
}

/** An eval that loops until the host-clock time `end`, counting the statements that finish in [start, end). */
function realmWindowLoop(body: string, offset: number, start: number, end: number): string {
  return `await (async () => {
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
}

// ===========================================================================
// Options
// ===========================================================================

const PHASES = ['latency', 'insert', 'throughput', 'gateway', 'gateway-insert', 'memory'] as const;
type Phase = (typeof PHASES)[number];

interface Options {
  readonly rounds: number;
  readonly n: number;
  readonly insertN: number;
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly sessions: number;
  /** Executor processes of the gateway phases (the CLI's default: one per core; 0 = in-process). */
  readonly executors: number;
  readonly memSessions: number;
  readonly memRuns: number;
  readonly phases: ReadonlySet<Phase>;
  readonly variants: ReadonlySet<string> | undefined;
  readonly json: boolean;
  /** Time every timed `runInContext` (bench/lib/diag.ts). */
  readonly entryTiming: boolean;
  /** CPU-profile the measured part of each vmgate variant (round 1 only). */
  readonly profile: boolean;
  /** What-if: realm entries without a timeout (bench/lib/diag.ts). Never a valid configuration. */
  readonly untimed: boolean;
  readonly role: string | undefined;
}

function readOptions(): Options {
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
    entryTiming?: boolean;
    profile?: boolean;
    whatIfUntimed?: boolean;
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
      .option('--entry-timing', 'diagnostic: time every timed runInContext')
      .option('--profile', "diagnostic: CPU profile of each vmgate variant's measured part (round 1)")
      .option('--what-if-untimed', 'experiment: realm entries without their timeout (never a valid configuration)'),
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
    phases: new Set(o.phases),
    variants: o.variants ? new Set(o.variants) : undefined,
    json: o.json === true,
    entryTiming: o.entryTiming === true,
    profile: o.profile === true,
    untimed: o.whatIfUntimed === true,
    role: o.role,
  };
}

// ===========================================================================
// Database setup
// ===========================================================================

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
      await connection.query('COMMIT');
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
  return {
    url,
    flavor,
    serverPid: pid,
    source,
    version,
    stop: async () => {
      await embedded?.stop();
    },
  };
}

// ===========================================================================
// Phase 1 and 2: one session vs one connection
// ===========================================================================

interface LatencyRun {
  /** Per-operation latencies, ms. */
  readonly lat: readonly number[];
  /** Per-operation means of where the time went (vmgate only): realm entries, database, total. */
  readonly breakdown?: { readonly wallMs: number; readonly realmMs: number; readonly dbMs: number };
}

/** A raw loop's breakdown: everything outside `inEntryMs` is the database round trip. */
function breakdownOf(lat: readonly number[], inEntryMs: number) {
  const total = lat.reduce((a, b) => a + b, 0);
  return { wallMs: total / lat.length, realmMs: inEntryMs / lat.length, dbMs: (total - inEntryMs) / lat.length };
}

/** What this process (and the database server) spent per operation: CPU and context switches. */
interface Accounting {
  readonly userUs: number;
  readonly sysUs: number;
  readonly voluntaryCtx: number;
  readonly involuntaryCtx: number;
  readonly serverUs: number | undefined;
}

interface AccountingMark {
  readonly usage: NodeJS.ResourceUsage;
  readonly server: number | undefined;
}

function accountingMark(serverPidValue: number | undefined): AccountingMark {
  return { usage: process.resourceUsage(), server: processCpuMs(serverPidValue) };
}

function accounting(a: AccountingMark, b: AccountingMark, ops: number): Accounting {
  return {
    userUs: (b.usage.userCPUTime - a.usage.userCPUTime) / ops,
    sysUs: (b.usage.systemCPUTime - a.usage.systemCPUTime) / ops,
    voluntaryCtx: (b.usage.voluntaryContextSwitches - a.usage.voluntaryContextSwitches) / ops,
    involuntaryCtx: (b.usage.involuntaryContextSwitches - a.usage.involuntaryContextSwitches) / ops,
    serverUs: a.server !== undefined && b.server !== undefined ? ((b.server - a.server) * 1000) / ops : undefined,
  };
}

/** Timed realm entries during a measurement (`--entry-timing`). */
interface EntryStats {
  /** Entries per operation (or per statement, in throughput windows). */
  readonly perOp: number;
  readonly meanUs: number;
  readonly p50Us: number;
  readonly p99Us: number;
  /** Share of the measured wall time spent inside timed entries. */
  readonly share: number;
}

function entryStats(samples: readonly number[], ops: number, wallMs: number): EntryStats {
  const total = samples.reduce((a, b) => a + b, 0);
  return {
    perOp: samples.length / ops,
    meanUs: (total / samples.length) * 1000,
    p50Us: percentile(samples, 50) * 1000,
    p99Us: percentile(samples, 99) * 1000,
    share: total / wallMs,
  };
}

const profiles: string[] = [];
/** The database server's pid when it runs here (for its CPU time), set once the database is open. */
let serverPidValue: number | undefined;

async function profiled<T>(name: string, enabled: boolean, fn: () => Promise<T>): Promise<T> {
  if (!enabled) return fn();
  const profiler = await WindowProfiler.start();
  try {
    return await fn();
  } finally {
    const file = resultFile(`db-profile-${name}`, '.cpuprofile');
    await profiler.stop(file);
    profiles.push(`--- profile: ${name} (${path.relative(ROOT, file)})\n${summarizeProfile(file, { top: 20 })}`);
  }
}

interface Variant {
  readonly key: string;
  readonly label: string;
  readonly vmgate: boolean;
  /** Extra statements per operation beyond one (insert + commit = 2 statements). */
  readonly statements: number;
  /** Whether the p50 target applies to this row. */
  readonly target: boolean;
  run(n: number, round: number): Promise<LatencyRun>;
}

interface VariantSummary {
  readonly key: string;
  readonly label: string;
  readonly vmgate: boolean;
  readonly statements: number;
  readonly target: boolean;
  readonly p50: number;
  readonly p99: number;
  readonly mean: number;
  readonly p50Min: number;
  readonly p50Max: number;
  readonly p50s: readonly number[];
  readonly breakdown?: { readonly wallMs: number; readonly realmMs: number; readonly dbMs: number };
  readonly entries?: EntryStats;
  readonly acct?: Accounting;
}

async function runVariants(
  phase: string,
  options: Options,
  variants: readonly Variant[],
  n: number,
  warmupN: number,
): Promise<VariantSummary[]> {
  const rounds = options.rounds;
  const perRound = new Map<string, LatencyRun[]>();
  const entries = new Map<string, EntryStats[]>(variants.map((v) => [v.key, []]));
  const acct = new Map<string, Accounting[]>(variants.map((v) => [v.key, []]));
  for (const v of variants) {
    process.stderr.write(`  warm-up ${v.key}\n`);
    await v.run(warmupN, -1);
    perRound.set(v.key, []);
  }
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < variants.length; i++) {
      const v = variants[(i + round) % variants.length] as Variant;
      takeEntrySamples();
      const mark = accountingMark(serverPidValue);
      const t0 = performance.now();
      const result = await profiled(`${phase}-${v.key}`, options.profile && v.vmgate && round === 0, () =>
        v.run(n, round),
      );
      const wall = performance.now() - t0;
      acct.get(v.key)?.push(accounting(mark, accountingMark(serverPidValue), n));
      if (entryTimingInstalled() && v.vmgate) entries.get(v.key)?.push(entryStats(takeEntrySamples(), n, wall));
      perRound.get(v.key)?.push(result);
      process.stderr.write(
        `  round ${round + 1} ${v.key}: p50 ${fmt(percentile(result.lat, 50) * 1000, 0)} µs, p99 ${fmt(percentile(result.lat, 99) * 1000, 0)} µs\n`,
      );
    }
  }
  return variants.map((v) => {
    const runs = perRound.get(v.key) ?? [];
    const p50s = runs.map((r) => percentile(r.lat, 50));
    const breakdowns = runs.map((r) => r.breakdown).filter((b) => b !== undefined);
    const entryMedian = medianFields(entries.get(v.key) ?? []);
    const acctMedian = medianFields(acct.get(v.key) ?? []);
    return {
      ...(acctMedian ? { acct: acctMedian } : {}),
      ...(entryMedian ? { entries: entryMedian } : {}),
      key: v.key,
      label: v.label,
      vmgate: v.vmgate,
      statements: v.statements,
      target: v.target,
      p50: median(p50s),
      p99: median(runs.map((r) => percentile(r.lat, 99))),
      mean: median(runs.map((r) => r.lat.reduce((a, b) => a + b, 0) / r.lat.length)),
      p50Min: Math.min(...p50s),
      p50Max: Math.max(...p50s),
      p50s,
      ...(breakdowns.length > 0
        ? {
            breakdown: {
              wallMs: median(breakdowns.map((b) => b.wallMs)),
              realmMs: median(breakdowns.map((b) => b.realmMs)),
              dbMs: median(breakdowns.map((b) => b.dbMs)),
            },
          }
        : {}),
    };
  });
}

function selected(options: Options, variants: Variant[]): Variant[] {
  return options.variants ? variants.filter((v) => options.variants?.has(v.key)) : variants;
}

/** An in-realm loop: its latencies, plus the eval's own accounting divided per operation. */
async function realmLoopRun(client: EngineClient, n: number, body: string, idExpr: string): Promise<LatencyRun> {
  const { value, stats } = await client.value(realmLoop(n, body, idExpr), LONG_EVAL_MS);
  const lat = JSON.parse(value as string) as number[];
  if (lat.length !== n) throw new Error(`realm loop returned ${lat.length} samples, expected ${n}`);
  return { lat, breakdown: { wallMs: stats.ms / n, realmMs: stats.cpuMs / n, dbMs: stats.dbMs / n } };
}

/** One eval per operation, timed from `send` to the terminal message. */
async function perEvalRun(
  client: EngineClient,
  n: number,
  code: (k: number) => string,
  commitOp = false,
): Promise<LatencyRun> {
  const lat = new Array<number>(n);
  let realm = 0;
  let db = 0;
  let wall = 0;
  for (let k = 0; k < n; k++) {
    const source = code(k);
    const t = performance.now();
    const message = await client.eval(source);
    if (commitOp) await client.commit();
    lat[k] = performance.now() - t;
    const stats = expectResult(message);
    realm += stats.cpuMs;
    db += stats.dbMs;
    wall += stats.ms;
  }
  return { lat, breakdown: { wallMs: wall / n, realmMs: realm / n, dbMs: db / n } };
}

async function phaseLatency(db: Db, options: Options): Promise<VariantSummary[]> {
  process.stderr.write('phase 1: primary-key select, one session vs one connection\n');
  const raw = await openRawConnection(db.url, db.flavor);
  const pool = new DatabasePool({ ...DEFAULT_DATABASE_OPTIONS, url: db.url, poolSize: 2 });
  const client = new EngineClient(engineDatabase(pool));
  const enter = floorEntry();
  try {
    // Loads Kysely, binds the connection; checks a select returns its row.
    const { value } = await client.value(kyselySelect(1));
    if (!Array.isArray(value) || value.length !== 1)
      throw new Error(`unexpected select result ${JSON.stringify(value)}`);
    let offset = 0;
    const nextOffset = () => (offset += 1013);
    const variants: Variant[] = [
      {
        key: 'raw',
        label: 'raw mysql2 connection.query',
        vmgate: false,
        statements: 1,
        target: false,
        async run(n) {
          const o = nextOffset();
          const lat = new Array<number>(n);
          for (let k = 0; k < n; k++) {
            const id = idAt(k, o);
            const t = performance.now();
            await raw.query(SELECT_SQL, [id]);
            lat[k] = performance.now() - t;
          }
          return { lat, breakdown: breakdownOf(lat, 0) };
        },
      },
      {
        key: 'kysely',
        label: 'vmgate, Kysely builder, in-realm loop',
        vmgate: true,
        statements: 1,
        target: true,
        run: (n) => realmLoopRun(client, n, kyselySelect('id'), REALM_ID('k', nextOffset())),
      },
      {
        key: 'sql',
        label: 'vmgate, sql`` template, in-realm loop',
        vmgate: true,
        statements: 1,
        target: true,
        run: (n) => realmLoopRun(client, n, sqlSelect('id'), REALM_ID('k', nextOffset())),
      },
      {
        key: 'eval',
        label: 'vmgate, one eval per statement (engine)',
        vmgate: true,
        statements: 1,
        target: false,
        run(n) {
          const o = nextOffset();
          return perEvalRun(client, n, (k) => kyselySelect(idAt(k, o)));
        },
      },
      {
        key: 'eval-nodb',
        label: 'reference: one eval `<k> + 1` per op, no db',
        vmgate: true,
        statements: 0,
        target: false,
        run: (n) => perEvalRun(client, n, (k) => `${k} + 1`),
      },
      {
        key: 'raw+entry',
        label: 'floor: raw query + one timed runInContext',
        vmgate: false,
        statements: 1,
        target: false,
        async run(n) {
          const o = nextOffset();
          const lat = new Array<number>(n);
          let inEntry = 0;
          for (let k = 0; k < n; k++) {
            const id = idAt(k, o);
            const t = performance.now();
            await raw.query(SELECT_SQL, [id]);
            const u = performance.now();
            enter();
            const v = performance.now();
            lat[k] = v - t;
            inEntry += v - u;
          }
          return { lat, breakdown: breakdownOf(lat, inEntry) };
        },
      },
      {
        key: 'entry',
        label: 'reference: one timed runInContext alone',
        vmgate: false,
        statements: 0,
        target: false,
        async run(n) {
          const lat = new Array<number>(n);
          for (let k = 0; k < n; k++) {
            const t = performance.now();
            enter();
            lat[k] = performance.now() - t;
            // One event-loop turn between entries, as between statements.
            await new Promise((resolve) => setImmediate(resolve));
          }
          return { lat };
        },
      },
    ];
    return await runVariants('select', options, selected(options, variants), options.n, Math.ceil(options.n / 4));
  } finally {
    await client.close();
    await pool.close();
    await raw.end();
  }
}

async function phaseInsert(db: Db, options: Options): Promise<VariantSummary[]> {
  process.stderr.write('phase 2: insert + commit, one session vs one connection\n');
  const raw = await openRawConnection(db.url, db.flavor);
  const pool = new DatabasePool({ ...DEFAULT_DATABASE_OPTIONS, url: db.url, poolSize: 2 });
  const client = new EngineClient(engineDatabase(pool));
  // Transaction pool mode: the connection goes back to the pool (reset on the server) after every commit.
  const handOverPool = new DatabasePool({
    ...DEFAULT_DATABASE_OPTIONS,
    url: db.url,
    poolSize: 2,
    poolMode: 'transaction',
  });
  const handOverClient = new EngineClient(engineDatabase(handOverPool));
  const setup = sessionSetupSql(db.flavor);
  const enter = floorEntry();
  let nextId = 1;
  const take = (n: number) => {
    const base = nextId;
    nextId += n;
    return base;
  };
  try {
    await client.value(kyselySelect(1));
    await handOverClient.value(kyselySelect(1));
    const variants: Variant[] = [
      {
        key: 'raw',
        label: 'raw mysql2: query(INSERT) + query(COMMIT)',
        vmgate: false,
        statements: 2,
        target: false,
        async run(n) {
          const base = take(n);
          const lat = new Array<number>(n);
          for (let k = 0; k < n; k++) {
            const id = base + k;
            const t = performance.now();
            await raw.query('INSERT INTO bench_w (id, name, n) VALUES (?, ?, ?)', [id, `name-${id}`, id]);
            await raw.query('COMMIT');
            lat[k] = performance.now() - t;
          }
          return { lat, breakdown: breakdownOf(lat, 0) };
        },
      },
      {
        key: 'raw+entry',
        label: 'floor: raw INSERT, COMMIT, each + one timed runInContext',
        vmgate: false,
        statements: 2,
        target: false,
        async run(n) {
          const base = take(n);
          const lat = new Array<number>(n);
          let inEntry = 0;
          for (let k = 0; k < n; k++) {
            const id = base + k;
            const t = performance.now();
            await raw.query('INSERT INTO bench_w (id, name, n) VALUES (?, ?, ?)', [id, `name-${id}`, id]);
            const u = performance.now();
            enter();
            const v = performance.now();
            await raw.query('COMMIT');
            const w = performance.now();
            enter();
            const x = performance.now();
            lat[k] = x - t;
            inEntry += v - u + (x - w);
          }
          return { lat, breakdown: breakdownOf(lat, inEntry) };
        },
      },
      {
        key: 'kysely',
        label: 'vmgate, Kysely insert + db.commit(), in-realm loop',
        vmgate: true,
        statements: 2,
        target: true,
        run: (n) => realmLoopRun(client, n, kyselyInsert('id'), `${take(n)} + k`),
      },
      {
        key: 'eval',
        label: 'vmgate, one eval per insert + commit (engine)',
        vmgate: true,
        statements: 2,
        target: false,
        run(n) {
          const base = take(n);
          return perEvalRun(client, n, (k) => kyselyInsert(base + k));
        },
      },
      {
        key: 'eval+op',
        label: 'vmgate, one eval per insert, then a commit op (engine, session pool mode)',
        vmgate: true,
        statements: 2,
        target: false,
        run(n) {
          const base = take(n);
          return perEvalRun(client, n, (k) => kyselyInsertOnly(base + k), true);
        },
      },
      {
        key: 'eval+op-tx',
        label: 'the same in transaction pool mode (a hand-over, so a reset, after every commit)',
        vmgate: true,
        statements: 2,
        target: false,
        run(n) {
          const base = take(n);
          return perEvalRun(handOverClient, n, (k) => kyselyInsertOnly(base + k), true);
        },
      },
      {
        key: 'raw-reset',
        label: 'raw mysql2: what one hand-over adds: reset() + the session setup',
        vmgate: false,
        statements: 2,
        target: false,
        async run(n) {
          const lat = new Array<number>(n);
          for (let k = 0; k < n; k++) {
            const t = performance.now();
            await raw.reset();
            await raw.query(setup);
            lat[k] = performance.now() - t;
          }
          return { lat, breakdown: breakdownOf(lat, 0) };
        },
      },
    ];
    return await runVariants(
      'insert',
      options,
      selected(options, variants),
      options.insertN,
      Math.ceil(options.insertN / 4),
    );
  } finally {
    const resets = handOverPool.resets;
    if (resets.count > 0) {
      process.stderr.write(
        `transaction pool mode: ${resets.count} hand-overs, mean reset + setup ${(resets.ms / resets.count).toFixed(3)} ms (${resets.failed} failed)\n`,
      );
    }
    await client.close();
    await handOverClient.close();
    await pool.close();
    await handOverPool.close();
    await raw.end();
  }
}

// ===========================================================================
// Phase 3: S sessions vs a raw pool of S
// ===========================================================================

interface ThroughputRun {
  readonly statementsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** CPU over the window, in cores (1.0 = one core busy), per process. */
  readonly cpu: Readonly<Record<string, number | undefined>>;
  /** Timed realm entries in the window (`--entry-timing`), per statement. */
  readonly entries?: EntryStats;
  /** This process's CPU and context switches per statement (in-process variants). */
  readonly acct?: Accounting;
}

interface ThroughputVariant {
  readonly key: string;
  readonly label: string;
  /** The throughput target applies to this row. */
  readonly target: boolean;
  readonly vmgate: boolean;
  run(options: Options, db: Db, round: number): Promise<ThroughputRun>;
}

interface ThroughputSummary {
  readonly key: string;
  readonly label: string;
  readonly target: boolean;
  readonly statementsPerSec: number;
  readonly perSecRuns: readonly number[];
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly cpu: Readonly<Record<string, number | undefined>>;
  readonly entries?: EntryStats;
  readonly acct?: Accounting;
}

interface WindowSample {
  readonly self: number;
  readonly server: number | undefined;
  readonly entries: EntryCounters;
  readonly mark: AccountingMark;
}

/**
 * Watches the window [start, end) of an in-process run: CPU of this process
 * and of the database server, timed realm entries, and (with `--profile`) a
 * CPU profile of exactly the window.
 */
function windowProbe(db: Db, start: number, end: number, profileName: string | undefined) {
  let a: WindowSample | undefined;
  let b: WindowSample | undefined;
  let samples: number[] = [];
  let profiler: Promise<WindowProfiler> | undefined;
  let stopped: Promise<void> | undefined;
  const sample = (): WindowSample => {
    const u = process.cpuUsage();
    const mark = accountingMark(db.serverPid);
    return {
      self: (u.user + u.system) / 1000,
      server: mark.server,
      entries: entryCounters(),
      mark,
    };
  };
  const file = profileName ? resultFile(`db-profile-${profileName}`, '.cpuprofile') : '';
  const marks = windowMarks(
    start,
    end,
    () => {
      takeEntrySamples();
      a = sample();
      if (profileName) profiler = WindowProfiler.start();
    },
    () => {
      b = sample();
      samples = takeEntrySamples();
      if (profiler) stopped = profiler.then((p) => p.stop(file));
    },
  );
  return {
    async result(statements: number): Promise<Pick<ThroughputRun, 'cpu' | 'entries' | 'acct'>> {
      marks.cancel();
      if (stopped) {
        await stopped;
        profiles.push(
          `--- profile: ${profileName} (${path.relative(ROOT, file)})\n${summarizeProfile(file, { top: 20 })}`,
        );
      }
      if (!a || !b) return { cpu: {} };
      const secs = (end - start) / 1000;
      return {
        cpu: {
          bench: (b.self - a.self) / 1000 / secs,
          server: a.server !== undefined && b.server !== undefined ? (b.server - a.server) / 1000 / secs : undefined,
        },
        acct: accounting(a.mark, b.mark, statements),
        ...(entryTimingInstalled() && samples.length > 0
          ? { entries: entryStats(samples, statements, end - start) }
          : {}),
      };
    },
  };
}

const profileName = (options: Options, key: string, round: number) =>
  options.profile && round === 0 ? `throughput-${key}` : undefined;

/** The raw pool; `withEntry`: each statement's completion is followed by one timed entry into a context of that connection (the design's floor). */
const rawPoolVariantOf = (withEntry: boolean): ThroughputVariant => ({
  key: withEntry ? 'raw-pool+entry' : 'raw-pool',
  label: withEntry ? 'floor: raw pool + one timed runInContext per statement' : 'raw mysql2 pool, S held connections',
  target: false,
  vmgate: false,
  async run(options, db) {
    const pool = openRawPool(db.url, db.flavor, options.sessions);
    const connections: mysql.PoolConnection[] = [];
    try {
      for (let j = 0; j < options.sessions; j++) connections.push(await pool.getConnection());
      await Promise.all(connections.map((c) => c.query(SELECT_SQL, [1])));
      const start = performance.now() + options.warmupMs;
      const end = start + options.durationMs;
      const probe = windowProbe(db, start, end, undefined);
      const enter = connections.map(() => (withEntry ? floorEntry() : undefined));
      const { counts, lat } = await closedLoops(connections.length, start, end, async (j, k) => {
        await connections[j]?.query(SELECT_SQL, [idAt(k, j * 131)]);
        enter[j]?.();
      });
      const summary = summarizeWindow(counts, lat, options.durationMs);
      return { ...summary, ...(await probe.result(summary.total)) };
    } finally {
      for (const c of connections) c.release();
      await pool.end();
    }
  },
});
const rawPoolVariant = rawPoolVariantOf(false);

async function withEngines<T>(db: Db, sessions: number, fn: (clients: EngineClient[]) => Promise<T>): Promise<T> {
  const pool = new DatabasePool({ ...DEFAULT_DATABASE_OPTIONS, url: db.url, poolSize: sessions });
  const clients = Array.from({ length: sessions }, () => new EngineClient(engineDatabase(pool)));
  try {
    // Kysely loaded and a connection bound in every session.
    for (const c of clients) await c.value(kyselySelect(1));
    return await fn(clients);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await pool.close();
  }
}

function engineLoopVariant(key: string, label: string, body: string, target: boolean): ThroughputVariant {
  return {
    key,
    label,
    target,
    vmgate: true,
    run: (options, db, round) =>
      withEngines(db, options.sessions, async (clients) => {
        const start = performance.now() + options.warmupMs;
        const end = start + options.durationMs;
        const probe = windowProbe(db, start, end, profileName(options, key, round));
        const results = await Promise.all(
          clients.map((c, j) => c.value(realmWindowLoop(body, j * 131, start, end), LONG_EVAL_MS)),
        );
        const lat: number[] = [];
        const counts = results.map(({ value }) => {
          const r = JSON.parse(value as string) as { n: number; lat: number[] };
          for (const x of r.lat) lat.push(x);
          return r.n;
        });
        const summary = summarizeWindow(counts, lat, options.durationMs);
        return { ...summary, ...(await probe.result(summary.total)) };
      }),
  };
}

const enginePerEvalVariant: ThroughputVariant = {
  key: 'engines-eval',
  label: 'vmgate: S in-process engines, one eval per statement',
  target: false,
  vmgate: true,
  run: (options, db, round) =>
    withEngines(db, options.sessions, async (clients) => {
      const start = performance.now() + options.warmupMs;
      const end = start + options.durationMs;
      const probe = windowProbe(db, start, end, profileName(options, 'engines-eval', round));
      const { counts, lat } = await closedLoops(clients.length, start, end, async (j, k) =>
        expectResult(await (clients[j] as EngineClient).eval(kyselySelect(idAt(k, j * 131)))),
      );
      const summary = summarizeWindow(counts, lat, options.durationMs);
      return { ...summary, ...(await probe.result(summary.total)) };
    }),
};

const gatewayVariantOf = (workload: GatewayWorkload): ThroughputVariant => ({
  key: workload === 'select' ? 'gateway' : 'gateway-insert',
  label:
    workload === 'select'
      ? 'vmgate gateway over ws (client in another process), one eval per statement'
      : 'vmgate gateway over ws, one eval per insert + one commit op (per transaction)',
  target: true,
  vmgate: true,
  async run(options, db, round) {
    const key = workload === 'select' ? 'gateway' : 'gateway-insert';
    const profile = profileName(options, key, round);
    const profileFile = profile ? resultFile(`db-profile-${profile}`, '.cpuprofile') : '';
    const diagnostics = [
      ...(options.entryTiming ? ['--entry-timing'] : []),
      ...(options.untimed ? ['--what-if-untimed'] : []),
    ];
    const { child: gateway, ready } = await spawnGateway(
      __filename,
      {
        limits: { maxSessions: 10_000, maxSessionsPerAddress: 10_000, heartbeatMs: 0 },
        session: LIMITS,
        database: { mode: 'url', url: db.url, ...DEFAULT_DATABASE_OPTIONS, poolSize: options.sessions },
        executors: { count: options.executors },
      },
      { args: diagnostics },
    );
    let client: Child | undefined;
    try {
      const server: Record<string, number | undefined> = {};
      let window: Promise<ServerWindow> | undefined;
      const pendingMarks: Promise<unknown>[] = [];
      client = Child.role(__filename, 'client', [], [], (event: ChildEvent) => {
        if (event.event !== 'window-start' && event.event !== 'window-end') return;
        server[event.event] = processCpuMs(db.serverPid);
        if (event.event === 'window-start') pendingMarks.push(gateway.call('window-start'));
        else window = gateway.call<ServerWindow>('window-end');
        if (profile) {
          const call = event.event === 'window-start' ? 'profile-start' : 'profile-stop';
          pendingMarks.push(gateway.call(call, { file: profileFile }));
        }
      });
      await client.ready;
      await client.call('open', { port: ready.port, sessions: options.sessions });
      const rowsBefore = workload === 'insert' ? await countTxRows(db) : 0;
      const result = await client.call<{
        counts: number[];
        acknowledged: number;
        p50Ms: number;
        p99Ms: number;
        clientCpu: number;
      }>('run', {
        warmupMs: options.warmupMs,
        durationMs: options.durationMs,
        workload,
      });
      if (workload === 'insert') checkTxRows(result.acknowledged, (await countTxRows(db)) - rowsBefore);
      await Promise.all(pendingMarks);
      const w = await window;
      if (profile) {
        profiles.push(
          `--- profile: ${profile}, the gateway process (${path.relative(ROOT, profileFile)})\n${summarizeProfile(profileFile, { top: 20 })}`,
        );
      }
      const secs = options.durationMs / 1000;
      const total = result.counts.reduce((x, y) => x + y, 0);
      const timed = w?.timedEntries ?? 0;
      const entries =
        options.entryTiming && timed > 0
          ? {
              perOp: timed / total,
              meanUs: ((w?.timedEntryMs ?? 0) / timed) * 1000,
              p50Us: Number.NaN,
              p99Us: Number.NaN,
              share: (w?.timedEntryMs ?? 0) / options.durationMs,
            }
          : undefined;
      const a = server['window-start'];
      const b = server['window-end'];
      return {
        statementsPerSec: total / secs,
        p50Ms: result.p50Ms,
        p99Ms: result.p99Ms,
        cpu: {
          gateway: w ? w.cpuPct / 100 : undefined,
          executors: w && options.executors > 0 ? w.childCpuPct / 100 : undefined,
          client: result.clientCpu,
          server: a !== undefined && b !== undefined ? (b - a) / 1000 / secs : undefined,
        },
        ...(entries ? { entries } : {}),
      };
    } finally {
      await client?.stop();
      await gateway.stop();
    }
  },
});
const gatewayVariant = gatewayVariantOf('select');

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

function checkTxRows(acknowledged: number, rows: number): void {
  if (acknowledged !== rows) throw new Error(`${acknowledged} commits acknowledged but ${rows} rows written`);
}

/**
 * How the raw side sends its INSERT: as text with the values in it (the
 * baseline), as a prepared statement kept per connection (what a session
 * pays in session pool mode), or prepared again for every transaction (what
 * transaction pool mode pays: each hand-over's reset drops the server's
 * prepared statements).
 */
type RawInsertMode = 'text' | 'prepared' | 'prepare-each';

/** The raw side of the insert workload: S held connections, each looping INSERT + COMMIT. */
const rawPoolTxVariantOf = (mode: RawInsertMode): ThroughputVariant => ({
  key: mode === 'text' ? 'raw-pool-insert' : `raw-pool-insert-${mode}`,
  label: `raw mysql2 pool, S held connections, INSERT + COMMIT${mode === 'text' ? '' : mode === 'prepared' ? ' (prepared, kept)' : ' (prepared per transaction)'}`,
  target: false,
  vmgate: false,
  async run(options, db) {
    const pool = openRawPool(db.url, db.flavor, options.sessions);
    const connections: mysql.PoolConnection[] = [];
    try {
      for (let j = 0; j < options.sessions; j++) connections.push(await pool.getConnection());
      const rowsBefore = await countTxRows(db);
      const start = performance.now() + options.warmupMs;
      const end = start + options.durationMs;
      const probe = windowProbe(db, start, end, undefined);
      let acknowledged = 0;
      const { counts, lat } = await closedLoops(connections.length, start, end, async (j, k) => {
        const c = connections[j] as mysql.PoolConnection;
        if (mode === 'text') await c.query(RAW_TX_INSERT, [j, k]);
        else await c.execute(RAW_TX_INSERT, [j, k]);
        await c.query('COMMIT');
        if (mode === 'prepare-each') c.unprepare(RAW_TX_INSERT);
        acknowledged++;
      });
      checkTxRows(acknowledged, (await countTxRows(db)) - rowsBefore);
      const summary = summarizeWindow(counts, lat, options.durationMs);
      return { ...summary, ...(await probe.result(summary.total)) };
    } finally {
      for (const c of connections) c.release();
      await pool.end();
    }
  },
});
const rawPoolTxVariant = rawPoolTxVariantOf('text');

async function runThroughput(
  db: Db,
  options: Options,
  variants: readonly ThroughputVariant[],
): Promise<ThroughputSummary[]> {
  const runs = new Map<string, ThroughputRun[]>(variants.map((v) => [v.key, []]));
  for (let round = 0; round < options.rounds; round++) {
    for (let i = 0; i < variants.length; i++) {
      const v = variants[(i + round) % variants.length] as ThroughputVariant;
      const result = await v.run(options, db, round);
      runs.get(v.key)?.push(result);
      process.stderr.write(
        `  round ${round + 1} ${v.key}: ${fmtInt(result.statementsPerSec)} stmt/s, p50 ${fmt(result.p50Ms, 2)} ms, cpu ${JSON.stringify(
          Object.fromEntries(
            Object.entries(result.cpu).map(([k, x]) => [k, x === undefined ? null : Number(x.toFixed(2))]),
          ),
        )}${result.entries ? `, ${fmt(result.entries.perOp, 2)} entries/stmt at ${fmt(result.entries.meanUs, 0)} µs, ${fmt(result.entries.share * 100, 0)}% of the window` : ''}\n`,
      );
    }
  }
  return variants.map((v) => {
    const r = runs.get(v.key) ?? [];
    const cpu = medianFields(r.map((x) => x.cpu)) ?? {};
    const entries = medianFields(r.map((x) => x.entries).filter((x): x is EntryStats => x !== undefined));
    const acct = medianFields(r.map((x) => x.acct).filter((x): x is Accounting => x !== undefined));
    return {
      ...(acct ? { acct } : {}),
      key: v.key,
      label: v.label,
      target: v.target,
      statementsPerSec: median(r.map((x) => x.statementsPerSec)),
      perSecRuns: r.map((x) => x.statementsPerSec),
      p50Ms: median(r.map((x) => x.p50Ms)),
      p99Ms: median(r.map((x) => x.p99Ms)),
      cpu,
      ...(entries ? { entries } : {}),
    };
  });
}

function phaseThroughput(db: Db, options: Options): Promise<ThroughputSummary[]> {
  process.stderr.write(`phase 3: ${options.sessions} sessions vs a raw pool of ${options.sessions}, in-process\n`);
  const variants = [
    rawPoolVariant,
    rawPoolVariantOf(true),
    engineLoopVariant(
      'engines-loop',
      'vmgate: S in-process engines, Kysely, one long eval each',
      kyselySelect('id'),
      true,
    ),
    engineLoopVariant(
      'engines-loop-sql',
      'vmgate: S in-process engines, sql``, one long eval each',
      sqlSelect('id'),
      false,
    ),
    enginePerEvalVariant,
  ];
  return runThroughput(db, options, options.variants ? variants.filter((v) => options.variants?.has(v.key)) : variants);
}

function phaseGateway(db: Db, options: Options): Promise<ThroughputSummary[]> {
  process.stderr.write(
    `phase 3b: ${options.sessions} sessions through a gateway (${options.executors} executors) vs a raw pool\n`,
  );
  return runThroughput(db, options, [rawPoolVariant, gatewayVariant]);
}

function phaseGatewayInsert(db: Db, options: Options): Promise<ThroughputSummary[]> {
  process.stderr.write(
    `phase 3c: ${options.sessions} sessions, insert + commit through a gateway (${options.executors} executors) vs a raw pool\n`,
  );
  const variants = [
    rawPoolTxVariant,
    rawPoolTxVariantOf('prepared'),
    rawPoolTxVariantOf('prepare-each'),
    gatewayVariantOf('insert'),
  ];
  return runThroughput(db, options, options.variants ? variants.filter((v) => options.variants?.has(v.key)) : variants);
}

// ===========================================================================
// Phase 4: memory per session (child processes with --expose-gc)
// ===========================================================================

const MEMORY_CONFIGS = ['eval-only', 'db', 'raw-conn'] as const;
type MemoryConfig = (typeof MEMORY_CONFIGS)[number];
const MEMORY_LABELS: Record<MemoryConfig, string> = {
  'eval-only': 'session that ran `1 + 1` (db configured, unused)',
  db: 'session that ran one db statement (Kysely + bound connection)',
  'raw-conn': 'reference: a raw pooled mysql2 connection that ran one select',
};

interface MemoryResult {
  readonly config: MemoryConfig;
  readonly sessions: number;
  readonly rssKb: number;
  readonly heapKb: number;
  readonly externalKb: number;
  readonly serverRssKb: number | undefined;
  readonly msPerSession: number;
}

async function memoryChild(url: string, flavor: ServerFlavor, config: MemoryConfig, n: number): Promise<MemoryResult> {
  const pid = await serverPid(url);
  kyselyScript();
  // Warm-up on a pool that is closed again: compiles the bootstrap and Kysely,
  // warms the JIT, and leaves no idle connection behind to be reused.
  {
    const warm = new DatabasePool({ ...DEFAULT_DATABASE_OPTIONS, url, poolSize: 4 });
    const clients = Array.from({ length: 4 }, () => new EngineClient(engineDatabase(warm)));
    for (const c of clients) {
      await c.value('1 + 1');
      await c.value(kyselySelect(1));
    }
    await Promise.all(clients.map((c) => c.close()));
    await warm.close();
    const rawWarm = openRawPool(url, flavor, 2);
    await rawWarm.query(SELECT_SQL, [1]);
    await rawWarm.end();
  }
  await settleGc();
  const serverBefore = processRssKb(pid);
  const before = process.memoryUsage();
  const keep: unknown[] = [];
  const t0 = performance.now();
  let pool: DatabasePool | undefined;
  let rawPool: mysql.Pool | undefined;
  if (config === 'raw-conn') {
    rawPool = openRawPool(url, flavor, n);
    for (let i = 0; i < n; i++) {
      const connection = await rawPool.getConnection();
      await connection.query(SELECT_SQL, [idAt(i)]);
      keep.push(connection);
    }
  } else {
    pool = new DatabasePool({ ...DEFAULT_DATABASE_OPTIONS, url, poolSize: n });
    for (let i = 0; i < n; i++) {
      const client = new EngineClient(engineDatabase(pool));
      if (config === 'db') {
        const { value } = await client.value(kyselySelect(idAt(i)));
        if (!Array.isArray(value) || value.length !== 1) throw new Error('select returned no row');
      } else {
        await client.value('1 + 1');
      }
      keep.push(client);
    }
  }
  const ms = performance.now() - t0;
  await settleGc();
  const after = process.memoryUsage();
  const serverAfter = processRssKb(pid);
  const result: MemoryResult = {
    config,
    sessions: n,
    rssKb: (after.rss - before.rss) / 1024 / n,
    heapKb: (after.heapUsed - before.heapUsed) / 1024 / n,
    externalKb: (after.external - before.external) / 1024 / n,
    serverRssKb: serverBefore !== undefined && serverAfter !== undefined ? (serverAfter - serverBefore) / n : undefined,
    msPerSession: ms / n,
  };
  for (const k of keep) {
    if (k instanceof EngineClient) await k.close();
    else (k as mysql.PoolConnection).release();
  }
  await pool?.close();
  await rawPool?.end();
  return result;
}

async function phaseMemory(db: Db, options: Options): Promise<Array<MemoryResult & { runs: number[] }>> {
  process.stderr.write(`phase 4: memory, ${options.memSessions} sessions per child\n`);
  const runs = new Map<MemoryConfig, MemoryResult[]>(MEMORY_CONFIGS.map((c) => [c, []]));
  for (let run = 0; run < options.memRuns; run++) {
    for (let i = 0; i < MEMORY_CONFIGS.length; i++) {
      const config = MEMORY_CONFIGS[(i + run) % MEMORY_CONFIGS.length] as MemoryConfig;
      const args = { url: db.url, flavor: db.flavor, config, n: options.memSessions };
      const result = await runInChild<MemoryResult>(__filename, args);
      runs.get(config)?.push(result);
      process.stderr.write(
        `  run ${run + 1} ${config}: ${fmt(result.rssKb, 0)} KB RSS, ${fmt(result.heapKb, 0)} KB heap per session\n`,
      );
    }
  }
  return MEMORY_CONFIGS.map((config) => {
    const r = runs.get(config) ?? [];
    const server = r.map((x) => x.serverRssKb).filter((x): x is number => x !== undefined);
    return {
      config,
      sessions: options.memSessions,
      rssKb: median(r.map((x) => x.rssKb)),
      heapKb: median(r.map((x) => x.heapKb)),
      externalKb: median(r.map((x) => x.externalKb)),
      serverRssKb: server.length > 0 ? median(server) : undefined,
      msPerSession: median(r.map((x) => x.msPerSession)),
      runs: r.map((x) => x.rssKb),
    };
  });
}

// ===========================================================================
// Children: gateway, ws client, memory probe
// ===========================================================================

function clientRole(): void {
  const sockets: Array<{ ws: WebSocket; pending: Map<number, (frame: { type: string }) => void> }> = [];
  let nextId = 0;
  const send = (s: (typeof sockets)[number], frame: Record<string, unknown>) =>
    new Promise<{ type: string }>((resolve) => {
      const id = ++nextId;
      s.pending.set(id, resolve);
      s.ws.send(JSON.stringify({ ...frame, id }));
    });
  const request = (s: (typeof sockets)[number], code: string) => send(s, { op: 'eval', code });
  const check = (frame: { type: string }, type = 'result') => {
    if (frame.type !== type) throw new Error(`request failed over ws: ${JSON.stringify(frame).slice(0, 500)}`);
  };
  let acknowledged = 0;
  /** One operation of the workload: a select, or an insert then a commit op. */
  const operation = async (s: (typeof sockets)[number], j: number, k: number, workload: GatewayWorkload) => {
    if (workload === 'select') {
      check(await request(s, kyselySelect(idAt(k, j * 131))));
      return;
    }
    check(await request(s, kyselyTxInsert(j, k)));
    check(await send(s, { op: 'commit' }), 'ok');
    acknowledged++;
  };
  serveRpc({
    open: async (a) => {
      const port = a.port as number;
      const n = a.sessions as number;
      for (let j = 0; j < n; j++) {
        const ws = new WebSocket(`ws://${HOST}:${port}/`, PROTOCOL, { perMessageDeflate: false });
        const s = { ws, pending: new Map<number, (frame: { type: string }) => void>() };
        await new Promise<void>((resolve, reject) => {
          ws.once('error', reject);
          ws.on('message', (data) => {
            const frame = JSON.parse(data.toString()) as { type: string; id?: number };
            if (frame.type === 'hello') {
              resolve();
              return;
            }
            if (typeof frame.id !== 'number') return;
            const done = s.pending.get(frame.id);
            if (done && frame.type !== 'log') {
              s.pending.delete(frame.id);
              done(frame);
            }
          });
        });
        sockets.push(s);
      }
      for (const s of sockets) check(await request(s, kyselySelect(1)));
      return sockets.length;
    },
    run: async (a) => {
      const start = performance.now() + (a.warmupMs as number);
      const end = start + (a.durationMs as number);
      let cpuA = 0;
      let cpuB = 0;
      const cpuNow = () => {
        const u = process.cpuUsage();
        return (u.user + u.system) / 1000;
      };
      const marks = windowMarks(
        start,
        end,
        () => {
          cpuA = cpuNow();
          emitEvent({ event: 'window-start' });
        },
        () => {
          cpuB = cpuNow();
          emitEvent({ event: 'window-end' });
        },
      );
      const workload = a.workload as GatewayWorkload;
      acknowledged = 0;
      const { counts, lat } = await closedLoops(sockets.length, start, end, (j, k) =>
        operation(sockets[j] as (typeof sockets)[number], j, k, workload),
      );
      marks.cancel();
      return {
        counts,
        p50Ms: percentile(lat, 50),
        p99Ms: percentile(lat, 99),
        acknowledged,
        clientCpu: (cpuB - cpuA) / (end - start),
      };
    },
    stop: () => {
      for (const s of sockets) s.ws.close();
      return exitSoon();
    },
  });
}

// ===========================================================================
// Report
// ===========================================================================

const us = (ms: number) => fmt(ms * 1000, 0);

function latencyTable(rows: readonly VariantSummary[]): string {
  const raw = rows.find((r) => r.key === 'raw');
  const body = rows.map((r) => {
    const over = raw ? r.p50 - raw.p50 : Number.NaN;
    const allowed = TARGET_P50_OVER_RAW_MS * Math.max(1, r.statements);
    const verdict = !r.target || !raw ? '' : over <= allowed ? 'PASS' : 'FAIL';
    return [
      r.label,
      us(r.p50),
      us(r.p99),
      us(r.mean),
      `${us(r.p50Min)}–${us(r.p50Max)}`,
      r.key === 'raw' ? '' : `${over >= 0 ? '+' : ''}${us(over)}`,
      raw && r.key !== 'raw' ? fmtRatio(r.p50 / raw.p50) : '',
      r.target ? `≤ +${us(allowed)} ${verdict}` : '',
    ];
  });
  return table(['variant', 'p50 µs', 'p99 µs', 'mean µs', 'p50 range', 'p50 − raw', 'p50 ×raw', 'target'], body);
}

function breakdownTable(rows: readonly VariantSummary[]): string {
  const body = rows
    .filter((r) => r.breakdown)
    .map((r) => {
      const b = r.breakdown as NonNullable<VariantSummary['breakdown']>;
      return [r.label, us(b.wallMs), us(b.realmMs), us(b.dbMs), us(b.wallMs - b.realmMs - b.dbMs)];
    });
  return table(
    ['variant (means per operation)', 'total µs', 'in timed entries µs', 'db round trip µs', 'rest µs'],
    body,
  );
}

function throughputTable(rows: readonly ThroughputSummary[], sessions: number): string {
  // The baseline of the phase: the raw pool (selects, or INSERT + COMMIT).
  const raw = rows.find((r) => r.key === 'raw-pool' || r.key === 'raw-pool-insert');
  const body = rows.map((r) => {
    const ratio = raw ? r.statementsPerSec / raw.statementsPerSec : Number.NaN;
    // Each round's ratio to the baseline measured in the same round.
    const roundRatios = raw ? r.perSecRuns.map((x, i) => x / (raw.perSecRuns[i] ?? Number.NaN)) : [];
    const cpu = Object.entries(r.cpu)
      .map(([k, v]) => `${k} ${fmt(v, 2)}`)
      .join(', ');
    // CPU per operation of the side being measured: not the database server's, not the load client's.
    const ownCores = Object.entries(r.cpu)
      .filter(([k]) => k !== 'server' && k !== 'client')
      .reduce((sum, [, v]) => sum + (v ?? 0), 0);
    return [
      r.label.replace(/\bS\b/g, String(sessions)),
      fmtInt(r.statementsPerSec),
      r.perSecRuns.map((x) => fmtInt(x)).join(' / '),
      r === raw ? '' : `${fmtRatio(ratio)} (rounds ${roundRatios.map((x) => fmtRatio(x)).join(' / ')})`,
      fmt(r.p50Ms, 2),
      fmt(r.p99Ms, 2),
      cpu,
      fmtInt((ownCores * 1e6) / r.statementsPerSec),
      r.target ? `≥ ${TARGET_THROUGHPUT_RATIO}× ${ratio >= TARGET_THROUGHPUT_RATIO ? 'PASS' : 'FAIL'}` : '',
    ];
  });
  return table(
    ['variant', 'stmt/s', 'per round', '×raw', 'p50 ms', 'p99 ms', 'CPU (cores) in window', 'CPU µs/op', 'target'],
    body,
  );
}

function accountingTable(
  rows: ReadonlyArray<{ label: string; acct?: Accounting }>,
  unit: string,
  sessions = 0,
): string {
  const body = rows
    .filter((r) => r.acct)
    .map((r) => {
      const a = r.acct as Accounting;
      return [
        r.label.replace(/\bS\b/g, String(sessions)),
        fmt(a.userUs + a.sysUs, 0),
        fmt(a.userUs, 0),
        fmt(a.sysUs, 0),
        fmt(a.voluntaryCtx, 2),
        fmt(a.involuntaryCtx, 2),
        fmt(a.serverUs, 0),
      ];
    });
  return table(
    [
      `CPU per ${unit} (this process, all threads)`,
      'CPU µs',
      'user µs',
      'sys µs',
      'vol. ctx sw',
      'invol. ctx sw',
      'db server CPU µs',
    ],
    body,
  );
}

function entryTable(rows: ReadonlyArray<{ label: string; entries?: EntryStats }>, unit: string, sessions = 0): string {
  const body = rows
    .filter((r) => r.entries)
    .map((r) => {
      const e = r.entries as EntryStats;
      return [
        r.label.replace(/\bS\b/g, String(sessions)),
        fmt(e.perOp, 2),
        fmt(e.meanUs, 0),
        fmt(e.p50Us, 0),
        fmt(e.p99Us, 0),
        `${fmt(e.share * 100, 0)}%`,
      ];
    });
  return table(
    [`timed realm entries (--entry-timing)`, `entries/${unit}`, 'mean µs', 'p50 µs', 'p99 µs', 'share of wall'],
    body,
  );
}

function memoryTable(rows: ReadonlyArray<MemoryResult & { runs: number[] }>): string {
  const body = rows.map((r) => [
    MEMORY_LABELS[r.config],
    fmt(r.rssKb, 0),
    r.runs.map((x) => fmt(x, 0)).join(' / '),
    fmt(r.heapKb, 0),
    fmt(r.externalKb, 0),
    fmt(r.msPerSession, 1),
    r.config === 'db' ? `≤ ${TARGET_MEMORY_KB} KB ${r.rssKb <= TARGET_MEMORY_KB ? 'PASS' : 'FAIL'}` : '',
  ]);
  return table(
    ['per session / connection', 'RSS KB', 'RSS per run', 'heap KB', 'external KB', 'ms each', 'target'],
    body,
  );
}

// ===========================================================================
// Main
// ===========================================================================

async function main(options: Options): Promise<void> {
  if (options.untimed) installUntimedEntries();
  if (options.entryTiming) installEntryTiming();
  const fingerprint = sourceFingerprint();
  process.stderr.write('starting the database…\n');
  const db = await openDatabase();
  serverPidValue = db.serverPid;
  const results: Record<string, unknown> = {};
  const out: string[] = [];
  try {
    out.push(`bench:db — ${machineLine(fingerprint)}`);
    out.push(
      `database: ${db.source}, ${db.version}; load average at start ${os
        .loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')}`,
    );
    out.push(
      `rounds ${options.rounds}, N ${options.n} selects / ${options.insertN} inserts per variant per round, ` +
        `throughput window ${options.durationMs / 1000} s after ${options.warmupMs / 1000} s warm-up, ${options.sessions} sessions; ` +
        `figures are medians over rounds. Session setup on every connection: ${sessionSetupSql(db.flavor)}`,
    );
    if (options.phases.has('latency')) {
      const rows = await phaseLatency(db, options);
      results.latency = rows;
      out.push('', '1. Primary-key select, one session vs one connection (per statement)', latencyTable(rows));
      out.push(
        '',
        'Where an operation goes (means): vmgate rows from the eval\'s own stats (cpuMs = timed entries, dbMs = SessionDatabase round trips; "rest" = host bookkeeping + event-loop turns); raw/floor rows timed in the loop:',
      );
      out.push(breakdownTable(rows));
      out.push('', accountingTable(rows, 'op'));
      if (options.entryTiming) out.push('', entryTable(rows, 'op'));
    }
    if (options.phases.has('insert')) {
      const rows = await phaseInsert(db, options);
      results.insert = rows;
      out.push(
        '',
        '2. INSERT + COMMIT, one session vs one connection (per operation = 2 statements)',
        latencyTable(rows),
      );
      out.push(breakdownTable(rows));
      out.push('', accountingTable(rows, 'op'));
      if (options.entryTiming) out.push('', entryTable(rows, 'op'));
    }
    if (options.phases.has('throughput')) {
      const rows = await phaseThroughput(db, options);
      results.throughput = rows;
      out.push(
        '',
        `3. Aggregate throughput, ${options.sessions} sessions vs a raw pool of ${options.sessions} (primary-key selects, closed loop)`,
        throughputTable(rows, options.sessions),
      );
      out.push('', accountingTable(rows, 'statement', options.sessions));
      if (options.entryTiming) out.push('', entryTable(rows, 'stmt', options.sessions));
    }
    if (options.phases.has('gateway')) {
      const rows = await phaseGateway(db, options);
      results.gateway = rows;
      out.push(
        '',
        `3b. Through a real gateway: ${options.sessions} WebSocket sessions (ws client in a child process) vs the raw pool measured next to it`,
        throughputTable(rows, options.sessions),
      );
      if (options.entryTiming) out.push('', entryTable(rows, 'stmt', options.sessions));
    }
    if (options.phases.has('gateway-insert')) {
      const rows = await phaseGatewayInsert(db, options);
      results.gatewayInsert = rows;
      out.push(
        '',
        `3c. Insert + commit through a real gateway: ${options.sessions} WebSocket sessions, one eval per insert then a commit op, vs a raw pool (INSERT + COMMIT); every acknowledged commit checked to be a row (figures: transactions/s)`,
        throughputTable(rows, options.sessions),
      );
    }
    if (options.phases.has('memory')) {
      const rows = await phaseMemory(db, options);
      results.memory = rows;
      const evalOnly = rows.find((r) => r.config === 'eval-only');
      const withDb = rows.find((r) => r.config === 'db');
      out.push(
        '',
        `4. Memory, ${options.memSessions} sessions per child process (after gc(); medians of ${options.memRuns} runs)`,
        memoryTable(rows),
      );
      if (evalOnly && withDb) {
        out.push(
          `   db adds ${fmt(withDb.rssKb - evalOnly.rssKb, 0)} KB RSS / ${fmt(withDb.heapKb - evalOnly.heapKb, 0)} KB heap per session over a session that ran only \`1 + 1\``,
        );
      }
    }
    if (options.entryTiming || options.profile) {
      out.push(
        '',
        'Diagnostics were on (--entry-timing / --profile): they perturb the figures; quote figures from runs without them.',
      );
    }
    if (options.untimed) {
      out.push(
        '',
        'WHAT-IF RUN (--what-if-untimed): realm entries ran WITHOUT their timeout (no CPU budget). Not a valid configuration; the floor rows run untimed too.',
      );
    }
    for (const p of profiles) out.push('', p);
    out.push(
      '',
      `load average at end ${os
        .loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')}`,
    );
  } finally {
    await db.stop();
  }
  const text = out.join('\n');
  process.stdout.write(`${text}\n`);
  const file = resultFile('db', '.json');
  writeJson(file, {
    machine: machineLine(fingerprint),
    options: { ...options, phases: [...options.phases], variants: options.variants ? [...options.variants] : null },
    results,
    text,
  });
  process.stderr.write(`results written to ${path.relative(ROOT, file)}\n`);
  if (options.json) process.stdout.write(`${JSON.stringify(results)}\n`);
}

const options = readOptions();
if (options.role === 'gateway') {
  if (options.untimed) installUntimedEntries();
  if (options.entryTiming) installEntryTiming();
  serveGateway();
} else if (options.role === 'client') clientRole();
else if (options.role === 'child') {
  serveRpc({
    run: (a) => memoryChild(a.url as string, a.flavor as ServerFlavor, a.config as MemoryConfig, a.n as number),
  });
} else {
  // The parent exits when done (pools and timers of the phases may linger).
  runMain(() => main(options).then(() => process.exit(0)));
}
