/**
 * What one session costs: time to create it and the memory it holds.
 *
 *   npm run bench:sessions [-- --sessions 5000] [--runs 1] [--shared-mb 50] [--budget 25]
 *                            [--configs floor,realm,realm-50mb,engine-eval] [--json]
 *
 * Configurations, each measured in its own child process (this script run
 * with `--role child`), so RSS deltas never mix:
 *
 * - `floor`        bare `vm.createContext(Object.create(null), { codeGeneration off,
 *                  microtaskMode: 'afterEvaluate' })` + running a tiny precompiled
 *                  script in it: the least a realm-per-session design can pay;
 * - `realm`        a vmgate session realm (`new Realm(...)`), tiny shared state;
 * - `realm-50mb`   the same, with a ~50 MB JSON shared state (loaded once, before
 *                  the baseline is taken, as the gateway loads it once per process);
 * - `engine-eval`  a `SessionEngine` (tiny shared state) after its first eval
 *                  `1 + 1`: the engine creates its realm lazily on that eval, so
 *                  this is an idle session plus what the first eval adds.
 *
 * In each child: shared state loaded, a few warm-up objects created and
 * dropped (compiles the bootstrap script, warms the JIT), `gc()`, baseline
 * `process.memoryUsage()`; then N objects are created one after another and
 * all kept alive, each creation timed; then `gc()` again and a second
 * reading. Per-session memory = (after − baseline) / N, for RSS and V8 heap
 * used. A child stops creating after `--budget` seconds (default 25) and
 * reports over the N it created (flagged with `*`), so the run stays bounded
 * even when creation gets slower as sessions accumulate. `--runs R` repeats every child R times and reports the median of the
 * per-run figures.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import vm from 'node:vm';
import { Realm } from '../sandbox/realm';
import { SessionEngine } from '../sandbox/session-engine';
import { loadSharedState } from '../shared-state/load';
import { benchCommand, int, listOf, parseOptions } from './lib/args';
import { settleGc } from './lib/gc';
import { fmt, fmtRatio, machineLine, printJson, sourceFingerprint, table } from './lib/report';
import { runInChild, runMain, serveRpc } from './lib/rpc';
import { writeLargeSharedState } from './lib/shared-state';
import { mean, medianFields, otherCpuPct, percentile, systemCpu } from './lib/stats';

const CONFIGS = ['floor', 'realm', 'realm-50mb', 'engine-eval'] as const;
type Config = (typeof CONFIGS)[number];

const LABELS: Record<Config, string> = {
  floor: '(a) floor: bare vm context + tiny script',
  realm: '(b) vmgate Realm, tiny shared state',
  'realm-50mb': '(c) vmgate Realm, 50 MB shared state',
  'engine-eval': '(d) SessionEngine + first eval `1 + 1`',
};

const options = parseOptions<{ sessions: number; runs: number; sharedMb: number; budget: number; configs: Config[] }>(
  benchCommand('sessions', 'what one session costs: time to create it and the memory it holds')
    .option('--sessions <n>', 'sessions created (and kept) per configuration', int(), 5000)
    .option('--runs <n>', 'children per configuration, interleaved; medians', int(), 1)
    .option('--shared-mb <mb>', 'size of the generated shared state of realm-50mb', int(), 50)
    .option('--budget <s>', 'a child stops creating after this many seconds', int(), 25)
    .option('--configs <list>', `among ${CONFIGS.join(',')}`, listOf(CONFIGS), [...CONFIGS]),
);

/** Targets for an idle session (rows b and c). */
const TARGET_KB = 250;
const TARGET_MS = 1.5;
const WARMUP = 25;

interface ChildResult {
  readonly config: Config;
  /** Sessions actually created (fewer than `requested` when the time budget was hit). */
  readonly sessions: number;
  readonly requested: number;
  readonly budgetHit: boolean;
  readonly msP50: number;
  readonly msP99: number;
  readonly msMean: number;
  /** Wall time of the whole creation loop / N (includes GC pauses). */
  readonly msWallPerSession: number;
  /** p50 of the first and of the last tenth of the creations: does a session get dearer as more are alive? */
  readonly msP50FirstTenth: number;
  readonly msP50LastTenth: number;
  /** p50 of the first 500 creations: comparable across rows whatever N each reached. */
  readonly msP50First500: number;
  /** GC pause time during the creation loop, per session, and the number of major (mark-compact) GCs. */
  readonly gcMsPerSession: number;
  readonly majorGcs: number;
  /** CPU used on the machine by other processes during the loop, % of one core (noise indicator). */
  readonly otherCpuPct: number;
  readonly rssKbPerSession: number;
  readonly heapKbPerSession: number;
  readonly externalKbPerSession: number;
  readonly rssBeforeMb: number;
  readonly rssAfterMb: number;
  readonly sharedLoadMs?: number;
  readonly sharedBytes?: number;
}

// ---------------------------------------------------------------------------
// child
// ---------------------------------------------------------------------------

async function runChild(config: Config, requested: number, sharedFile: string, budgetMs: number): Promise<ChildResult> {
  let shared: unknown;
  let sharedLoadMs: number | undefined;
  let sharedBytes: number | undefined;
  if (config !== 'floor') {
    const t0 = performance.now();
    const state = loadSharedState(sharedFile);
    sharedLoadMs = performance.now() - t0;
    sharedBytes = state.bytes;
    shared = state.value;
  }

  const tiny = new vm.Script('var answer = 1 + 1; answer', { filename: 'floor' });
  const realmOptions = { shared, maxTimers: 1000, maxLogLine: 64 * 1024, inspectDepth: 2 };
  const noHooks = { log() {}, settle() {}, wake() {} };

  let make: () => unknown;
  switch (config) {
    case 'floor':
      make = () => {
        const context = vm.createContext(Object.create(null), {
          codeGeneration: { strings: false, wasm: false },
          microtaskMode: 'afterEvaluate',
        });
        if (tiny.runInContext(context) !== 2) throw new Error('floor script returned a wrong value');
        return context;
      };
      break;
    case 'realm':
    case 'realm-50mb':
      make = () => new Realm(realmOptions, noHooks);
      break;
    case 'engine-eval':
      // Entries run in the engine's next batch (a later turn of the event
      // loop, sandbox/entry-scheduler.ts): the creation is timed up to the reply.
      make = () =>
        new Promise((resolve, reject) => {
          let settled = false;
          const engine: SessionEngine = new SessionEngine({
            shared,
            emit: (message) => {
              if (settled) return;
              settled = true;
              const r = message as { type?: string; value?: string };
              if (r.type === 'result' && r.value === '2') resolve(engine);
              else reject(new Error(`first eval did not answer 2: ${JSON.stringify(r)}`));
            },
          });
          engine.send({ type: 'eval', ref: 1, code: '1 + 1' });
        });
      break;
  }

  for (let i = 0; i < WARMUP; i++) await make();
  await settleGc();
  const before = process.memoryUsage();

  let gcMs = 0;
  let majorGcs = 0;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gcMs += entry.duration;
      // NODE_PERFORMANCE_GC_MAJOR = 4
      if ((entry as { detail?: { kind?: number } }).detail?.kind === 4) majorGcs++;
    }
  });
  observer.observe({ entryTypes: ['gc'] });

  const keep: unknown[] = new Array(requested);
  const times = new Float64Array(requested);
  const machineBefore = systemCpu();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  // Bounded in time too: a configuration that gets slower as sessions
  // accumulate stops at its budget, and the figures cover what was created.
  let n = requested;
  for (let i = 0; i < requested; i++) {
    const t0 = performance.now();
    const made = make();
    keep[i] = made instanceof Promise ? await made : made;
    times[i] = performance.now() - t0;
    if (t0 - started > budgetMs) {
      n = i + 1;
      break;
    }
  }
  const wall = performance.now() - started;
  const ownCpu = process.cpuUsage(cpuBefore);
  const otherPct = otherCpuPct(machineBefore, systemCpu(), (ownCpu.user + ownCpu.system) / 1000, wall);
  // GC entries are delivered asynchronously: let them arrive before the final gc() runs.
  await new Promise((resolve) => setTimeout(resolve, 200));
  observer.disconnect();
  const tenth = Math.max(1, Math.floor(n / 10));
  const created = times.subarray(0, n);

  await settleGc();
  const after = process.memoryUsage();
  if (keep[n - 1] === undefined) throw new Error('objects were not kept');

  const kb = (a: number, b: number) => (a - b) / 1024 / n;
  return {
    config,
    sessions: n,
    requested,
    budgetHit: n < requested,
    msP50: percentile(created, 50),
    msP99: percentile(created, 99),
    msMean: mean(created),
    msWallPerSession: wall / n,
    msP50FirstTenth: percentile(created.subarray(0, tenth), 50),
    msP50First500: percentile(created.subarray(0, Math.min(n, 500)), 50),
    msP50LastTenth: percentile(created.subarray(n - tenth), 50),
    gcMsPerSession: gcMs / n,
    otherCpuPct: otherPct,
    majorGcs,
    rssKbPerSession: kb(after.rss, before.rss),
    heapKbPerSession: kb(after.heapUsed, before.heapUsed),
    externalKbPerSession: kb(after.external, before.external),
    rssBeforeMb: before.rss / 2 ** 20,
    rssAfterMb: after.rss / 2 ** 20,
    ...(sharedLoadMs !== undefined ? { sharedLoadMs, sharedBytes } : {}),
  };
}

// ---------------------------------------------------------------------------
// parent
// ---------------------------------------------------------------------------

type Row = ChildResult & { readonly runs: number };

/** Median of each numeric field across runs. */
function combine(results: readonly ChildResult[]): Row {
  return { ...(medianFields(results) as ChildResult), runs: results.length };
}

async function main(): Promise<void> {
  const fingerprint = sourceFingerprint();
  const { sessions: n, runs, sharedMb, budget, configs } = options;
  const json = options.json === true;
  const say = (text: string) => {
    if (!json) process.stderr.write(`${text}\n`);
  };

  const dir = mkdtempSync(path.join(os.tmpdir(), 'vmgate-bench-'));
  try {
    const tinyFile = path.join(dir, 'tiny.json');
    writeFileSync(
      tinyFile,
      JSON.stringify({ currencies: { EUR: 1, USD: 1.08 }, greeting: 'hello', limits: [1, 2, 3] }),
    );
    let largeFile = '';
    if (configs.includes('realm-50mb')) {
      largeFile = path.join(dir, 'large.json');
      const t0 = performance.now();
      const info = writeLargeSharedState(largeFile, sharedMb);
      say(
        `generated ${(info.bytes / 2 ** 20).toFixed(1)} MB shared state (${info.records} records) in ${(performance.now() - t0).toFixed(0)} ms`,
      );
    }

    const results = new Map<Config, ChildResult[]>();
    // Runs interleave the configurations, so a noisy minute hits all of them.
    for (let run = 0; run < runs; run++) {
      for (const config of configs) {
        say(`run ${run + 1}/${runs}: ${config} × ${n} ...`);
        const t0 = performance.now();
        const sharedFile = config === 'realm-50mb' ? largeFile : tinyFile;
        const result = await runInChild<ChildResult>(__filename, { config, n, sharedFile, budgetMs: budget * 1000 });
        say(`  done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
        results.set(config, [...(results.get(config) ?? []), result]);
      }
    }
    const rows = new Map<Config, Row>();
    for (const [config, list] of results) rows.set(config, combine(list));
    report(rows, n, runs, json, fingerprint, budget);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Checks {
  readonly idleTargets: Array<{
    config: Config;
    kbPass: boolean;
    msPass: boolean;
    msMeanPass: boolean;
  }>;
  readonly largeWithin10pct?: { rss: number; heap: number; msP50: number; pass: boolean };
  readonly firstEvalAdds?: { ms: number; rssKb: number; heapKb: number };
}

function report(
  rows: Map<Config, Row>,
  n: number,
  runs: number,
  json: boolean,
  fingerprint: string,
  budget: number,
): void {
  const floor = rows.get('floor');
  const realm = rows.get('realm');
  const large = rows.get('realm-50mb');
  const engine = rows.get('engine-eval');
  const ratio = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined || b === 0 ? Number.NaN : a / b;
  const rel = (a: number, b: number) => (a - b) / b;

  const checks: Checks = {
    idleTargets: [realm, large]
      .filter((r): r is Row => r !== undefined)
      .map((r) => ({
        config: r.config,
        kbPass: r.rssKbPerSession <= TARGET_KB,
        msPass: r.msP50 <= TARGET_MS,
        msMeanPass: r.msWallPerSession <= TARGET_MS,
      })),
    ...(realm && large
      ? {
          largeWithin10pct: {
            rss: rel(large.rssKbPerSession, realm.rssKbPerSession),
            heap: rel(large.heapKbPerSession, realm.heapKbPerSession),
            msP50: rel(large.msP50First500, realm.msP50First500),
            pass:
              Math.abs(rel(large.rssKbPerSession, realm.rssKbPerSession)) <= 0.1 &&
              Math.abs(rel(large.heapKbPerSession, realm.heapKbPerSession)) <= 0.1 &&
              Math.abs(rel(large.msP50First500, realm.msP50First500)) <= 0.1,
          },
        }
      : {}),
    ...(realm && engine
      ? {
          firstEvalAdds: {
            ms: engine.msP50First500 - realm.msP50First500,
            rssKb: engine.rssKbPerSession - realm.rssKbPerSession,
            heapKb: engine.heapKbPerSession - realm.heapKbPerSession,
          },
        }
      : {}),
  };

  if (json) {
    printJson({
      benchmark: 'sessions',
      machine: machineLine(fingerprint),
      sessions: n,
      budgetSeconds: budget,
      runs,
      targets: { kbPerIdleSession: TARGET_KB, msPerIdleSession: TARGET_MS },
      rows: [...rows.values()],
      checks,
    });
    return;
  }

  const out: string[] = [];
  out.push(`vmgate bench:sessions — ${n} sessions per configuration, ${runs} run(s), medians across runs`);
  out.push(machineLine(fingerprint));
  out.push('');
  out.push(
    table(
      [
        'configuration',
        'N',
        'ms p50',
        'ms p99',
        'ms wall/N',
        'KB RSS',
        'KB heap',
        '×floor ms',
        '×floor RSS',
        '×floor heap',
        'target (idle)',
      ],
      CONFIGS.filter((c) => rows.has(c)).map((c) => {
        const r = rows.get(c) as Row;
        const idle = c === 'realm' || c === 'realm-50mb';
        const target = idle
          ? `${r.rssKbPerSession <= TARGET_KB ? 'PASS' : 'MISS'} ≤${TARGET_KB}KB, ${r.msP50 <= TARGET_MS ? 'PASS' : 'MISS'} ≤${TARGET_MS}ms`
          : c === 'floor'
            ? 'reference'
            : 'n/a (not idle)';
        return [
          LABELS[c],
          `${fmt(r.sessions, 0)}${r.budgetHit ? '*' : ''}`,
          fmt(r.msP50, 3),
          fmt(r.msP99, 3),
          fmt(r.msWallPerSession, 3),
          fmt(r.rssKbPerSession, 1),
          fmt(r.heapKbPerSession, 1),
          fmtRatio(ratio(r.msP50, floor?.msP50)),
          fmtRatio(ratio(r.rssKbPerSession, floor?.rssKbPerSession)),
          fmtRatio(ratio(r.heapKbPerSession, floor?.heapKbPerSession)),
          target,
        ];
      }),
    ),
  );
  out.push('');
  out.push(
    table(
      [
        'configuration',
        'p50 first 500',
        'p50 first 10%',
        'p50 last 10%',
        'GC ms/N',
        'major GCs',
        'RSS before',
        'RSS after',
        'other CPU',
      ],
      CONFIGS.filter((c) => rows.has(c)).map((c) => {
        const r = rows.get(c) as Row;
        return [
          LABELS[c],
          fmt(r.msP50First500, 3),
          fmt(r.msP50FirstTenth, 3),
          fmt(r.msP50LastTenth, 3),
          fmt(r.gcMsPerSession, 3),
          fmt(r.majorGcs, 0),
          `${fmt(r.rssBeforeMb, 0)} MB`,
          `${fmt(r.rssAfterMb, 0)} MB`,
          `${fmt(r.otherCpuPct, 0)}%`,
        ];
      }),
    ),
  );
  out.push('');
  out.push(
    `KB = (memoryUsage() after − before, both after gc()) / N with all N kept alive; "ms wall/N" = creation loop wall time / N (GC pauses included).`,
  );
  out.push(
    "'other CPU': the machine's busy time not used by the measuring child, % of one core (> ~15% means someone else was running: distrust that row).",
  );
  if ([...rows.values()].some((r) => r.budgetHit)) {
    out.push(
      `* time budget hit: that configuration stopped creating after ${budget} s (--budget S); its figures cover the N it created, and its ms figures are then not comparable with rows of larger N when creation cost grows with N (see 'p50 first/last 10%').`,
    );
  }
  out.push(
    `Targets for an idle session: ≤ ${TARGET_KB} KB RSS and ≤ ${TARGET_MS} ms (judged on p50; wall/N shown too).`,
  );
  if (checks.largeWithin10pct) {
    const c = checks.largeWithin10pct;
    const pct = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`;
    out.push(
      `50 MB shared state vs tiny: RSS/session ${pct(c.rss)}, heap/session ${pct(c.heap)}, p50 of the first 500 ${pct(c.msP50)} → ${c.pass ? 'within 10%' : 'NOT within 10%'} (loaded once in ${fmt(large?.sharedLoadMs, 0)} ms, ${fmt((large?.sharedBytes ?? 0) / 2 ** 20, 1)} MB; child RSS before the sessions: ${fmt(large?.rssBeforeMb, 0)} MB vs ${fmt(realm?.rssBeforeMb, 0)} MB)`,
    );
  }
  if (checks.firstEvalAdds) {
    const c = checks.firstEvalAdds;
    out.push(
      `The first eval (SessionEngine + realm + \`1 + 1\`) adds to an idle realm: ${fmt(c.ms, 3)} ms (p50 of the first 500), ${fmt(c.rssKb, 1)} KB RSS, ${fmt(c.heapKb, 1)} KB heap per session.`,
    );
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

if (options.role === 'child') {
  serveRpc({
    run: (a) => runChild(a.config as Config, a.n as number, a.sharedFile as string, a.budgetMs as number),
  });
} else runMain(main);
