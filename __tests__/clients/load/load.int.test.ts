import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import {
  formatSummary,
  LatencyHistogram,
  type LoadProgress,
  type LoadSummary,
  normalizeUrl,
  parsePlainScript,
  parseThreshold,
  redactUrl,
  runLoad,
} from '../../../clients/load';
import { loadTest } from '../../../examples/load-test';
import { type Gateway, startGateway } from '../../../gateway/server';
import { type CliRun, killCliProcesses, runVmgate } from '../../helpers/cli';
import { startTestGateway, waitFor } from '../../helpers/gateway';

/**
 * The load tool: `vmgate bench` run as a real command against real gateways
 * (the runs start together in beforeAll, since each command pays Node's and
 * the TypeScript loader's start-up), then the library from this process.
 */

const CLI_TIMEOUT_MS = 45_000;

/** Processes of this suite's own (the timing proxy). */
const children = new Set<ChildProcess>();

function bench(args: readonly string[], env: Record<string, string> = {}): Promise<CliRun> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  if (!('VMGATE_TOKEN' in env)) delete childEnv.VMGATE_TOKEN;
  return runVmgate(['bench', ...args], { env: childEnv, timeoutMs: CLI_TIMEOUT_MS });
}

/** The whole of stdout must be the JSON summary. */
function summaryOf(run: CliRun): LoadSummary {
  try {
    return JSON.parse(run.stdout) as LoadSummary;
  } catch {
    throw new Error(`stdout is not one JSON document (exit ${run.code}):\n${run.stdout}\nstderr:\n${run.stderr}`);
  }
}

function expectPlausibleLatency(summary: LoadSummary): void {
  const { p50, p90, p99, max, min } = summary.latencyMs;
  expect(summary.latencyMs.count).toBeGreaterThan(0);
  for (const value of [p50, p90, p99, max, min]) expect(value).toEqual(expect.any(Number));
  expect(min!).toBeGreaterThan(0);
  expect(p50!).toBeLessThanOrEqual(p90!);
  expect(p90!).toBeLessThanOrEqual(p99!);
  expect(p99!).toBeLessThanOrEqual(max!);
}

/**
 * A TCP pass-through to the gateway that notes when each connection arrives.
 * It runs in a process of its own: this one hosts the gateways, whose event
 * loop is busy while the runs hammer them, which would blur the timestamps.
 */
const PROXY_SOURCE = `
const net = require('node:net');
const target = Number(process.argv[1]);
const server = net.createServer((socket) => {
  process.stdout.write('arrival ' + performance.now() + '\\n');
  const upstream = net.connect(target, '127.0.0.1');
  for (const s of [socket, upstream]) {
    s.on('error', () => {});
    s.on('close', () => { socket.destroy(); upstream.destroy(); });
  }
  socket.pipe(upstream).pipe(socket);
});
server.listen(0, '127.0.0.1', () => process.stdout.write('port ' + server.address().port + '\\n'));
setTimeout(() => process.exit(0), 60000).unref();
`;

function timingProxy(target: number): Promise<{ port: number; arrivals: number[]; close: () => void }> {
  const child = spawn(process.execPath, ['-e', PROXY_SOURCE, String(target)], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  const arrivals: number[] = [];
  return new Promise((resolve, reject) => {
    let buffered = '';
    child.once('exit', (code) => reject(new Error(`the proxy exited (${code})`)));
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      for (let newline = buffered.indexOf('\n'); newline >= 0; newline = buffered.indexOf('\n')) {
        const [kind, value] = buffered.slice(0, newline).split(' ');
        buffered = buffered.slice(newline + 1);
        if (kind === 'arrival') arrivals.push(Number(value));
        if (kind === 'port') resolve({ port: Number(value), arrivals, close: () => child.kill() });
      }
    });
  });
}

/** A port nothing listens on (bound, then released). */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

describe('vmgate bench (the command)', () => {
  let open: Gateway;
  let guarded: Gateway;
  let proxy: Awaited<ReturnType<typeof timingProxy>>;
  let dir: string;
  const runs: Record<string, CliRun> = {};

  beforeAll(async () => {
    const quiet = { port: 0, sharedFile: undefined, logger: pino({ level: 'silent' }) };
    open = await startGateway({ ...quiet, limits: { heartbeatMs: 0 } });
    guarded = await startGateway({ ...quiet, limits: { heartbeatMs: 0 }, auth: { tokens: ['bench-secret'] } });
    proxy = await timingProxy(open.port);
    dir = mkdtempSync(path.join(os.tmpdir(), 'vmgate-bench-'));
    const plain = path.join(dir, 'plain.js');
    writeFileSync(
      plain,
      [
        '// --- setup ---',
        'let counter = 0;',
        'const label = "n";',
        '// --- eval ---',
        'counter += 1',
        '// --- eval ---',
        'label + counter',
      ].join('\n'),
    );
    const unused = await closedPort();
    const sometimesThrows = 'globalThis.n = (globalThis.n ?? 0) + 1; if (n % 3 === 0) throw new Error("boom " + n); n';
    const gate = ['--sessions', '2', '--duration', '1', '--code', '1 + 1'];
    const [basic, file, module, unreachable, held, crossed, allFail] = await Promise.all([
      bench([open.url, '--sessions', '3', '--warmup', '1', '--duration', '1.5', '--json', '--code', sometimesThrows]),
      // through the proxy that times the session opens: 3 sessions at 2 per second
      bench([
        `ws://127.0.0.1:${proxy.port}`,
        ...['--sessions', '3', '--rate', '2', '--warmup', '1', '--duration', '2', '--timeout-ms', '2000'],
        ...['--file', plain, '--json', '-q'],
      ]),
      // the example module, the summary for people, the token from the environment
      bench(
        [guarded.url, '--sessions', '2', '--warmup', '1', '--duration', '1.5', '--file', 'examples/load-script.mjs'],
        {
          VMGATE_TOKEN: 'bench-secret',
        },
      ),
      bench([`ws://127.0.0.1:${unused}`, '--sessions', '2', '--duration', '10', '--json']),
      // thresholds for CI: generous ones hold, impossible ones are crossed
      bench([open.url, ...gate, '-q', '--json', '-t', 'p95<60000', '-t', 'errors==0', '-t', 'throughput>0']),
      bench([open.url, ...gate, '-q', '-t', 'p(99)<0.000001', '-t', 'errors<1%', '-t', 'open_p95<60000']),
      bench([open.url, '--sessions', '2', '--duration', '1', '-q', '--json', '--code', 'throw new Error("always")']),
    ]);
    Object.assign(runs, { basic, file, module, unreachable, held, crossed, allFail });
  }, 120_000);

  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    killCliProcesses();
    proxy?.close();
    await Promise.all([open?.close(), guarded?.close()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('--json: throughput, latency, errors by code, session-open latency; exit 0', async () => {
    const run = runs.basic!;
    expect(run.code).toBe(0);
    const summary = summaryOf(run);
    expect(summary).toMatchObject({
      url: `${open.url}/`,
      config: { sessions: 3, rate: null, durationS: 1.5, warmupS: 1 },
      stopReason: 'duration',
      problem: null,
    });
    expect(summary.windowS).toBeGreaterThan(1.4);
    expect(summary.windowS).toBeLessThan(2);
    expect(summary.evals.total).toBeGreaterThan(0);
    expect(summary.evals.ok).toBeGreaterThan(0);
    expect(summary.evals.perSec).toBeGreaterThan(0);
    expectPlausibleLatency(summary);
    expect(summary.serverMs.count).toBe(summary.latencyMs.count);
    // every third eval of a session throws: errors are counted by code, with a sample
    expect(summary.errors).toEqual({ UNCAUGHT: summary.evals.errors });
    expect(summary.evals.errors).toBeGreaterThan(0);
    expect(summary.evals.ok + summary.evals.errors).toBe(summary.evals.total);
    expect(Math.abs(summary.evals.errors - summary.evals.total / 3)).toBeLessThanOrEqual(3);
    expect(summary.errorSamples.UNCAUGHT).toMatch(/^Uncaught Error: boom \d+/);
    expect(summary.sessions).toMatchObject({ target: 3, attempts: 3, opened: 3, dropped: 0, peakOpen: 3 });
    expect(summary.sessionOpenMs.count).toBe(3);
    expect(summary.sessionOpenMs.p50).toBeGreaterThan(0);
    expect(summary.sessionOpenMs.p99).toBeGreaterThanOrEqual(summary.sessionOpenMs.p50!);
    expect(summary.client.cpuPct).toBeGreaterThanOrEqual(0);
    // the tool ends its sessions (close 1000) on the way out
    expect(await waitFor(() => open.sessions.size === 0, 3_000)).toBe(true);
  });

  test('--file (plain format): the setup runs once per session, the eval sections in turn; --warmup; --rate', () => {
    const run = runs.file!;
    expect(run.code).toBe(0);
    expect(run.stderr).toBe(''); // -q
    const summary = summaryOf(run);
    expect(summary.config).toMatchObject({ rate: 2, setup: true, check: false, warmupS: 1, timeoutMs: 2000 });
    // without the setup's bindings every eval would be a ReferenceError (UNCAUGHT)
    expect(summary.errors).toEqual({});
    expect(summary.evals.ok).toBeGreaterThan(0);
    expect(summary.sessions).toMatchObject({ opened: 3, attempts: 3, setupFailed: 0 });
    expectPlausibleLatency(summary);
    // the window starts after the 1 s warm-up and lasts 2 s
    expect(summary.windowS).toBeGreaterThan(1.9);
    expect(summary.windowS).toBeLessThan(2.4);
    expect(summary.elapsedS).toBeGreaterThan(2.9);
    expect(summary.warmup).toEqual({ evals: expect.any(Number), errors: 0 });

    // --rate 2: the opens spread over ~1000 ms (all within a few ms without it).
    // The schedule is absolute (k × 500 ms after the start), so a late first
    // connect (a cold process on a busy machine: we saw 350 ms) shortens the
    // span; it never lengthens it much.
    const arrivals = proxy.arrivals;
    expect(arrivals).toHaveLength(3);
    const span = arrivals.at(-1)! - arrivals[0]!;
    expect(span).toBeGreaterThanOrEqual(500);
    expect(span).toBeLessThan(1_000 + 2_000);
  });

  test('--file (module format, the example): setup, evals in turn, a check; the summary for people; a token', () => {
    const run = runs.module!;
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /^vmgate bench ws:\/\/127\.0\.0\.1:\d+\/: 2 sessions, 1.5 s \(\+1 s warm-up\); stopped: duration\n/,
    );
    for (const label of [
      'throughput',
      'evals',
      'latency',
      'errors',
      'sessions',
      'session open',
      'warm-up',
      'client CPU',
    ]) {
      expect(run.stdout).toMatch(new RegExp(`^${label} +\\S`, 'm'));
    }
    expect(run.stdout).toMatch(/^throughput +[\d.]+ evals\/s/m);
    expect(run.stdout).toMatch(/^evals +[1-9][\d ]* · [1-9][\d ]* ok · 0 errors$/m); // the example's checks all pass
    expect(run.stdout).toMatch(/^errors +none$/m);
    expect(run.stdout).toMatch(/^sessions +2 opened of 2 attempts/m);
    expect(run.stdout).toMatch(/^latency +p50 [\d.]+ · p90 [\d.]+ · p95 [\d.]+ · p99 [\d.]+ · max [\d.]+ ms$/m);
    expect(run.stdout).not.toMatch(/bench-secret|problem/);
  });

  test('exit 1 when the gateway cannot be reached, quickly, with the reason', () => {
    const run = runs.unreachable!;
    expect(run.code).toBe(1);
    const summary = summaryOf(run);
    expect(summary).toMatchObject({ stopReason: 'unreachable', sessions: { opened: 0 } });
    expect(summary.sessions.openFailures).toEqual({ ECONNREFUSED: 2 });
    expect(summary.problem).toMatch(/could not open any session: ECONNREFUSED/);
    expect(summary.elapsedS).toBeLessThan(5); // not the 10 s asked for
    expect(summary.evals.perSec).toBeNull();
    expect(summary.latencyMs).toMatchObject({ count: 0, p50: null });
    expect(run.stderr).toMatch(/vmgate: could not open any session/);
    // Nothing connected: no claim that the load tool was the bottleneck.
    expect(formatSummary(summary)).not.toMatch(/busy/);
  });

  test('--threshold: every one held → exit 0, verdicts in the JSON', () => {
    const run = runs.held!;
    expect(run.code).toBe(0);
    const summary = summaryOf(run);
    expect(summary.passed).toBe(true);
    expect(summary.thresholds).toEqual([
      { expression: 'p95<60000', actual: expect.any(Number), ok: true },
      { expression: 'errors==0', actual: 0, ok: true },
      { expression: 'throughput>0', actual: expect.any(Number), ok: true },
    ]);
    expect(summary.latencyMs.p95).toEqual(expect.any(Number));
  });

  test('--threshold: one crossed → exit 99, named in the summary', () => {
    const run = runs.crossed!;
    expect(run.code).toBe(99);
    expect(run.stdout).toMatch(/^thresholds +1 of 3 crossed$/m);
    expect(run.stdout).toMatch(/^ {2}FAIL p\(99\)<0\.000001 +actual [\d.]+$/m);
    expect(run.stdout).toMatch(/^ {2}ok {3}errors<1% +actual 0\.000$/m);
    expect(run.stdout).toMatch(/^ {2}ok {3}open_p95<60000 /m);
  });

  test('every measured eval failing is a failed run (exit 1), not a result', () => {
    const run = runs.allFail!;
    expect(run.code).toBe(1);
    const summary = summaryOf(run);
    expect(summary.problem).toMatch(/^every measured eval failed: UNCAUGHT ×\d+/);
    expect(summary.passed).toBe(false);
  });
});

describe('thresholds (parsing)', () => {
  test('k6-style and short forms parse; mistakes are named', () => {
    expect(parseThreshold('p(95) < 200')).toMatchObject({ metric: 'p(95)', operator: '<', limit: 200 });
    expect(parseThreshold('errors<1%')).toMatchObject({ metric: 'errors', percent: true, limit: 1 });
    expect(parseThreshold('avg<=10')).toMatchObject({ metric: 'avg', operator: '<=' });
    expect(() => parseThreshold('p95 < fast')).toThrow(/expected <metric><op><number>/);
    expect(() => parseThreshold('latency<5')).toThrow(/unknown metric "latency"/);
    expect(() => parseThreshold('p95<5%')).toThrow(/only errors takes a percentage/);
    expect(() => parseThreshold('p(150)<5')).toThrow(/percentile must be in/);
  });
});

describe('the library (clients/load)', () => {
  test('runLoad: per-session setup and code functions, a check on decoded values, a cap, progress', async () => {
    const gateway = await startTestGateway();
    const progress: LoadProgress[] = [];
    const sessionIds = new Set<string>();
    const summary = await runLoad(
      {
        url: gateway.url,
        sessions: 3,
        durationS: 20,
        maxEvals: 45,
        progressIntervalMs: 50,
        setup: ({ session }) => [`const me = ${session}`, 'let n = 0n'],
        code: ({ iteration }) => (iteration % 5 === 4 ? 'n += 1n; "a string"' : 'n += 1n; [me, n]'),
        check: (result, { session, sessionId, iteration }) => {
          sessionIds.add(sessionId);
          if (typeof result.value === 'string') return `iteration ${iteration}: got ${result.text}`;
          const [me, n] = result.value as [number, bigint];
          if (me !== session) throw new Error(`session ${session} saw ${me}`);
          return n === BigInt(iteration + 1);
        },
      },
      { onProgress: (p) => progress.push(p) },
    );
    expect(summary.stopReason).toBe('max-evals');
    expect(summary.problem).toBeNull();
    expect(summary.evals.total).toBe(45);
    expect(summary.errors).toEqual({ CHECK_FAILED: summary.evals.errors });
    expect(summary.evals.errors).toBeGreaterThanOrEqual(6); // ⌊15 / 5⌋ or so per session
    expect(summary.evals.ok + summary.evals.errors).toBe(45);
    expect(summary.errorSamples.CHECK_FAILED).toMatch(/^iteration 4: got 'a string'$/);
    expect(summary.evals.perSec).toBeGreaterThan(0);
    expect(sessionIds.size).toBe(3);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)).toMatchObject({ sessionsTarget: 3, evals: 45 });
    expect(await waitFor(() => gateway.sessions.size === 0, 3_000)).toBe(true);
  });

  test('sessions the gateway drops are counted by close code, and replaced while it runs', async () => {
    const gateway = await startTestGateway();
    const started = Date.now();
    const run = runLoad({
      url: gateway.url,
      sessions: 2,
      durationS: 2,
      code: 'await new Promise((r) => setTimeout(r, 5)); 1',
    });
    await waitFor(() => gateway.sessions.size === 2, 3_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await gateway.close(); // close 1001 to every session, then nothing listens
    const summary = await run;
    expect(Date.now() - started).toBeLessThan(8_000);
    expect(summary.sessions.dropped).toBe(2);
    expect(summary.sessions.closeCodes).toEqual({ 1001: 2 });
    expect(summary.sessions.openFailures.ECONNREFUSED).toBeGreaterThan(0); // the replacements found no gateway
    expect(summary.problem).toBeNull(); // it did run
    expect(summary.evals.ok).toBeGreaterThan(0);
  });

  test('a gateway that refuses every session (401) is a problem; with the token it runs', async () => {
    const gateway = await startTestGateway({ auth: { tokens: ['lib-secret'] } });
    const refused = await runLoad({ url: gateway.url, sessions: 2, durationS: 10, code: '1' });
    expect(refused).toMatchObject({
      stopReason: 'unreachable',
      sessions: { opened: 0, openFailures: { 'HTTP 401': 2 } },
    });
    expect(refused.problem).toMatch(/^could not open any session: HTTP 401 ×2/);
    expect(refused.elapsedS).toBeLessThan(5);

    const admitted = await runLoad({ url: gateway.url, token: 'lib-secret', sessions: 2, durationS: 0.5, code: '1' });
    expect(admitted).toMatchObject({ stopReason: 'duration', problem: null, sessions: { opened: 2 } });
    expect(admitted.evals.ok).toBeGreaterThan(0);
  });

  test('an AbortSignal ends the run early; a throwing code function ends it with a problem', async () => {
    const gateway = await startTestGateway();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const started = Date.now();
    const aborted = await runLoad({
      url: gateway.url,
      sessions: 2,
      durationS: 30,
      code: '1',
      signal: controller.signal,
    });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(aborted).toMatchObject({ stopReason: 'aborted', problem: null });
    expect(aborted.evals.ok).toBeGreaterThan(0);

    const broken = await runLoad({
      url: gateway.url,
      sessions: 2,
      durationS: 30,
      code: ({ iteration }) => {
        if (iteration === 3) throw new Error('no more ideas');
        return '1';
      },
    });
    expect(broken.stopReason).toBe('script-error');
    expect(broken.problem).toBe('code() threw: no more ideas');

    const badSetup = await runLoad({ url: gateway.url, sessions: 2, durationS: 30, setup: 'nope(', code: '1' });
    expect(badSetup.sessions).toMatchObject({ setupFailed: 2, setupErrors: { SYNTAX_ERROR: 2 } });
    expect(badSetup.problem).toMatch(/the setup failed in every session: SYNTAX_ERROR ×2/);
  });

  test('the example load test passes against a gateway', async () => {
    const gateway = await startTestGateway();
    const { summary, failures } = await loadTest(gateway.url, 1);
    expect(summary.errors).toEqual({});
    expect(summary.sessions.opened).toBe(20);
    expect(summary.evals.ok).toBeGreaterThan(0);
    expect(failures.filter((f) => !/p99 latency/.test(f))).toEqual([]); // latency depends on the machine
  });

  test('warmupAfterSetup: the window opens after every session is set up; onWindow marks both edges', async () => {
    const gateway = await startTestGateway();
    const edges: Array<{ edge: string; open: number }> = [];
    const summary = await runLoad(
      {
        url: gateway.url,
        sessions: 4,
        setup: 'await new Promise((r) => setTimeout(r, 300)); 1',
        code: '1 + 1',
        warmupS: 0.2,
        warmupAfterSetup: true,
        durationS: 0.5,
      },
      { onWindow: (edge) => edges.push({ edge, open: gateway.sessions.size }) },
    );
    expect(summary.problem).toBeNull();
    expect(summary.stopReason).toBe('duration');
    expect(edges.map((e) => e.edge)).toEqual(['start', 'end']);
    expect(edges[0]?.open).toBe(4);
    // The clock started after the setups (≥ 300 ms), so the run outlasts warm-up + window by them.
    expect(summary.elapsedS).toBeGreaterThanOrEqual(0.95);
    expect(summary.windowS).toBeGreaterThanOrEqual(0.45); // a late timer on a busy machine only lengthens it
    expect(summary.evals.ok).toBeGreaterThan(0);
    expect(await waitFor(() => gateway.sessions.size === 0, 3_000)).toBe(true);
  });

  test('plain script files, the histogram, URLs', () => {
    expect(parsePlainScript('1 + 1')).toEqual({ code: '1 + 1' });
    expect(parsePlainScript('let a = 1\n// --- eval ---\na++\n//---eval---\na')).toEqual({
      setup: 'let a = 1',
      code: ['a++', 'a'],
    });
    expect(parsePlainScript('// --- eval ---\nx')).toEqual({ code: ['x'] });
    expect(() => parsePlainScript('let a\n// --- eval ---\n\n')).toThrow(/section is empty/);
    expect(() => parsePlainScript('  \n')).toThrow(/empty/);

    const histogram = new LatencyHistogram();
    const values = Array.from({ length: 10_000 }, (_, i) => 0.05 + (i % 1000) * 0.37);
    for (const v of values) histogram.record(v);
    const sorted = [...values].sort((a, b) => a - b);
    for (const p of [50, 90, 99]) {
      const exact = sorted[Math.ceil((p / 100) * sorted.length) - 1]!;
      expect(Math.abs(histogram.percentile(p)! - exact) / exact).toBeLessThanOrEqual(0.01);
    }
    expect(histogram.percentile(100)).toBe(sorted.at(-1));
    expect(new LatencyHistogram().summary()).toMatchObject({ count: 0, p50: null, max: null });

    expect(normalizeUrl('127.0.0.1:8080')).toBe('ws://127.0.0.1:8080/');
    expect(normalizeUrl('https://gw.example/x')).toBe('wss://gw.example/x');
    expect(() => normalizeUrl('ftp://x')).toThrow(/not a WebSocket URL/);
    expect(redactUrl('ws://127.0.0.1:8080/?token=abc&x=1')).toBe('ws://127.0.0.1:8080/?token=***&x=1');
  });
});
