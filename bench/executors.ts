/**
 * Executors: what hosting sessions in executor processes costs and gives.
 * Phases, options and figures: docs/benchmarks-executors.md.
 *
 * The gateway runs in its own process (`--role gateway`), the load client
 * (clients/load) in another (`--role client`), so client and gateway never
 * share an event loop. `--dist` runs the compiled gateway (npm run build),
 * whose executors start with plain `node`.
 */
import { fork } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import type { LoadSummary } from '../clients/load/summary';
import type { ExecutorPool } from '../executors/pool';
import type { StartOptions } from '../gateway/server';
import { benchCommand, int, listOf, parseOptions } from './lib/args';
import { serveLoadClient } from './lib/clients';
import { fmt, fmtInt, fmtRatio, machineLine, RESULTS_DIR, sourceFingerprint, table } from './lib/report';
import { Child, type ChildEvent, runMain } from './lib/rpc';
import { productModule, type ServerUsage, serveGateway, spawnGateway } from './lib/servers';
import { median, percentile } from './lib/stats';

const PHASES = ['ipc', 'hop', 'throughput', 'cpu', 'latency', 'replace', 'hold'] as const;

interface Options {
  quick?: boolean;
  duration?: number;
  connections: number;
  hold?: number;
  rounds?: number;
  dist?: boolean;
  profile?: boolean;
  phases: string[];
}

const options = parseOptions<Options>(
  benchCommand('executors', 'in-process session engines vs executor processes (docs/benchmarks-executors.md)')
    .option('--quick', '1 round, 2 s windows, 2 000 held sessions')
    .option('--duration <s>', 'measured window per point, seconds (default 5, --quick 2)', int())
    .option('--connections <n>', 'connections of the throughput and cpu phases', int(), 100)
    .option('--hold <n>', 'idle sessions of the hold phase (default 10 000, --quick 2 000)', int())
    .option('--rounds <n>', 'rounds, interleaved (default 2, --quick 1)', int())
    .option('--dist', 'run the compiled gateway (npm run build)')
    .option('--profile', 'CPU profile of each gateway process into bench/results/ (slows it)')
    .option('--phases <list>', `among ${PHASES.join(',')}`, listOf(PHASES), [...PHASES]),
);

// the hop alone: Node IPC, engine-shaped messages

function ipcChild(): void {
  const stats = { ms: 0.123, cpuMs: 0.05, dbMs: 0, queries: 0, transactionMs: 0 };
  let big = '';
  process.on('message', (m) => {
    const message = m as [string, number, { ref: number; size?: number }];
    if (message[0] === 'big') {
      big ||= JSON.stringify(Array.from({ length: 30_000 }, (_, i) => ({ id: i, name: `row ${i}` })));
      process.send?.(['out', message[1], { type: 'result', ref: 0, value: big, text: '[Array]', stats }]);
      return;
    }
    process.send?.(['out', message[1], { type: 'result', ref: message[2].ref, value: '2', text: '2', stats }]);
  });
}

async function ipcBench(serialization: 'json' | 'advanced'): Promise<string[]> {
  const child = fork(__filename, ['--role', 'ipc-child'], {
    execArgv: ['-r', '@swc-node/register'],
    serialization,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let resolve: (value: unknown) => void = () => {};
  child.on('message', (m) => resolve(m));
  const send = (ref: number) => child.send(['in', 7, { type: 'eval', ref, code: '1 + 1' }]);
  /** `count` round trips one after another; their times in ms. */
  const roundTrips = async (count: number, message: (i: number) => void) => {
    const ms: number[] = [];
    for (let i = 0; i < count; i++) {
      const started = performance.now();
      const answered = new Promise((r) => (resolve = r));
      message(i);
      await answered;
      ms.push(performance.now() - started);
    }
    return ms;
  };
  await roundTrips(3000, send);
  const latencies = (await roundTrips(20_000, send)).map((ms) => ms * 1000);
  const total = 100_000;
  let sent = 0;
  let got = 0;
  const finished = new Promise<void>((done) => {
    child.removeAllListeners('message');
    child.on('message', () => {
      got++;
      if (sent < total) send(sent++);
      if (got === total) done();
    });
  });
  const started = performance.now();
  for (let i = 0; i < 100; i++) send(sent++);
  await finished;
  const perSecond = total / ((performance.now() - started) / 1000);
  child.removeAllListeners('message');
  child.on('message', (m) => resolve(m));
  const bigMs = await roundTrips(10, () => child.send(['big', 1, { ref: 0 }]));
  child.kill();
  const p = (q: number) => fmt(percentile(latencies, q), 1);
  return [serialization, p(50), p(99), fmtInt(perSecond), fmt(median(bigMs), 1)];
}

// the hop, without WebSockets

/**
 * Round trips at the engine interface (what the gateway's Session sees): the
 * in-process engine vs an engine in an executor, for a message the engine
 * answers at once (`interrupt` → `ok`: the hop alone) and for an eval.
 */
async function hopBench(dist: boolean): Promise<string[][]> {
  const load = (module: string) => productModule(module, dist);
  const { ExecutorPool: Pool } = load('executors/pool');
  const { LocalEngines } = load('executors/engines');
  const { EngineMetrics } = load('executors/metrics');
  const { resolveExecutorOptions } = load('executors/options');
  const { DEFAULT_SESSION_LIMITS } = load('sandbox/session-limits');
  const { Registry } = require('prom-client') as typeof import('prom-client');
  const database = { engine: { pool: undefined, hint: 'none', kysely: () => undefined }, pool: undefined };
  const pool = await Pool.start({
    options: resolveExecutorOptions({ count: 1 }),
    sessionLimits: DEFAULT_SESSION_LIMITS,
    shared: undefined,
    database,
    metrics: new EngineMetrics(new Registry(), 1),
    log: pino({ level: 'silent' }),
  });
  const local = new LocalEngines(DEFAULT_SESSION_LIMITS, database, new EngineMetrics(new Registry(), 1));
  const results = new Map<string, number[]>();
  const inputs = [
    ['interrupt → ok', (ref: number) => ({ type: 'interrupt', ref })],
    ['eval "1 + 1"', (ref: number) => ({ type: 'eval', ref, code: '1 + 1' })],
  ] as const;
  for (let round = 0; round < 3; round++) {
    for (const [name, provider] of [
      ['in-process', local],
      ['executor', pool],
    ] as const) {
      for (const [what, input] of inputs) {
        let resolve: () => void = () => {};
        const engine = provider.open({
          sessionId: `hop-${round}-${name}-${what}`,
          user: null,
          shared: undefined,
          emit: (m: { type: string }) => {
            if (m.type === 'result' || m.type === 'ok') resolve();
          },
          onLost: () => {},
        });
        const latencies: number[] = [];
        for (let i = 1; i <= 3000; i++) {
          const started = performance.now();
          const answered = new Promise<void>((r) => {
            resolve = r;
          });
          engine.send(input(i));
          await answered;
          if (i > 500) latencies.push((performance.now() - started) * 1000);
        }
        await engine.close('done');
        const key = `${what}|${name}`;
        results.set(key, [...(results.get(key) ?? []), percentile(latencies, 50)]);
      }
    }
  }
  await pool.close();
  return inputs.map(([what]) => {
    const inProcess = median(results.get(`${what}|in-process`) ?? []);
    const executor = median(results.get(`${what}|executor`) ?? []);
    return [what, fmt(inProcess, 1), fmt(executor, 1), fmt(executor - inProcess, 1)];
  });
}

// main

/** An eval whose own work (~0.2 ms of JavaScript) outweighs the gateway's per-frame work. */
const CPU_CODE = '(() => { let s = 0; for (let i = 0; i < 2e5; i++) s += i % 7; return s })()';

async function main(): Promise<void> {
  const quick = options.quick === true;
  const durationS = options.duration ?? (quick ? 2 : 5);
  const warmupS = quick ? 0.5 : 1.5;
  const hold = options.hold ?? (quick ? 2000 : 10_000);
  const rounds = options.rounds ?? (quick ? 1 : 2);
  const dist = options.dist === true;
  const phases = new Set(options.phases);
  const say = (text: string) => process.stdout.write(`${text}\n`);
  say(`# bench:executors ${dist ? '(compiled, dist/)' : '(TypeScript sources)'}`);
  say(machineLine(sourceFingerprint()));

  if (phases.has('hop')) {
    say('\n## The hop at the engine interface (no WebSockets; median of 3 rounds of 2 500)');
    say(table(['message', 'in-process p50 µs', 'executor p50 µs', 'added µs'], await hopBench(dist)));
  }

  if (phases.has('ipc')) {
    const rows = [];
    for (let r = 0; r < rounds; r++) for (const s of ['json', 'advanced'] as const) rows.push(await ipcBench(s));
    say('\n## The hop alone: Node IPC, engine-shaped messages');
    say(table(['serialization', 'rtt p50 µs', 'rtt p99 µs', 'msgs/s (100 in flight)', '1 MB result ms'], rows));
  }

  const gatewayOf = (executors: number) => {
    const start: StartOptions = {
      database: { mode: 'off' },
      limits: { heartbeatMs: 0, resumeGraceMs: 0, maxSessions: 50_000, maxSessionsPerAddress: 50_000 },
      executors: { count: executors, heapMb: 1024, maxRssMb: 8192 },
    };
    const profile = options.profile ? ['--cpu-prof', `--cpu-prof-dir=${RESULTS_DIR}`] : [];
    return spawnGateway(__filename, start, { dist, execArgv: ['--expose-gc', ...profile] });
  };
  // The server's CPU is read when the client's measured window opens and closes.
  let onWindow: (event: ChildEvent) => void = () => {};
  const client = Child.role(__filename, 'client', [], [], (event) => onWindow(event));
  await client.ready;
  const modes = [
    ['in-process', 0],
    ['1 executor', 1],
    ['2 executors', 2],
  ] as const;

  const measure = async (count: number, sessions: number, code: string) => {
    const { child: server, ready } = await gatewayOf(count);
    const readings: Array<Promise<ServerUsage>> = [];
    onWindow = () => readings.push(server.call<ServerUsage>('usage'));
    // Every connection opened and primed first, then the warm-up, then the window.
    const run = { url: ready.url, sessions, setup: '1 + 1', warmupAfterSetup: true, warmupS, durationS, code };
    const load = await client.call<LoadSummary>('run', run);
    const [before, after] = await Promise.all(readings);
    await server.stop();
    if (!before || !after || load.problem) throw new Error(`load run failed: ${load.problem ?? 'no window'}`);
    const evals = (load.evals.perSec ?? Number.NaN) * load.windowS;
    const executorsMs = (u: ServerUsage) => u.executors.reduce((n, e) => n + e.cpuMs, 0);
    return {
      perSecond: load.evals.perSec ?? Number.NaN,
      p50: load.latencyMs.p50 ?? Number.NaN,
      p99: load.latencyMs.p99 ?? Number.NaN,
      gatewayUs: ((after.cpuMs - before.cpuMs) * 1000) / evals,
      executorsUs: ((executorsMs(after) - executorsMs(before)) * 1000) / evals,
    };
  };

  for (const [phase, conns, code] of [
    ['throughput', options.connections, '1 + 1'],
    ['cpu', options.connections, CPU_CODE],
    ['latency', 1, '1 + 1'],
  ] as const) {
    if (!phases.has(phase)) continue;
    const results = new Map<string, Array<Awaited<ReturnType<typeof measure>>>>();
    for (let r = 0; r < rounds; r++) {
      for (const [name, count] of modes)
        results.set(name, [...(results.get(name) ?? []), await measure(count, conns, code)]);
    }
    const inProcess = results.get('in-process') ?? [];
    const base = median(inProcess.map((x) => x.perSecond));
    // Paired by round (the machine's load drifts between rounds): median of the per-round differences.
    const added = (list: ReadonlyArray<{ p50: number }>) =>
      median(list.map((x, round) => x.p50 - (inProcess[round]?.p50 ?? Number.NaN)));
    say(`\n## ${conns} connection${conns === 1 ? '' : 's'}, closed loop of \`${code}\` (median of ${rounds} round(s))`);
    const header = ['mode', 'evals/s', 'vs in-process', 'p50 ms', 'p99 ms', 'added p50 µs'];
    say(
      table(
        [...header, 'gateway CPU µs/eval', 'executors CPU µs/eval'],
        modes.map(([name]) => {
          const list = results.get(name) ?? [];
          const of = (key: 'perSecond' | 'p50' | 'p99' | 'gatewayUs' | 'executorsUs') =>
            median(list.map((x) => x[key]));
          return [
            name,
            fmtInt(of('perSecond')),
            fmtRatio(of('perSecond') / base),
            fmt(of('p50'), 3),
            fmt(of('p99'), 3),
            name === 'in-process' ? '—' : fmt(added(list) * 1000, 0),
            fmt(of('gatewayUs'), 1),
            fmt(of('executorsUs'), 1),
          ];
        }),
      ),
    );
  }

  if (phases.has('replace')) {
    const { child: server } = await gatewayOf(2);
    const times: number[] = [];
    for (let i = 0; i < (quick ? 3 : 6); i++) times.push(await server.call<number>('replace', { index: i % 2 }));
    await server.stop();
    say('\n## Replacing a killed executor (SIGKILL → the new process reports ready)');
    const row = [String(times.length), fmt(median(times), 0), fmt(Math.min(...times), 0), fmt(Math.max(...times), 0)];
    say(table(['runs', 'median ms', 'min ms', 'max ms'], [row]));
  }

  if (phases.has('hold')) {
    const rows: string[][] = [];
    for (const [label, count, withEval] of [
      [`${hold} idle sessions`, hold, false],
      ['2000 sessions, one eval each', 2000, true],
    ] as const) {
      const { child: server, ready } = await gatewayOf(2);
      await new Promise((r) => setTimeout(r, 500));
      const before = await server.call<ServerUsage>('usage', { gc: true });
      const evalCode = withEval ? { evalCode: '1 + 1' } : {};
      await client.call('hold', { url: ready.url, count, parallel: 200, timeoutMs: 120_000, ...evalCode }, 600_000);
      await new Promise((r) => setTimeout(r, 1000));
      const after = await server.call<ServerUsage>('usage', { gc: true });
      await client.call('release', {}, 120_000);
      await server.stop();
      const executorsRss = (u: ServerUsage) => u.executors.reduce((n, e) => n + e.rss, 0);
      const gatewayKb = (after.rss - before.rss) / 1024 / count;
      const executorsKb = (executorsRss(after) - executorsRss(before)) / 1024 / count;
      rows.push([
        label,
        fmtInt(after.sessions),
        fmt(after.rss / 2 ** 20, 0),
        after.executors.map((e) => fmt(e.rss / 2 ** 20, 0)).join(' + '),
        fmt(gatewayKb, 1),
        fmt(executorsKb, 1),
        fmt(gatewayKb + executorsKb, 1),
      ]);
    }
    say('\n## Sessions held across 2 executors (resident memory)');
    const perSession = ['gateway KiB/session', 'executors KiB/session', 'total KiB/session'];
    say(table(['held', 'sessions', 'gateway MiB', 'executors MiB', ...perSession], rows));
  }
  await client.stop();
}

if (options.role === 'gateway') {
  serveGateway((gateway, dist) => ({
    replace: async (args) => {
      const provider = productModule('executors/engines', dist).engineProviderOf(gateway.metrics.registry);
      const pool: ExecutorPool | undefined = provider?.mode === 'executors' ? provider : undefined;
      const index = Number(args.index ?? 0);
      const victim = pool?.executors[index];
      if (!pool || !victim) throw new Error('no such executor');
      const started = performance.now();
      victim.kill('benchmark');
      await pool.replaced(index, victim, 60_000);
      return performance.now() - started;
    },
  }));
} else if (options.role === 'client') serveLoadClient();
else if (options.role === 'ipc-child') ipcChild();
else runMain(main);
