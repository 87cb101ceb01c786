/**
 * What one session costs: time to create it and the memory it holds; each
 * configuration in a child process of its own. docs/benchmarks.md, "bench:sessions".
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import vm from 'node:vm';
import { loadSharedState } from '../shared-state/load';
import { benchCommand, int, listOf, parseOptions } from './lib/args';
import { settleGc } from './lib/gc';
import { engineAfterFirstEval, floorContext, newRealm } from './lib/realms';
import { type Column, columns, fmt, fmtRatio, machineLine, printJson, sourceFingerprint } from './lib/report';
import { runInChild, runMain, serveRpc } from './lib/rpc';
import { TINY_SHARED_STATE, writeLargeSharedState } from './lib/shared-state';
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

type ChildResult = Awaited<ReturnType<typeof runChild>>;

/** N objects created one after another, all kept alive, each timed; memory read after gc() before and after. */
async function runChild(config: Config, requested: number, sharedFile: string, budgetMs: number) {
  const t0 = performance.now();
  const state = config === 'floor' ? undefined : loadSharedState(sharedFile);
  const sharedLoadMs = state ? performance.now() - t0 : undefined;
  const shared = state?.value;
  const tiny = new vm.Script('var answer = 1 + 1; answer', { filename: 'floor' });
  const make: () => unknown = {
    floor: () => {
      const context = floorContext();
      if (tiny.runInContext(context) !== 2) throw new Error('floor script returned a wrong value');
      return context;
    },
    realm: () => newRealm(shared),
    'realm-50mb': () => newRealm(shared),
    'engine-eval': () => engineAfterFirstEval(shared),
  }[config];

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
  // Bounded in time too: the figures cover what was created before the budget ran out.
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
    /** Wall time of the whole creation loop / N (includes GC pauses). */
    msWallPerSession: wall / n,
    /** p50 of the first and of the last tenth: does a session get dearer as more are alive? */
    msP50FirstTenth: percentile(created.subarray(0, tenth), 50),
    /** p50 of the first 500: comparable across rows whatever N each reached. */
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
    sharedLoadMs,
    sharedBytes: state?.bytes,
  };
}

type Row = ChildResult & { readonly runs: number };

async function main(): Promise<void> {
  const fingerprint = sourceFingerprint();
  const { sessions: n, runs, sharedMb, budget, configs } = options;
  const say = (text: string) => options.json || process.stderr.write(`${text}\n`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vmgate-bench-'));
  try {
    const tinyFile = path.join(dir, 'tiny.json');
    writeFileSync(tinyFile, TINY_SHARED_STATE);
    const largeFile = path.join(dir, 'large.json');
    if (configs.includes('realm-50mb')) {
      const t0 = performance.now();
      const info = writeLargeSharedState(largeFile, sharedMb);
      const ms = (performance.now() - t0).toFixed(0);
      say(`generated ${(info.bytes / 2 ** 20).toFixed(1)} MB shared state (${info.records} records) in ${ms} ms`);
    }
    const results = new Map<Config, ChildResult[]>(configs.map((c) => [c, []]));
    // Runs interleave the configurations, so a noisy minute hits all of them.
    for (let run = 0; run < runs; run++) {
      for (const config of configs) {
        say(`run ${run + 1}/${runs}: ${config} × ${n} ...`);
        const t0 = performance.now();
        const sharedFile = config === 'realm-50mb' ? largeFile : tinyFile;
        results.get(config)?.push(await runInChild(__filename, { config, n, sharedFile, budgetMs: budget * 1000 }));
        say(`  done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      }
    }
    const rows = new Map<Config, Row>();
    for (const [config, list] of results)
      rows.set(config, { ...(medianFields(list) as ChildResult), runs: list.length });
    report(rows, fingerprint);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function report(rows: Map<Config, Row>, fingerprint: string): void {
  const { sessions: n, runs, budget } = options;
  const [floor, realm, large, engine] = CONFIGS.map((c) => rows.get(c));
  const rel = (a: number, b: number) => (a - b) / b;
  const largeVsTiny = realm &&
    large && {
      rss: rel(large.rssKbPerSession, realm.rssKbPerSession),
      heap: rel(large.heapKbPerSession, realm.heapKbPerSession),
      msP50: rel(large.msP50First500, realm.msP50First500),
    };
  const checks = {
    idleTargets: [realm, large]
      .filter((r): r is Row => r !== undefined)
      .map((r) => ({
        config: r.config,
        kbPass: r.rssKbPerSession <= TARGET_KB,
        msPass: r.msP50 <= TARGET_MS,
        msMeanPass: r.msWallPerSession <= TARGET_MS,
      })),
    ...(largeVsTiny
      ? { largeWithin10pct: { ...largeVsTiny, pass: Object.values(largeVsTiny).every((x) => Math.abs(x) <= 0.1) } }
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
  if (options.json) {
    const targets = { kbPerIdleSession: TARGET_KB, msPerIdleSession: TARGET_MS };
    const machine = machineLine(fingerprint);
    printJson({
      benchmark: 'sessions',
      machine,
      sessions: n,
      budgetSeconds: budget,
      runs,
      targets,
      rows: [...rows.values()],
      checks,
    });
    return;
  }
  const list = CONFIGS.flatMap((c) => rows.get(c) ?? []);
  const ratio = (key: 'msP50' | 'rssKbPerSession' | 'heapKbPerSession') => (r: Row) =>
    fmtRatio(floor && floor[key] !== 0 ? r[key] / floor[key] : Number.NaN);
  const ms = (key: (keyof Row & `ms${string}`) | 'gcMsPerSession') => (r: Row) => fmt(r[key] as number, 3);
  const target = (r: Row) =>
    r.config === 'floor'
      ? 'reference'
      : r.config === 'engine-eval'
        ? 'n/a (not idle)'
        : `${r.rssKbPerSession <= TARGET_KB ? 'PASS' : 'MISS'} ≤${TARGET_KB}KB, ${r.msP50 <= TARGET_MS ? 'PASS' : 'MISS'} ≤${TARGET_MS}ms`;
  const main: Column<Row>[] = [
    ['configuration', (r) => LABELS[r.config]],
    ['N', (r) => `${fmt(r.sessions, 0)}${r.budgetHit ? '*' : ''}`],
    ['ms p50', ms('msP50')],
    ['ms p99', ms('msP99')],
    ['ms wall/N', ms('msWallPerSession')],
    ['KB RSS', (r) => fmt(r.rssKbPerSession, 1)],
    ['KB heap', (r) => fmt(r.heapKbPerSession, 1)],
    ['×floor ms', ratio('msP50')],
    ['×floor RSS', ratio('rssKbPerSession')],
    ['×floor heap', ratio('heapKbPerSession')],
    ['target (idle)', target],
  ];
  const growth: Column<Row>[] = [
    ['configuration', (r) => LABELS[r.config]],
    ['p50 first 500', ms('msP50First500')],
    ['p50 first 10%', ms('msP50FirstTenth')],
    ['p50 last 10%', ms('msP50LastTenth')],
    ['GC ms/N', ms('gcMsPerSession')],
    ['major GCs', (r) => fmt(r.majorGcs, 0)],
    ['RSS before', (r) => `${fmt(r.rssBeforeMb, 0)} MB`],
    ['RSS after', (r) => `${fmt(r.rssAfterMb, 0)} MB`],
    ['other CPU', (r) => `${fmt(r.otherCpuPct, 0)}%`],
  ];
  const out = [
    `vmgate bench:sessions — ${n} sessions per configuration, ${runs} run(s), medians across runs`,
    machineLine(fingerprint),
    '',
    columns(main, list),
    '',
    columns(growth, list),
    '',
    `KB = (memoryUsage() after − before, both after gc()) / N with all N kept alive; "ms wall/N" = creation loop wall time / N (GC pauses included).`,
    "'other CPU': the machine's busy time not used by the measuring child, % of one core (> ~15% means someone else was running: distrust that row).",
  ];
  if (list.some((r) => r.budgetHit)) {
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
  serveRpc({ run: (a) => runChild(a.config as Config, a.n as number, a.sharedFile as string, a.budgetMs as number) });
} else runMain(main);
