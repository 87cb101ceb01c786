/**
 * The gateway end to end, side by side with a bare `ws` echo and a "vm floor",
 * measured in the same run, interleaved per point; each server and the load
 * client in a child process of its own. docs/benchmarks.md, "bench:gateway".
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Option } from 'commander';
import type { LoadSummary } from '../clients/load/summary';
import { summarizeProfile } from './cpuprofile-top';
import { benchCommand, int, ints, listOf, parseOptions } from './lib/args';
import { openMany, serveLoadClient } from './lib/clients';
import type { Column } from './lib/report';
import { columns, fmt, fmtInt, fmtRatio, machineLine, printJson, resultFile, sourceFingerprint } from './lib/report';
import { Child, runMain } from './lib/rpc';
import {
  type ServerReady,
  type ServerUsage,
  type ServerWindow,
  serveGateway,
  serveReference,
  serverWindow,
  spawnGateway,
} from './lib/servers';
import { TINY_SHARED_STATE } from './lib/shared-state';
import { otherCpuPct, percentile, systemCpu } from './lib/stats';

const KINDS = ['echo', 'floor', 'vmgate', 'vmgate-exec'] as const;
type Kind = (typeof KINDS)[number];
/**
 * The two ways the gateway is measured: `vmgate` is startGateway with its
 * defaults (where session engines run is whatever the product defaults to;
 * the report says which), `vmgate-exec` forces `executors: { count: 2 }`.
 */
const GATEWAYS = ['vmgate', 'vmgate-exec'] as const;
type GatewayKind = (typeof GATEWAYS)[number];
const isGateway = (kind: Kind): kind is GatewayKind => kind === 'vmgate' || kind === 'vmgate-exec';
const EXEC_COUNT = 2;
const PHASES = ['throughput', 'open', 'hold'] as const;
const TARGET_THROUGHPUT_VS_FLOOR = 0.8;
const TARGET_OPEN_P50_OVER_WS_MS = 1.5;

const options = parseOptions<{
  quick?: boolean;
  duration?: number;
  warmup?: number;
  connections?: number[];
  hold?: number;
  openSerial?: number;
  openBatches?: number;
  holdBudget?: number;
  profile?: boolean;
  progress?: number;
  phases: string[];
  servers: Kind[];
  kind?: Kind;
}>(
  benchCommand(
    'gateway',
    'the gateway end to end, side by side with a bare ws echo and a vm floor (docs/benchmarks.md)',
  )
    .option('--quick', '1 s windows, 1 and 100 connections, 1 000 held sessions')
    .option('--duration <s>', 'measured window per point, seconds (default 5, --quick 1)', Number)
    .option('--warmup <s>', 'warm-up before each window, seconds (default 1, --quick 0.3)', Number)
    .option('--connections <list>', 'connection counts of the throughput phase (default 1,100,1000)', ints())
    .option('--hold <n>', 'sessions held in the memory phase (default 10 000, --quick 1 000; at most 15 000)', int())
    .option('--open-serial <n>', 'sessions opened one at a time (default 200, --quick 50)', int())
    .option('--open-batches <n>', 'batches of 100 sessions opened in parallel (default 5, --quick 2)', int())
    .option('--hold-budget <s>', 'time budget for opening the held sessions (default 20, --quick 15)', int())
    .option('--profile', 'CPU profile of each server during each throughput window (bench/results/)')
    .option('--progress <n>', 'print a line every N sessions while holding', int())
    .option('--phases <list>', `among ${PHASES.join(',')}`, listOf(PHASES), [...PHASES])
    .option('--servers <list>', `among ${KINDS.join(',')} (ratios need echo and floor)`, listOf(KINDS), [...KINDS])
    .addOption(new Option('--kind <kind>').hideHelp()),
);

// client role: session open latency (throughput and held sessions: bench/lib/clients.ts)

type P50P99 = { p50: number; p99: number };

interface OpenLatency {
  readonly count: number;
  readonly failed: number;
  readonly open: P50P99;
  readonly hello?: P50P99;
  readonly reply?: P50P99;
  readonly batchMs?: { p50: number; max: number };
}

const stats = (values: number[]): P50P99 => ({ p50: percentile(values, 50), p99: percentile(values, 99) });

/** Sessions opened in batches of `size` (one at a time with size 1), each closed again; latency per stage. */
async function openLatency(args: Record<string, unknown>): Promise<OpenLatency> {
  const { batches, size, hello } = args as { batches: number; size: number; hello: boolean };
  const evalCode = args.evalOnOpen ? { evalCode: '1 + 1', expect: 2 } : {};
  const [open, helloT, reply, batchMs]: number[][] = [[], [], [], []];
  let failed = 0;
  for (let b = 0; b < batches; b++) {
    const t0 = performance.now();
    const batch = await openMany(String(args.url), size, { parallel: size, timeoutMs: 30_000, ...evalCode });
    batchMs.push(performance.now() - t0);
    failed += batch.failed;
    const held = batch.sessions;
    for (const s of held) {
      open.push(s.upgradeMs);
      helloT.push(s.openMs);
      if (s.answerMs !== undefined) reply.push(s.answerMs);
    }
    await Promise.all(held.map((s) => s.connection.close(10_000)));
  }
  return {
    count: batches * size,
    failed,
    open: stats(open),
    ...(hello ? { hello: stats(helloT) } : {}),
    ...(args.evalOnOpen ? { reply: stats(reply) } : {}),
    ...(size > 1 ? { batchMs: { p50: percentile(batchMs, 50), max: Math.max(...batchMs) } } : {}),
  };
}

// parent: orchestration and report

/** The options with `--quick`'s defaults resolved; the report prints where `vmgate`'s engines ran (`vmgateMode`). */
function readSettings() {
  const quick = options.quick === true;
  return {
    vmgateMode: 'unknown',
    connections: options.connections ?? (quick ? [1, 100] : [1, 100, 1000]),
    warmupMs: (options.warmup ?? (quick ? 0.3 : 1)) * 1000,
    durationMs: (options.duration ?? (quick ? 1 : 5)) * 1000,
    openSerial: options.openSerial ?? (quick ? 50 : 200),
    openBatches: options.openBatches ?? (quick ? 2 : 5),
    hold: options.hold ?? (quick ? 1000 : 10_000),
    /** Time budget for opening the held sessions of one hold row. */
    holdBudgetMs: (options.holdBudget ?? (quick ? 15 : 20)) * 1000,
    profile: options.profile === true,
    /** Print a progress line every this many sessions while holding (0 = off). */
    progress: options.progress ?? 0,
    json: options.json === true,
    quick,
    phases: new Set(options.phases),
    /** Servers to run (all by default; a subset is for diagnostics: ratios need echo and floor). */
    kinds: options.servers,
  };
}
type Settings = ReturnType<typeof readSettings>;

/** One point of the throughput phase; CPU in % of one core over the window, `otherCpuPct` the machine's not ours. */
function throughputRow(
  kind: Kind,
  connections: number,
  load: LoadSummary & { clientCpuPct: number },
  cpu: ServerWindow,
  otherCpuPct: number,
  profileFile: string | undefined,
) {
  return {
    kind,
    connections,
    opened: load.sessions.opened,
    evalsPerSec: load.evals.perSec ?? Number.NaN,
    p50: load.latencyMs.p50 ?? Number.NaN,
    p99: load.latencyMs.p99 ?? Number.NaN,
    samples: load.latencyMs.count,
    errors: load.evals.errors,
    clientCpuPct: load.clientCpuPct,
    windowMs: load.windowS * 1000,
    serverCpuPct: cpu.cpuPct,
    executorCpuPct: cpu.childCpuPct,
    serverElu: cpu.elu,
    otherCpuPct,
    ...(profileFile ? { profile: profileFile } : {}),
  };
}
type ThroughputRow = ReturnType<typeof throughputRow>;

type OpenRow = { kind: Kind; serial: OpenLatency; parallel: OpenLatency; parallelEval: OpenLatency };

interface Held {
  opened: number;
  failed: number;
  errors: string[];
  budgetHit: boolean;
  ms: number;
}

/**
 * A row of the hold phase: memory of the server process and its executors
 * before, while and after holding; `confirmed` sessions the client saw
 * (hello, or the eval's reply), `serverConnections` those the server counted,
 * `stillOpen` those open when the hold ended, `budgetHit` opening stopped at its budget.
 */
function holdRow(label: string, kind: Kind, sessions: number, opened: Held, usage: ServerUsage[], stillOpen: number) {
  const [before, held, after] = usage as [ServerUsage, ServerUsage, ServerUsage];
  const rss = (u: ServerUsage) => u.rss + u.children.reduce((n, c) => n + c.rss, 0);
  const heap = (u: ServerUsage) => u.heapUsed + (u.executorHeap ?? 0);
  return {
    label,
    kind,
    sessions,
    confirmed: opened.opened,
    failed: opened.failed,
    openMs: opened.ms,
    rssBefore: rss(before),
    rssHeld: rss(held),
    rssAfterClose: rss(after),
    heapBefore: heap(before),
    heapHeld: heap(held),
    heapAfterClose: heap(after),
    executors: held.children.length,
    executorRssHeld: rss(held) - held.rss,
    stillOpen,
    serverConnections: held.sessions,
    errors: opened.errors,
    budgetHit: opened.budgetHit,
  };
}
type HoldRow = ReturnType<typeof holdRow>;

async function main(): Promise<void> {
  const settings = readSettings();
  for (const c of settings.connections) if (c > 5000) throw new Error(`bad --connections value ${c}`);
  if (settings.hold > 15_000) throw new Error('--hold is limited to 15000 (file descriptor limit 20000)');
  const say = (text: string) => {
    if (!settings.json) process.stderr.write(`${text}\n`);
  };
  const started = performance.now();
  const fingerprint = sourceFingerprint();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vmgate-bench-gw-'));
  const profileDir = resultFile('profile', '');
  if (settings.profile) mkdirSync(profileDir, { recursive: true });
  const sharedFile = path.join(dir, 'shared.json');
  writeFileSync(sharedFile, TINY_SHARED_STATE);

  const servers = new Map<Kind, { child: Child; ready: ServerReady }>();
  // The client marks its measured window; the server's CPU (and profile) and the machine's are read over it.
  let active: ReturnType<typeof serverWindow> | undefined;
  const machine = { start: systemCpu(), end: systemCpu(), t0: 0, t1: 0 };
  const onEdge = (start: boolean) =>
    Object.assign(
      machine,
      start ? { start: systemCpu(), t0: performance.now() } : { end: systemCpu(), t1: performance.now() },
    );
  let client: Child | undefined;

  try {
    for (const kind of settings.kinds) {
      let server: { child: Child; ready: ServerReady };
      if (isGateway(kind)) {
        const start = {
          sharedFile,
          // No frame rate limit: one closed-loop connection may exceed its default 1 000 frames/s (the references have none).
          limits: { maxSessions: 20_000, maxSessionsPerAddress: 20_000, heartbeatMs: 0, maxFramesPerSecond: 0 },
          session: {},
          ...(kind === 'vmgate-exec' ? { executors: { count: EXEC_COUNT } } : {}),
        };
        server = await spawnGateway(__filename, start, { execArgv: ['--expose-gc'], name: kind });
      } else {
        const child = Child.role(__filename, 'reference', ['--kind', kind], ['--expose-gc']);
        server = { child, ready: (await child.ready) as unknown as ServerReady };
      }
      servers.set(kind, server);
      if (kind === 'vmgate') settings.vmgateMode = String(server.ready.mode ?? 'unknown');
      const mode = server.ready.mode ? `, engines: ${server.ready.mode}` : '';
      say(`${kind} server listening on ${server.ready.url} (pid ${server.child.child.pid})${mode}`);
    }
    client = Child.role(__filename, 'client', [], [], (event) => active?.onEvent(event));
    await client.ready;
    const url = (kind: Kind) => (servers.get(kind) as { ready: ServerReady }).ready.url;
    const server = (kind: Kind) => (servers.get(kind) as { child: Child }).child;

    // 1. throughput
    const throughputRows: ThroughputRow[] = [];
    for (const connections of settings.phases.has('throughput') ? settings.connections : []) {
      for (const kind of settings.kinds) {
        say(`throughput: ${kind} × ${connections} connection(s) ...`);
        const profileFile = settings.profile ? path.join(profileDir, `${kind}-${connections}.cpuprofile`) : undefined;
        active = serverWindow(server(kind), { intervalUs: 200, onEdge, ...(profileFile ? { profileFile } : {}) });
        const load = await client.call<LoadSummary & { clientCpuPct: number }>(
          'run',
          {
            url: url(kind),
            sessions: connections,
            setup: '1 + 1', // primes each connection (vmgate creates its realm on the first eval)
            code: '1 + 1',
            warmupS: settings.warmupMs / 1000,
            warmupAfterSetup: true,
            durationS: settings.durationMs / 1000,
            openTimeoutMs: 30_000,
          },
          settings.warmupMs + settings.durationMs + 300_000,
        );
        if (load.problem) throw new Error(`${kind} × ${connections}: ${load.problem}`);
        const cpu = (await active.result()) ?? {
          cpuPct: Number.NaN,
          childCpuPct: Number.NaN,
          elu: Number.NaN,
          wallMs: 0,
        };
        active = undefined;
        const windowMs = machine.t1 - machine.t0;
        const ours = ((cpu.cpuPct + cpu.childCpuPct + load.clientCpuPct) / 100) * windowMs;
        const other = otherCpuPct(machine.start, machine.end, ours, windowMs);
        throughputRows.push(throughputRow(kind, connections, load, cpu, other, profileFile));
        // Let the server finish closing before the next point.
        await server(kind).call('waitSessions', { count: 0, timeoutMs: 30_000 });
      }
    }

    // 2./3. session open latency
    const openRows: OpenRow[] = [];
    for (const kind of settings.phases.has('open') ? settings.kinds : []) {
      say(`open latency: ${kind} (${settings.openSerial} one at a time, ${settings.openBatches} batches of 100) ...`);
      const latency = (batches: number, size: number, evalOnOpen: boolean) =>
        (client as Child).call<OpenLatency>(
          'openLatency',
          { url: url(kind), batches, size, hello: isGateway(kind), evalOnOpen },
          300_000,
        );
      const serial = await latency(settings.openSerial, 1, true);
      const parallel = await latency(settings.openBatches, 100, false);
      const parallelEval = await latency(settings.openBatches, 100, true);
      openRows.push({ kind, serial, parallel, parallelEval });
      await server(kind).call('waitSessions', { count: 0, timeoutMs: 30_000 });
    }

    // 4. memory held by N sessions
    const holdRows: HoldRow[] = [];
    const holds: Array<{ label: string; kind: Kind; evalOnOpen: boolean }> = [
      { label: 'bare ws echo, idle connections (reference)', kind: 'echo', evalOnOpen: false },
      { label: 'vmgate, idle sessions (no eval yet)', kind: 'vmgate', evalOnOpen: false },
      { label: 'vmgate, sessions after one eval `1 + 1`', kind: 'vmgate', evalOnOpen: true },
      { label: 'vmgate-exec, idle sessions (no eval yet)', kind: 'vmgate-exec', evalOnOpen: false },
      { label: 'vmgate-exec, sessions after one eval `1 + 1`', kind: 'vmgate-exec', evalOnOpen: true },
    ];
    for (const hold of settings.phases.has('hold') ? holds.filter((h) => settings.kinds.includes(h.kind)) : []) {
      say(`hold: ${settings.hold} × ${hold.label} ...`);
      const srv = server(hold.kind);
      const mem = (timeoutMs?: number) => srv.call<ServerUsage>('usage', { gc: true, executorHeap: true }, timeoutMs);
      const before = await mem();
      const opened = await client.call<Held>(
        'hold',
        {
          url: url(hold.kind),
          count: settings.hold,
          parallel: 100,
          ...(hold.evalOnOpen ? { evalCode: '1 + 1', expect: 2 } : {}),
          timeoutMs: 60_000,
          progress: settings.json ? 0 : settings.progress,
          budgetMs: settings.holdBudgetMs,
        },
        settings.holdBudgetMs + 180_000,
      );
      const held = await mem(300_000);
      const closed = await client.call<{ stillOpen: number }>('release', {}, 300_000);
      await srv.call('waitSessions', { count: 0, timeoutMs: 60_000 }, 120_000);
      const after = await mem(300_000);
      holdRows.push(holdRow(hold.label, hold.kind, settings.hold, opened, [before, held, after], closed.stillOpen));
    }
    report(settings, throughputRows, openRows, holdRows, (performance.now() - started) / 1000, fingerprint);
  } finally {
    await client?.stop();
    for (const { child } of servers.values()) await child.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function report(
  settings: Settings,
  throughputRows: ThroughputRow[],
  openRows: OpenRow[],
  holdRows: HoldRow[],
  seconds: number,
  fingerprint: string,
): void {
  const evalsPerSec = (kind: Kind, connections: number) =>
    throughputRows.find((r) => r.kind === kind && r.connections === connections)?.evalsPerSec ?? Number.NaN;
  const ratioPairs = [
    ['vmgate', 'floor'],
    ['vmgate', 'echo'],
    ['vmgate-exec', 'floor'],
    ['vmgate-exec', 'echo'],
    ['floor', 'echo'],
  ] as const;
  const ratios = settings.connections.map((connections) => ({
    connections,
    ...Object.fromEntries(
      ratioPairs.map(([a, b]) => [`${a}/${b}`, evalsPerSec(a, connections) / evalsPerSec(b, connections)]),
    ),
  })) as Array<{ connections: number } & Record<string, number>>;
  const echoOpen = openRows.find((r) => r.kind === 'echo')?.serial.open.p50 ?? Number.NaN;
  // Per session = what the server itself held when memory was read (sessions it had
  // already dropped, e.g. with an executor restarted, do not count).
  const perSession = (row: HoldRow) => {
    const n = Math.min(row.confirmed, row.serverConnections);
    return {
      rssKb: n > 0 ? (row.rssHeld - row.rssBefore) / 1024 / n : Number.NaN,
      heapKb: n > 0 ? (row.heapHeld - row.heapBefore) / 1024 / n : Number.NaN,
    };
  };
  const check = (target: number, measured: number, pass: boolean) => ({ target, measured, pass });
  const targets = Object.fromEntries(
    GATEWAYS.map((kind) => {
      const vsFloor = ratios.find((r) => r.connections === 100)?.[`${kind}/floor`] ?? Number.NaN;
      const over = (openRows.find((r) => r.kind === kind)?.serial.hello?.p50 ?? Number.NaN) - echoOpen;
      const throughputVsFloorAt100 = check(TARGET_THROUGHPUT_VS_FLOOR, vsFloor, vsFloor >= TARGET_THROUGHPUT_VS_FLOOR);
      const openP50OverWsMs = check(TARGET_OPEN_P50_OVER_WS_MS, over, over <= TARGET_OPEN_P50_OVER_WS_MS);
      return [kind, { throughputVsFloorAt100, openP50OverWsMs }];
    }),
  );

  const profiles = throughputRows.filter((r) => r.profile && r.kind !== 'echo');
  if (settings.json) {
    printJson({
      benchmark: 'gateway',
      machine: machineLine(fingerprint),
      settings: { ...settings, phases: [...settings.phases] },
      throughput: throughputRows,
      ratios,
      open: openRows,
      hold: holdRows.map((row) => ({ ...row, perSession: perSession(row) })),
      targets,
      profiles: profiles.map(({ kind, connections, profile }) => ({ kind, connections, file: profile })),
      seconds,
    });
    return;
  }

  const mb = (bytes: number) => `${fmt(bytes / 2 ** 20, 0)} MB`;
  const pct = (value: number) => `${fmt(value, 0)}%`;
  const pp = (s?: P50P99) => (s ? `${fmt(s.p50, 3)} / ${fmt(s.p99, 3)}` : '—');
  const verdict = (text: string, pass: boolean, measured: string) => `${text} → ${measured} ${pass ? 'PASS' : 'MISS'}`;
  const out = [
    `vmgate bench:gateway — ${settings.durationMs / 1000} s per point after ${settings.warmupMs / 1000} s warm-up${settings.quick ? ' (--quick)' : ''}${settings.profile ? ' (--profile: CPU profiler on, do not quote these figures)' : ''}`,
    machineLine(fingerprint),
    `Servers: echo = bare ws; floor = bare ws + vm context per connection + one timed runInContext per frame; vmgate = startGateway defaults (engines found: ${settings.vmgateMode}); vmgate-exec = startGateway({ executors: { count: ${EXEC_COUNT} } }).`,
  ];
  if (throughputRows.length > 0) {
    const throughputColumns: Column<ThroughputRow>[] = [
      ['server', (r) => r.kind],
      ['conns', (r) => String(r.connections)],
      ['evals/s', (r) => fmtInt(r.evalsPerSec)],
      ['p50 ms', (r) => fmt(r.p50, 3)],
      ['p99 ms', (r) => fmt(r.p99, 3)],
      ['server CPU', (r) => pct(r.serverCpuPct)],
      ['executors CPU', (r) => (isGateway(r.kind) ? pct(r.executorCpuPct) : '—')],
      ['server ELU', (r) => fmt(r.serverElu, 2)],
      ['client CPU', (r) => pct(r.clientCpuPct)],
      ['other CPU', (r) => pct(r.otherCpuPct)],
      ['errors', (r) => String(r.errors)],
    ];
    out.push(
      '',
      'Throughput, closed loop, `1 + 1` per request (server and client in separate processes):',
      columns(throughputColumns, throughputRows),
      "CPU columns: % of one core over the measured window; 'other CPU' = the machine's busy time not used by this benchmark's processes (> ~15%: someone else was running, distrust that point).",
      '',
      columns(
        [
          ['conns', (r) => String(r.connections)],
          ...ratioPairs.map(
            ([a, b]): Column<(typeof ratios)[number]> => [`${a}/${b}`, (r) => fmtRatio(r[`${a}/${b}`])],
          ),
        ],
        ratios,
      ),
      ...GATEWAYS.map((kind) => {
        const t = targets[kind].throughputVsFloorAt100;
        const text = `Target (${kind}): ≥ ${TARGET_THROUGHPUT_VS_FLOOR}× the vm floor at 100 connections`;
        return verdict(text, t.pass, fmtRatio(t.measured));
      }),
    );
  }
  if (openRows.length > 0) {
    const openColumns: Column<OpenRow>[] = [
      ['server', (r) => r.kind],
      ['serial: open', (r) => pp(r.serial.open)],
      ['serial: hello', (r) => pp(r.serial.hello)],
      ['serial: 1st reply', (r) => pp(r.serial.reply)],
      ['×100 parallel: open', (r) => pp(r.parallel.open)],
      ['×100: hello', (r) => pp(r.parallel.hello)],
      ['×100: batch ms', (r) => fmt(r.parallel.batchMs?.p50, 1)],
      ['×100 + eval: 1st reply', (r) => pp(r.parallelEval.reply)],
      ['×100 + eval: batch ms', (r) => fmt(r.parallelEval.batchMs?.p50, 1)],
      ['failed', (r) => String(r.serial.failed + r.parallel.failed + r.parallelEval.failed)],
    ];
    out.push(
      '',
      'Session open latency, ms from `new WebSocket` (p50 / p99):',
      columns(openColumns, openRows),
      ...GATEWAYS.map((kind) => {
        const t = targets[kind].openP50OverWsMs;
        const text = `Target (${kind}): hello p50 within ${TARGET_OPEN_P50_OVER_WS_MS} ms of a bare ws handshake (echo 'open' p50)`;
        return verdict(text, t.pass, `${t.measured >= 0 ? '+' : ''}${fmt(t.measured, 3)} ms`);
      }),
      '"1st reply": an eval `1 + 1` sent on `hello`; for the gateways it includes creating the session realm (lazily, on the first eval).',
    );
  }
  if (holdRows.length > 0) {
    const holdColumns: Column<HoldRow>[] = [
      ['what', (r) => r.label],
      [
        'held',
        (r) =>
          `${r.confirmed}/${r.sessions}${r.failed ? ` (${r.failed} failed)` : ''}${r.budgetHit ? ' (budget)' : ''}`,
      ],
      ['server had', (r) => String(r.serverConnections)],
      ['still open', (r) => String(r.stillOpen)],
      ['open s', (r) => fmt(r.openMs / 1000, 1)],
      ['RSS before', (r) => mb(r.rssBefore)],
      ['RSS held', (r) => mb(r.rssHeld)],
      [
        'of which child procs',
        (r) => (r.executors > 0 ? `${mb(r.executorRssHeld)} (${r.executors} child procs)` : '—'),
      ],
      ['RSS after close', (r) => mb(r.rssAfterClose)],
      ['KB RSS/session', (r) => fmt(perSession(r).rssKb, 1)],
      ['KB heap/session', (r) => fmt(perSession(r).heapKb, 1)],
    ];
    out.push(
      '',
      `Memory held by up to ${settings.hold} concurrent sessions (server process + its executor processes; gc'd in the server process, executors' heap from their last heartbeat):`,
      columns(holdColumns, holdRows),
      "  'held': sessions confirmed by the client (hello, or the eval's reply); 'server had': sessions the server counted when memory was read (the per-session divisor); 'still open': client connections open when the hold ended.",
    );
    for (const r of holdRows) {
      if (r.errors.length > 0) out.push(`  ${r.label}: ${r.errors.map((e) => e.slice(0, 160)).join('; ')}`);
      if (r.stillOpen < r.confirmed) {
        out.push(`  ${r.label}: ${r.confirmed - r.stillOpen} held sessions were closed by the server during the hold`);
      }
    }
    if (holdRows.some((r) => r.budgetHit)) {
      out.push(
        `  (budget): opening stopped after the time budget of ${settings.holdBudgetMs / 1000} s; per-session figures are over the sessions actually held. --hold-budget S raises it.`,
      );
    }
  }
  for (const p of profiles) {
    out.push(
      '',
      `CPU profile of the ${p.kind} server process during the ${p.connections}-connection window: ${p.profile}`,
    );
    out.push(summarizeProfile(p.profile as string, { top: 25 }));
  }
  out.push('', `(run took ${fmt(seconds, 0)} s)`);
  process.stdout.write(`${out.join('\n')}\n`);
}

if (options.role === 'gateway') serveGateway();
else if (options.role === 'reference') void serveReference(options.kind === 'floor' ? 'floor' : 'echo');
else if (options.role === 'client') serveLoadClient({ openLatency });
else runMain(main);
