/**
 * Executors (issue 5): what hosting sessions in executor processes costs and gives.
 *
 *   npm run bench:executors [-- --quick] [--duration 5] [--connections 100] [--hold 10000]
 *                              [--rounds 2] [--dist] [--profile]
 *                              [--phases ipc,hop,throughput,cpu,latency,replace,hold]
 *
 * Phases:
 * - ipc: the hop alone — Node's IPC channel with `serialization: 'json'` vs
 *   `'advanced'`, engine-shaped messages (an eval in, a result out): round
 *   trip p50/p99 with one message in flight, messages/s with 100 in flight,
 *   and a 1 MB result;
 * - throughput: C connections (default 100) in a closed loop of
 *   `{"op":"eval","code":"1 + 1"}` against the gateway in-process
 *   (`executors: 0`), with 1 executor and with 2; evals/s, latency, and the
 *   CPU time per eval of the gateway process and of its executors;
 * - cpu: the same with an eval whose own JavaScript (~0.2 ms) outweighs the
 *   gateway's per-frame work: where executors add cores rather than a hop;
 * - hop: round trips at the engine interface (what a Session sees), in-process
 *   vs in an executor, for `interrupt` (answered at once: the hop alone) and
 *   for an eval of `1 + 1`;
 * - latency: the same with 1 connection: the p50 difference between
 *   in-process and 1 executor is the latency the hop adds to an eval;
 * - replace: SIGKILL an executor, time until its replacement reports ready;
 * - hold: N idle sessions (default 10 000) across 2 executors, resident
 *   memory of the gateway and of the executors before and after, per session;
 *   then 2 000 sessions that each ran one eval (a realm each).
 *
 * The gateway runs in its own process (`--role server`), the load client in
 * another (`--role client`), so client and gateway never share an event loop.
 * `--profile` writes a CPU profile of each gateway process to bench/results/
 * (the profiler slows it: quote figures from runs without it).
 * `--dist` runs the compiled gateway (npm run build), whose executors start
 * with plain `node`; otherwise everything runs from TypeScript sources and
 * executors start through @swc-node/register (slower to start).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import WebSocket from 'ws';
import type { EngineProvider } from '../executors/engine-provider';
import type { ExecutorPool } from '../executors/pool';
import type { Gateway, StartOptions } from '../gateway/server';
import {
  fmt,
  fmtInt,
  fmtRatio,
  intArg,
  machineLine,
  median,
  parseArgs,
  percentile,
  sourceFingerprint,
  table,
} from './stats';

const args = parseArgs(process.argv.slice(2));
const role = args.get('role') ?? 'main';
const ROOT = path.resolve(__dirname, '..');

// ---- helpers ---------------------------------------------------------------------

/** utime + stime of a process, in ms (Linux /proc). */
function cpuMsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return Number.NaN;
  }
}

function rssOf(pid: number): number {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('VmRSS:'));
    return Number(line?.split(/\s+/)[1] ?? Number.NaN) * 1024;
  } catch {
    return Number.NaN;
  }
}

type Reply = Record<string, unknown>;

/** A child process running this script in another role, with request/response over IPC. */
class Peer {
  readonly child: ChildProcess;
  #seq = 0;
  readonly #waiting = new Map<number, (reply: Reply) => void>();
  readonly ready: Promise<Reply>;

  constructor(roleName: string, extra: string[] = []) {
    const profile = roleName === 'server' && args.get('profile') === 'true';
    this.child = fork(__filename, ['--role', roleName, ...extra], {
      execArgv: [
        '-r',
        '@swc-node/register',
        '--expose-gc',
        ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${path.join(ROOT, 'bench', 'results')}`] : []),
      ],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.ready = new Promise((resolve) => {
      this.child.once('message', (m) => resolve(m as Reply));
    });
    void this.ready.then(() => {
      this.child.on('message', (m) => {
        const reply = m as Reply & { seq: number };
        this.#waiting.get(reply.seq)?.(reply);
        this.#waiting.delete(reply.seq);
      });
    });
  }

  ask(command: Reply): Promise<Reply> {
    const seq = ++this.#seq;
    return new Promise((resolve) => {
      this.#waiting.set(seq, resolve);
      this.child.send({ ...command, seq });
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    await exited;
  }
}

function answer(handler: (command: Reply) => Promise<Reply>): void {
  process.on('message', (m) => {
    const command = m as Reply & { seq: number };
    void handler(command).then((reply) => process.send?.({ ...reply, seq: command.seq }));
  });
}

// ---- role: server ----------------------------------------------------------------------

async function server(): Promise<void> {
  const executors = Number(args.get('executors') ?? 0);
  const dist = args.get('dist') === 'true';
  const load = (module: string) =>
    dist ? require(path.join(ROOT, 'dist', `${module}.js`)) : require(path.join(ROOT, `${module}.ts`));
  const { startGateway } = load('gateway/server') as { startGateway: (o: StartOptions) => Promise<Gateway> };
  const { engineProviderOf } = load('executors/engines') as {
    engineProviderOf: (registry: object) => EngineProvider | undefined;
  };
  const gateway = await startGateway({
    port: 0,
    sharedFile: undefined,
    logger: pino({ level: 'silent' }),
    database: { mode: 'off' },
    limits: { heartbeatMs: 0, resumeGraceMs: 0, maxSessions: 50_000, maxSessionsPerAddress: 50_000 },
    executors: { count: executors, heapMb: Number(args.get('heap-mb') ?? 1024), maxRssMb: 8192 },
  });
  const provider = engineProviderOf(gateway.metrics.registry);
  const pool = provider?.mode === 'executors' ? (provider as ExecutorPool) : undefined;
  const pids = () => [process.pid, ...(pool?.executors.map((e) => e.pid ?? 0) ?? [])];
  process.on('SIGTERM', () => void gateway.close().then(() => process.exit(0)));
  answer(async (command) => {
    switch (command.op) {
      case 'usage': {
        if (command.gc === true) global.gc?.();
        const [self, ...children] = pids();
        return {
          gatewayCpuMs: cpuMsOf(self as number),
          executorsCpuMs: children.reduce((n, pid) => n + cpuMsOf(pid), 0),
          gatewayRss: rssOf(self as number),
          executorsRss: children.map(rssOf),
          sessions: gateway.sessions.size,
        };
      }
      case 'replace': {
        if (!pool) return { error: 'no executors' };
        const index = Number(command.index ?? 0);
        const victim = pool.executors[index];
        if (!victim) return { error: 'no such executor' };
        const started = performance.now();
        victim.kill('benchmark');
        await pool.replaced(index, victim, 60_000);
        return { ms: performance.now() - started };
      }
      default:
        return { error: `unknown op ${String(command.op)}` };
    }
  });
  process.send?.({ url: gateway.url, pid: process.pid });
}

// ---- role: client ----------------------------------------------------------------------

let evalCode = '1 + 1';
const EVAL = (id: number) => JSON.stringify({ op: 'eval', id, code: evalCode });

function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['vmgate.v1'], { perMessageDeflate: false });
    ws.once('message', () => resolve(ws)); // the hello
    ws.once('error', reject);
  });
}

/** One eval on `ws`, resolved with its round trip in ms. */
function roundTrip(ws: WebSocket, id: number): Promise<number> {
  return new Promise((resolve) => {
    const started = performance.now();
    const onMessage = (data: WebSocket.RawData) => {
      const text = data.toString();
      if (!text.includes(`"id":${id},`)) return;
      ws.off('message', onMessage);
      resolve(performance.now() - started);
    };
    ws.on('message', onMessage);
    ws.send(EVAL(id));
  });
}

interface Running {
  measuring: boolean;
  stop: boolean;
  done: number;
  latencies: number[];
  loops: Promise<void>[];
  clients: WebSocket[];
}

async function client(): Promise<void> {
  const sockets: WebSocket[] = [];
  let running: Running | undefined;
  let nextId = 0;
  answer(async (command) => {
    switch (command.op) {
      case 'start': {
        // Open, prime, start the closed loops and warm up; the loops keep running after the reply.
        const url = String(command.url);
        const connections = Number(command.connections);
        evalCode = String(command.code ?? '1 + 1');
        const clients = await Promise.all(Array.from({ length: connections }, () => open(url)));
        await Promise.all(clients.map((ws) => roundTrip(ws, ++nextId)));
        const state = {
          measuring: false,
          stop: false,
          done: 0,
          latencies: [] as number[],
          loops: [] as Promise<void>[],
          clients,
        };
        const loop = async (ws: WebSocket) => {
          while (!state.stop) {
            const ms = await roundTrip(ws, ++nextId);
            if (state.measuring) {
              state.done++;
              if (state.latencies.length < 200_000) state.latencies.push(ms);
            }
          }
        };
        state.loops = clients.map(loop);
        running = state;
        await new Promise((r) => setTimeout(r, Number(command.warmupMs)));
        return { started: true };
      }
      case 'measure': {
        const state = running;
        if (!state) return { error: 'not started' };
        state.measuring = true;
        const started = performance.now();
        await new Promise((r) => setTimeout(r, Number(command.durationMs)));
        state.measuring = false;
        const wallMs = performance.now() - started;
        return {
          evalsPerSecond: (state.done / wallMs) * 1000,
          p50: percentile(state.latencies, 50),
          p99: percentile(state.latencies, 99),
          evals: state.done,
          wallMs,
        };
      }
      case 'stop': {
        const state = running;
        running = undefined;
        if (state) {
          state.stop = true;
          await Promise.all(state.loops);
          for (const ws of state.clients) ws.terminate();
        }
        return { stopped: true };
      }
      case 'hold': {
        const url = String(command.url);
        const count = Number(command.count);
        const withEval = command.withEval === true;
        for (let i = 0; i < count; i += 200) {
          const batch = await Promise.all(Array.from({ length: Math.min(200, count - i) }, () => open(url)));
          if (withEval) await Promise.all(batch.map((ws, k) => roundTrip(ws, k + 1)));
          sockets.push(...batch);
        }
        return { held: sockets.length };
      }
      case 'release': {
        for (const ws of sockets.splice(0)) ws.terminate();
        return { released: true };
      }
      default:
        return { error: `unknown op ${String(command.op)}` };
    }
  });
  process.send?.({ ready: true });
}

// ---- role: ipc child -------------------------------------------------------------------

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
  const rt = () => new Promise((r) => (resolve = r));
  const send = (ref: number) => child.send(['in', 7, { type: 'eval', ref, code: '1 + 1' }]);
  for (let i = 0; i < 3000; i++) {
    const p = rt();
    send(i);
    await p;
  }
  const latencies: number[] = [];
  for (let i = 0; i < 20_000; i++) {
    const started = performance.now();
    const p = rt();
    send(i);
    await p;
    latencies.push((performance.now() - started) * 1000);
  }
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
  const bigMs: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t = performance.now();
    const p = rt();
    child.send(['big', 1, { ref: 0 }]);
    await p;
    bigMs.push(performance.now() - t);
  }
  child.kill();
  return [
    serialization,
    fmt(percentile(latencies, 50), 1),
    fmt(percentile(latencies, 99), 1),
    fmtInt(perSecond),
    fmt(median(bigMs), 1),
  ];
}

// ---- the hop, without WebSockets -------------------------------------------------------------

/**
 * Round trips at the engine interface (what the gateway's Session sees): the
 * in-process engine vs an engine in an executor, for a message the engine
 * answers at once (`interrupt` → `ok`: the hop alone) and for an eval.
 */
async function hopBench(dist: boolean): Promise<string[][]> {
  const load = (module: string) =>
    dist ? require(path.join(ROOT, 'dist', `${module}.js`)) : require(path.join(ROOT, `${module}.ts`));
  const { ExecutorPool: Pool } = load('executors/pool');
  const { LocalEngines } = load('executors/engines');
  const { EngineMetrics } = load('executors/metrics');
  const { resolveExecutorOptions } = load('executors/options');
  const { DEFAULT_SESSION_LIMITS } = load('sandbox/session-engine');
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

// ---- main ------------------------------------------------------------------------------

/** An eval whose own work (~0.2 ms of JavaScript) outweighs the gateway's per-frame work. */
const CPU_CODE = '(() => { let s = 0; for (let i = 0; i < 2e5; i++) s += i % 7; return s })()';

async function main(): Promise<void> {
  const quick = args.get('quick') === 'true';
  const durationMs = intArg(args, 'duration', quick ? 2 : 5) * 1000;
  const warmupMs = quick ? 500 : 1500;
  const connections = intArg(args, 'connections', 100);
  const hold = intArg(args, 'hold', quick ? 2000 : 10_000);
  const rounds = intArg(args, 'rounds', quick ? 1 : 2);
  const dist = args.get('dist') === 'true';
  const phases = new Set((args.get('phases') ?? 'ipc,hop,throughput,cpu,latency,replace,hold').split(','));
  const fingerprint = sourceFingerprint();
  const out: string[] = [];
  const say = (text: string) => {
    out.push(text);
    process.stdout.write(`${text}\n`);
  };
  say(`# bench:executors ${dist ? '(compiled, dist/)' : '(TypeScript sources)'}`);
  say(machineLine(fingerprint));

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

  const client = new Peer('client');
  await client.ready;
  const modes = [
    ['in-process', 0],
    ['1 executor', 1],
    ['2 executors', 2],
  ] as const;

  const runLoad = async (count: number, conns: number, code: string) => {
    const serverPeer = new Peer('server', ['--executors', String(count), ...(dist ? ['--dist'] : [])]);
    const { url } = (await serverPeer.ready) as { url: string };
    await client.ask({ op: 'start', url, connections: conns, warmupMs, code });
    // CPU is read around the measured window only (the client's loops keep running across it).
    const before = await serverPeer.ask({ op: 'usage' });
    const load = await client.ask({ op: 'measure', durationMs });
    const after = await serverPeer.ask({ op: 'usage' });
    await client.ask({ op: 'stop' });
    await serverPeer.stop();
    const evals = Number(load.evals);
    return {
      perSecond: Number(load.evalsPerSecond),
      p50: Number(load.p50),
      p99: Number(load.p99),
      gatewayUs: ((Number(after.gatewayCpuMs) - Number(before.gatewayCpuMs)) * 1000) / evals,
      executorsUs: ((Number(after.executorsCpuMs) - Number(before.executorsCpuMs)) * 1000) / evals,
    };
  };

  for (const [phase, conns, code] of [
    ['throughput', connections, '1 + 1'],
    ['cpu', connections, CPU_CODE],
    ['latency', 1, '1 + 1'],
  ] as const) {
    if (!phases.has(phase)) continue;
    const results = new Map<string, Array<Awaited<ReturnType<typeof runLoad>>>>();
    for (let r = 0; r < rounds; r++) {
      for (const [name, count] of modes) {
        const list = results.get(name) ?? [];
        list.push(await runLoad(count, conns, code));
        results.set(name, list);
      }
    }
    const base = median((results.get('in-process') ?? []).map((x) => x.perSecond));
    const inProcess = results.get('in-process') ?? [];
    // Paired by round (the machine's load drifts between rounds): median of the per-round differences.
    const added = (list: ReadonlyArray<{ p50: number }>) =>
      median(list.map((x, round) => x.p50 - (inProcess[round]?.p50 ?? Number.NaN)));
    say(`\n## ${conns} connection${conns === 1 ? '' : 's'}, closed loop of \`${code}\` (median of ${rounds} round(s))`);
    say(
      table(
        [
          'mode',
          'evals/s',
          'vs in-process',
          'p50 ms',
          'p99 ms',
          'added p50 µs',
          'gateway CPU µs/eval',
          'executors CPU µs/eval',
        ],
        modes.map(([name]) => {
          const list = results.get(name) ?? [];
          const p50 = median(list.map((x) => x.p50));
          return [
            name,
            fmtInt(median(list.map((x) => x.perSecond))),
            fmtRatio(median(list.map((x) => x.perSecond)) / base),
            fmt(p50, 3),
            fmt(median(list.map((x) => x.p99)), 3),
            name === 'in-process' ? '—' : fmt(added(list) * 1000, 0),
            fmt(median(list.map((x) => x.gatewayUs)), 1),
            fmt(median(list.map((x) => x.executorsUs)), 1),
          ];
        }),
      ),
    );
  }

  if (phases.has('replace')) {
    const serverPeer = new Peer('server', ['--executors', '2', ...(dist ? ['--dist'] : [])]);
    await serverPeer.ready;
    const times: number[] = [];
    for (let i = 0; i < (quick ? 3 : 6); i++) {
      const reply = await serverPeer.ask({ op: 'replace', index: i % 2 });
      times.push(Number(reply.ms));
    }
    await serverPeer.stop();
    say('\n## Replacing a killed executor (SIGKILL → the new process reports ready)');
    say(
      table(
        ['runs', 'median ms', 'min ms', 'max ms'],
        [[String(times.length), fmt(median(times), 0), fmt(Math.min(...times), 0), fmt(Math.max(...times), 0)]],
      ),
    );
  }

  if (phases.has('hold')) {
    const rows: string[][] = [];
    for (const [label, count, withEval] of [
      [`${hold} idle sessions`, hold, false],
      ['2000 sessions, one eval each', 2000, true],
    ] as const) {
      const serverPeer = new Peer('server', ['--executors', '2', ...(dist ? ['--dist'] : [])]);
      const { url } = (await serverPeer.ready) as { url: string };
      await new Promise((r) => setTimeout(r, 500));
      const before = await serverPeer.ask({ op: 'usage', gc: true });
      await client.ask({ op: 'hold', url, count, withEval });
      await new Promise((r) => setTimeout(r, 1000));
      const after = await serverPeer.ask({ op: 'usage', gc: true });
      await client.ask({ op: 'release' });
      await serverPeer.stop();
      const sum = (v: unknown) => (v as number[]).reduce((n, x) => n + x, 0);
      const gatewayKb = (Number(after.gatewayRss) - Number(before.gatewayRss)) / 1024 / count;
      const executorsKb = (sum(after.executorsRss) - sum(before.executorsRss)) / 1024 / count;
      rows.push([
        label,
        fmtInt(Number(after.sessions)),
        fmt(Number(after.gatewayRss) / 2 ** 20, 0),
        (after.executorsRss as number[]).map((b) => fmt(b / 2 ** 20, 0)).join(' + '),
        fmt(gatewayKb, 1),
        fmt(executorsKb, 1),
        fmt(gatewayKb + executorsKb, 1),
      ]);
    }
    say('\n## Sessions held across 2 executors (resident memory)');
    say(
      table(
        [
          'held',
          'sessions',
          'gateway MiB',
          'executors MiB',
          'gateway KiB/session',
          'executors KiB/session',
          'total KiB/session',
        ],
        rows,
      ),
    );
  }
  await client.stop();
}

if (role === 'server') void server();
else if (role === 'client') void client();
else if (role === 'ipc-child') ipcChild();
else
  void main().catch((error) => {
    process.stderr.write(`${(error as Error).stack}\n`);
    process.exit(1);
  });
