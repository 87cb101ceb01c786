/**
 * The gateway end to end, side by side with two reference servers.
 *
 *   npm run bench:gateway [-- --quick] [--json] [--duration 5] [--warmup 1]
 *                           [--connections 1,100,1000] [--hold 10000]
 *                           [--open-serial 200] [--open-batches 5] [--hold-budget 20]
 *                           [--profile] [--progress N]
 *                           [--phases throughput,open,hold] [--entry-timing]
 *                           [--servers echo,floor,vmgate,vmgate-exec]
 *
 * `--profile` records a CPU profile of each server during each measured
 * throughput window (written to bench/results/, summarised in the output);
 * the profiler slows the servers, so quote figures from runs without it.
 * `--entry-timing` times every `runInContext` in the servers (wrapping
 * `vm.Script.prototype.runInContext`, ~0.1 µs per call) and splits the
 * servers' busy time per eval into "inside runInContext" and "the rest".
 *
 * Servers, each in its own child process (this script with `--role server`):
 *
 * - `echo`   a bare `ws` server answering every frame with a small fixed JSON
 *            result frame: the cost of WebSocket framing alone;
 * - `floor`  a bare `ws` server giving each connection a null-prototype
 *            `afterEvaluate` context with codegen off, and running each frame
 *            as `JSON.parse` → `new vm.Script(code)` → one
 *            `runInContext(ctx, { timeout: 5000 })` → a small JSON reply: the
 *            least any design with a CPU budget per eval pays;
 * - `vmgate` the gateway (`startGateway`) with its defaults; where session
 *            engines (realms) run is the product's default (the report
 *            prints the mode it found: in-process or executors);
 * - `vmgate-exec` the gateway with `executors: { count: 2 }`: session
 *            engines in two executor processes (children of the server
 *            process, one per core).
 *   Both: tiny shared state, silent logger, heartbeat off, session limits
 *   raised to 20 000.
 *
 * The load client is one more child process (`--role client`), so client and
 * server never share an event loop (the machine has 2 cores: one each, and
 * this parent process stays idle while a phase runs).
 *
 * Phases (reference servers always measured in the same run, interleaved):
 * 1. throughput: C connections in a closed loop (send `{"op":"eval","id":n,
 *    "code":"1 + 1"}`, wait for the reply, send the next); each connection is
 *    opened and primed with one eval first (so vmgate's lazily created realm
 *    exists), then a warm-up, then the measured window; evals/s, p50/p99
 *    latency, and server/client CPU over the window;
 * 2. session open, one at a time: time from `new WebSocket` to 'open' (all),
 *    to the `hello` frame (vmgate), and to the reply of an eval sent on
 *    'open' (all: for vmgate this includes creating the realm);
 * 3. session open in parallel batches of 100 (no eval, then with one eval);
 * 4. memory: hold N idle sessions (default 10 000) on each gateway, the
 *    RSS of the server process plus its executor processes, and V8 heap,
 *    before/after → per session; then the same with each session having run
 *    one eval. The echo server is held the same way as the per-connection
 *    `ws` reference. Opening stops at a time budget (`--hold-budget`, 20 s)
 *    and the figures then cover the sessions actually held.
 *
 * Only 127.0.0.1 is used. Every loop is bounded in count and time.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session as InspectorSession } from 'node:inspector';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import vm from 'node:vm';
import pino from 'pino';
import WebSocket, { WebSocketServer } from 'ws';
import { engineProviderOf } from '../executors/engines';
import { type Gateway, startGateway } from '../gateway/server';
import { summarizeProfile } from './cpuprofile-top';
import { childPids, procStat } from './proc';
import {
  fmt,
  fmtInt,
  fmtRatio,
  intArg,
  machineLine,
  otherCpuPct,
  parseArgs,
  percentile,
  sourceFingerprint,
  systemCpu,
  table,
} from './stats';

const KINDS = ['echo', 'floor', 'vmgate', 'vmgate-exec'] as const;
type Kind = (typeof KINDS)[number];
/**
 * The two ways the gateway is measured: `vmgate` is startGateway with its
 * defaults (where session engines run is whatever the product defaults to;
 * the report says which), `vmgate-exec` forces `executors: { count: 2 }`
 * (session engines in two executor processes, one per core).
 */
const GATEWAYS = ['vmgate', 'vmgate-exec'] as const;
type GatewayKind = (typeof GATEWAYS)[number];
const isGateway = (kind: Kind): kind is GatewayKind => kind === 'vmgate' || kind === 'vmgate-exec';
const EXEC_COUNT = 2;
const PROTOCOL = 'vmgate.v1';
const HOST = '127.0.0.1';
const EVAL_1_PLUS_1 = (id: number) => `{"op":"eval","id":${id},"code":"1 + 1"}`;

/** Targets. */
const TARGET_THROUGHPUT_VS_FLOOR = 0.8;
const TARGET_OPEN_P50_OVER_WS_MS = 1.5;

// ===========================================================================
// RPC over the IPC channel: the parent calls, children answer; children may
// also emit events (the client marks its measurement window).
// ===========================================================================

interface RpcRequest {
  readonly rpc: number;
  readonly cmd: string;
  readonly args: Record<string, unknown>;
}
interface RpcReply {
  readonly rpc: number;
  readonly ok: boolean;
  readonly result?: unknown;
  readonly error?: string;
}
interface ChildEvent {
  readonly event: string;
  readonly [key: string]: unknown;
}

function isReply(message: RpcReply | ChildEvent): message is RpcReply {
  return typeof (message as RpcReply).rpc === 'number';
}

type Handler = (args: Record<string, unknown>) => unknown;

function serveRpc(handlers: Record<string, Handler>): void {
  // A child whose parent is gone (killed, timed out) must not linger.
  process.on('disconnect', () => process.exit(0));
  process.on('message', (message: RpcRequest) => {
    if (typeof message?.rpc !== 'number') return;
    void (async () => {
      let reply: RpcReply;
      try {
        const handler = handlers[message.cmd];
        if (!handler) throw new Error(`unknown command ${message.cmd}`);
        reply = { rpc: message.rpc, ok: true, result: await handler(message.args) };
      } catch (error) {
        reply = { rpc: message.rpc, ok: false, error: error instanceof Error ? error.message : String(error) };
      }
      process.send?.(reply);
    })();
  });
}

class ChildHandle {
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #next = 0;
  #exited = false;
  readonly ready: Promise<Record<string, unknown>>;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    onEvent: (event: ChildEvent) => void,
  ) {
    let ready: (value: Record<string, unknown>) => void = () => {};
    let failed: (error: Error) => void = () => {};
    this.ready = new Promise((resolve, reject) => {
      ready = resolve;
      failed = reject;
    });
    child.on('message', (message: RpcReply | ChildEvent) => {
      if (isReply(message)) {
        const pending = this.#pending.get(message.rpc);
        if (!pending) return;
        this.#pending.delete(message.rpc);
        if (message.ok) pending.resolve(message.result);
        else pending.reject(new Error(`${name}: ${message.error}`));
      } else if (message.event === 'ready') {
        ready(message as Record<string, unknown>);
      } else {
        onEvent(message);
      }
    });
    child.on('exit', (code, signal) => {
      this.#exited = true;
      const error = new Error(`${name} exited (${signal ?? code})`);
      failed(error);
      for (const pending of this.#pending.values()) pending.reject(error);
      this.#pending.clear();
    });
  }

  call<T>(cmd: string, args: Record<string, unknown> = {}, timeoutMs = 120_000): Promise<T> {
    if (this.#exited) return Promise.reject(new Error(`${this.name} has exited`));
    const rpc = ++this.#next;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(rpc);
        reject(new Error(`${this.name}: ${cmd} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(rpc, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.send({ rpc, cmd, args } satisfies RpcRequest);
    });
  }

  async stop(): Promise<void> {
    if (this.#exited) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    try {
      await this.call('stop', {}, 15_000);
    } catch {
      // fall through to the kill below
    }
    const killer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(killer);
  }
}

function spawnRole(role: string, args: string[], extraExecArgv: string[], onEvent: (e: ChildEvent) => void) {
  const execArgv = [...process.execArgv.filter((a) => !a.startsWith('--cpu-prof')), ...extraExecArgv];
  const child = fork(__filename, ['--role', role, ...args], {
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new ChildHandle(`${role}${args[1] ? `:${args[1]}` : ''}`, child, onEvent);
}

// ===========================================================================
// server role
// ===========================================================================

interface MemReading {
  /** RSS of the server process plus its child processes (the executors), bytes. */
  readonly rss: number;
  readonly ownRss: number;
  readonly childRss: number;
  readonly children: number;
  /** V8 heap used in the server process (after gc when asked). */
  readonly heapUsed: number;
  /** V8 heap used in the executors, from their last heartbeat (vmgate_executor_heap_used_bytes; no forced gc). */
  readonly childHeap: number;
  readonly external: number;
  readonly connections: number;
}

/**
 * `--entry-timing`: wraps `vm.Script.prototype.runInContext` in the server
 * process to time every entry (≈0.1 µs of overhead per call), so the report
 * can split server time per eval into "inside runInContext" and "the rest".
 */
const entryTiming = { on: false, count: 0, timed: 0, ms: 0, samples: new Float64Array(0) };
function installEntryTiming(): void {
  entryTiming.on = true;
  entryTiming.samples = new Float64Array(1 << 20);
  const original = vm.Script.prototype.runInContext;
  vm.Script.prototype.runInContext = function timedRunInContext(
    this: vm.Script,
    context: vm.Context,
    options?: vm.RunningScriptOptions,
  ) {
    const started = performance.now();
    try {
      return original.call(this, context, options);
    } finally {
      const ms = performance.now() - started;
      entryTiming.ms += ms;
      if (entryTiming.count < entryTiming.samples.length) entryTiming.samples[entryTiming.count] = ms;
      entryTiming.count++;
      if (options?.timeout !== undefined) entryTiming.timed++;
    }
  } as typeof original;
}

async function runServer(kind: Kind, sharedFile: string | undefined, timing: boolean): Promise<void> {
  if (timing) installEntryTiming();
  let gateway: Gateway | undefined;
  let wss: WebSocketServer | undefined;
  const handleProtocols = (protocols: Set<string>) => (protocols.has(PROTOCOL) ? PROTOCOL : false);

  if (isGateway(kind)) {
    gateway = await startGateway({
      port: 0,
      host: HOST,
      sharedFile,
      logger: pino({ level: 'silent' }),
      limits: { maxSessions: 20_000, maxSessionsPerAddress: 20_000, heartbeatMs: 0 },
      session: {},
      ...(kind === 'vmgate-exec' ? { executors: { count: EXEC_COUNT } } : {}),
    });
  } else {
    wss = new WebSocketServer({ host: HOST, port: 0, perMessageDeflate: false, handleProtocols });
    await new Promise<void>((resolve) => wss?.once('listening', () => resolve()));
    if (kind === 'echo') {
      const reply = '{"type":"result","id":0,"value":2,"text":"2"}';
      wss.on('connection', (ws) => {
        ws.on('message', () => ws.send(reply));
      });
    } else {
      wss.on('connection', (ws) => {
        const context = vm.createContext(Object.create(null), {
          codeGeneration: { strings: false, wasm: false },
          microtaskMode: 'afterEvaluate',
        });
        ws.on('message', (data) => {
          let id: unknown = null;
          let reply: string;
          try {
            const frame = JSON.parse(String(data)) as { id?: unknown; code?: unknown };
            id = frame.id ?? null;
            const value: unknown = new vm.Script(String(frame.code)).runInContext(context, {
              timeout: 5000,
              displayErrors: false,
            });
            reply = JSON.stringify({ type: 'result', id, value: typeof value === 'number' ? value : null });
          } catch {
            reply = JSON.stringify({ type: 'error', id, error: { code: 'UNCAUGHT', message: 'threw' } });
          }
          ws.send(reply);
        });
      });
    }
  }

  const connections = () => (gateway ? gateway.sessions.size : (wss?.clients.size ?? 0));
  const gc = (globalThis as { gc?: () => void }).gc;
  let profiler: InspectorSession | undefined;
  let cpuMark = process.cpuUsage();
  let childCpuMark = new Map<number, number>();
  const childCpu = () => {
    const out = new Map<number, number>();
    for (const pid of childPids(process.pid)) out.set(pid, procStat(pid)?.cpuMs ?? 0);
    return out;
  };
  let wallMark = performance.now();
  let eluMark = performance.eventLoopUtilization();

  serveRpc({
    mem: async (args): Promise<MemReading> => {
      if (args.gc && gc) {
        for (let i = 0; i < 3; i++) {
          gc();
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
      const pids = childPids(process.pid);
      // Executors report their heap every heartbeat (250 ms by default): let a fresh one arrive.
      if (pids.length > 0) await new Promise((resolve) => setTimeout(resolve, 1000));
      let childRss = 0;
      for (const pid of pids) childRss += procStat(pid)?.rss ?? 0;
      let childHeap = 0;
      if (gateway && pids.length > 0) {
        // GET /metrics brings the executor gauges up to date (engines.refreshMetrics) and renders them.
        const body = await (await fetch(`http://${HOST}:${gateway.port}/metrics`)).text();
        for (const match of body.matchAll(/^vmgate_executor_heap_used_bytes\{[^}]*\} (\S+)$/gm)) {
          childHeap += Number(match[1]);
        }
      }
      const m = process.memoryUsage();
      return {
        rss: m.rss + childRss,
        ownRss: m.rss,
        childRss,
        children: pids.length,
        heapUsed: m.heapUsed,
        childHeap,
        external: m.external,
        connections: connections(),
      };
    },
    /** Waits (bounded) until the server holds `count` connections. */
    waitConnections: async (args) => {
      const target = Number(args.count);
      const deadline = performance.now() + Number(args.timeoutMs ?? 30_000);
      while (connections() !== target && performance.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return connections();
    },
    cpuStart: () => {
      entryTiming.count = 0;
      entryTiming.timed = 0;
      entryTiming.ms = 0;
      cpuMark = process.cpuUsage();
      childCpuMark = childCpu();
      wallMark = performance.now();
      eluMark = performance.eventLoopUtilization();
      return true;
    },
    cpuEnd: () => {
      const cpu = process.cpuUsage(cpuMark);
      const wall = performance.now() - wallMark;
      let childMs = 0;
      for (const [pid, ms] of childCpu()) childMs += ms - (childCpuMark.get(pid) ?? ms);
      const elu = performance.eventLoopUtilization(eluMark);
      return {
        cpuPct: ((cpu.user + cpu.system) / 1000 / wall) * 100,
        childCpuPct: (childMs / wall) * 100,
        elu: elu.utilization,
        wallMs: wall,
        ...(entryTiming.on
          ? {
              entries: entryTiming.count,
              timedEntries: entryTiming.timed,
              entryMs: entryTiming.ms,
              entryP50Us: percentile(entryTiming.samples.subarray(0, entryTiming.count), 50) * 1000,
              entryP99Us: percentile(entryTiming.samples.subarray(0, entryTiming.count), 99) * 1000,
            }
          : {}),
      };
    },
    profileStart: async () => {
      profiler = new InspectorSession();
      profiler.connect();
      const post = (method: string, params?: object) =>
        new Promise<void>((resolve, reject) =>
          (profiler as InspectorSession).post(method, params ?? {}, (err) => (err ? reject(err) : resolve())),
        );
      await post('Profiler.enable');
      await post('Profiler.setSamplingInterval', { interval: 200 });
      await post('Profiler.start');
      return true;
    },
    profileStop: async (args) => {
      const session = profiler;
      if (!session) throw new Error('profileStop without profileStart');
      profiler = undefined;
      const profile = await new Promise<object>((resolve, reject) =>
        session.post('Profiler.stop', (err, result) => (err ? reject(err) : resolve(result.profile))),
      );
      session.disconnect();
      writeFileSync(String(args.file), JSON.stringify(profile));
      return args.file;
    },
    stop: async () => {
      setTimeout(() => process.exit(0), 50);
      if (gateway) await gateway.close();
      else {
        for (const client of wss?.clients ?? []) client.terminate();
        await new Promise<void>((resolve) => wss?.close(() => resolve()));
      }
      return true;
    },
  });

  const port = gateway ? gateway.port : ((wss as WebSocketServer).address() as AddressInfo).port;
  const status = gateway ? engineProviderOf(gateway.metrics.registry)?.status() : undefined;
  const mode = status
    ? `${status.mode}${status.executors ? ` (${status.executors.ready}/${status.executors.total} executors)` : ''}`
    : undefined;
  process.send?.({ event: 'ready', port, pid: process.pid, rss: process.memoryUsage().rss, mode });
}

// ===========================================================================
// client role
// ===========================================================================

interface Conn {
  readonly ws: WebSocket;
  readonly t0: number;
  tOpen: number;
  tHello: number;
  tReply: number;
  frames: number;
  /** Called for each frame after the hello (vmgate) or for every frame (references). */
  onFrame: ((text: string, now: number) => void) | undefined;
  closed: Promise<void>;
}

interface OpenOptions {
  readonly url: string;
  readonly hello: boolean;
  /** Send one eval on 'open' and wait for its reply. */
  readonly evalOnOpen: boolean;
  readonly timeoutMs: number;
}

function isHello(text: string): boolean {
  try {
    return (JSON.parse(text) as { type?: unknown }).type === 'hello';
  } catch {
    return false;
  }
}

function isResult(text: string, id: number | undefined): boolean {
  try {
    const frame = JSON.parse(text) as { type?: unknown; value?: unknown; id?: unknown };
    return frame.type === 'result' && frame.value === 2 && (id === undefined || frame.id === id);
  } catch {
    return false;
  }
}

/** Opens one connection; resolves once open (+ hello, + first reply as asked) or rejects (bounded). */
function openConn(options: OpenOptions): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const ws = new WebSocket(options.url, [PROTOCOL], { perMessageDeflate: false });
    const conn: Conn = {
      ws,
      t0,
      tOpen: 0,
      tHello: 0,
      tReply: 0,
      frames: 0,
      onFrame: undefined,
      closed: new Promise((res) => ws.once('close', () => res())),
    };
    let settled = false;
    const timer = setTimeout(() => fail(new Error('open timed out')), options.timeoutMs);
    const done = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(conn);
    };
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      ws.terminate();
      reject(error);
    };
    const maybeDone = () => {
      if (conn.tOpen === 0) return;
      if (options.hello && conn.tHello === 0) return;
      if (options.evalOnOpen && conn.tReply === 0) return;
      done();
    };
    ws.on('open', () => {
      conn.tOpen = performance.now();
      if (options.evalOnOpen) ws.send(EVAL_1_PLUS_1(1));
      maybeDone();
    });
    ws.on('message', (data) => {
      const now = performance.now();
      const text = String(data);
      conn.frames++;
      if (options.hello && conn.frames === 1) {
        if (!isHello(text)) return fail(new Error(`expected hello, got ${text.slice(0, 120)}`));
        conn.tHello = now;
        return maybeDone();
      }
      if (options.evalOnOpen && conn.tReply === 0) {
        if (!isResult(text, undefined)) return fail(new Error(`bad first reply ${text.slice(0, 120)}`));
        conn.tReply = now;
        return maybeDone();
      }
      conn.onFrame?.(text, now);
    });
    ws.on('error', (error) => fail(error));
    ws.on('unexpected-response', (_req, res) => fail(new Error(`HTTP ${res.statusCode}`)));
    ws.on('close', () => fail(new Error('closed before ready')));
  });
}

/** Opens `count` connections, at most `parallel` handshakes in flight. Failures are counted, not thrown. */
async function openMany(
  count: number,
  parallel: number,
  options: OpenOptions,
  progress = 0,
  budgetMs = Number.POSITIVE_INFINITY,
): Promise<{ conns: Conn[]; failed: number; errors: string[]; budgetHit: boolean }> {
  const t0 = performance.now();
  let budgetHit = false;
  const conns: Conn[] = [];
  const errors: string[] = [];
  let failed = 0;
  let next = 0;
  const worker = async () => {
    // Stop launching once it is clear nothing works (bounded time on a broken server).
    while (next < count && !(failed >= 100 && failed > conns.length)) {
      if (performance.now() - t0 > budgetMs) {
        budgetHit = true;
        return;
      }
      next++;
      try {
        conns.push(await openConn(options));
        if (progress && conns.length % progress === 0) {
          process.stderr.write(`  ${conns.length} open, ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
        }
      } catch (error) {
        failed++;
        if (errors.length < 5) errors.push(error instanceof Error ? error.message : String(error));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, worker));
  return { conns, failed, errors, budgetHit };
}

/** Closes connections and waits (bounded) for their close events; stragglers are terminated. */
async function closeAll(conns: Conn[], timeoutMs = 30_000): Promise<void> {
  for (const c of conns) {
    c.onFrame = undefined;
    if (c.ws.readyState === WebSocket.OPEN || c.ws.readyState === WebSocket.CONNECTING) c.ws.close();
  }
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), timeoutMs);
  });
  if ((await Promise.race([Promise.all(conns.map((c) => c.closed)), deadline])) === 'late') {
    for (const c of conns) c.ws.terminate();
  }
  clearTimeout(timer);
}

interface ThroughputResult {
  readonly connections: number;
  readonly opened: number;
  readonly evalsPerSec: number;
  readonly p50: number;
  readonly p99: number;
  readonly samples: number;
  readonly errors: number;
  readonly clientCpuPct: number;
  readonly windowMs: number;
}

async function throughput(args: Record<string, unknown>): Promise<ThroughputResult> {
  const url = String(args.url);
  const connections = Number(args.connections);
  const warmupMs = Number(args.warmupMs);
  const durationMs = Number(args.durationMs);
  const hello = Boolean(args.hello);
  const checkIds = Boolean(args.checkIds);

  const { conns, failed, errors } = await openMany(connections, 100, {
    url,
    hello,
    evalOnOpen: true, // primes each connection (vmgate creates its realm on the first eval)
    timeoutMs: 30_000,
  });
  if (failed > 0) throw new Error(`${failed} of ${connections} connections failed: ${errors.join('; ')}`);

  const latencies = new Float64Array(4_000_000);
  let samples = 0;
  let counted = 0;
  let errorCount = 0;
  const start = performance.now();
  const windowStart = start + warmupMs;
  const windowEnd = windowStart + durationMs;
  let cpuAtStart = process.cpuUsage();
  let finished = 0;
  let allFinished: () => void = () => {};
  const finishedAll = new Promise<void>((resolve) => {
    allFinished = resolve;
  });

  // The window marks go to the parent, which samples the server's CPU (and
  // profiles it) over the same window. Both timers always fire: the end mark
  // is awaited below even if every connection has already stopped.
  setTimeout(() => {
    cpuAtStart = process.cpuUsage();
    process.send?.({ event: 'window-start' } satisfies ChildEvent);
  }, warmupMs);
  const windowClosed = new Promise<NodeJS.CpuUsage>((resolve) => {
    setTimeout(() => {
      const cpu = process.cpuUsage(cpuAtStart);
      process.send?.({ event: 'window-end' } satisfies ChildEvent);
      resolve(cpu);
    }, warmupMs + durationMs);
  });

  for (const conn of conns) {
    let id = 1; // the priming eval used id 1
    let sentAt = 0;
    let done = false;
    const send = () => {
      id++;
      sentAt = performance.now();
      conn.ws.send(EVAL_1_PLUS_1(id));
    };
    const finish = () => {
      if (done) return;
      done = true;
      if (++finished === conns.length) allFinished();
    };
    conn.onFrame = (text, now) => {
      if (!isResult(text, checkIds ? id : undefined)) errorCount++;
      if (now >= windowStart && now <= windowEnd) {
        counted++;
        if (sentAt >= windowStart && samples < latencies.length) latencies[samples++] = now - sentAt;
      }
      if (now < windowEnd) send();
      else finish();
    };
    conn.ws.once('close', finish);
    send();
  }

  // Bounded: every connection stops sending at windowEnd; a reply lost for good is cut off here.
  const grace = new Promise<void>((resolve) => setTimeout(resolve, warmupMs + durationMs + 10_000));
  await Promise.race([finishedAll, grace]);
  const cpu = await windowClosed;
  await closeAll(conns);
  const lat = latencies.subarray(0, samples);
  return {
    connections,
    opened: conns.length,
    evalsPerSec: counted / (durationMs / 1000),
    p50: percentile(lat, 50),
    p99: percentile(lat, 99),
    samples,
    errors: errorCount,
    clientCpuPct: ((cpu.user + cpu.system) / 1000 / durationMs) * 100,
    windowMs: durationMs,
  };
}

interface OpenLatency {
  readonly count: number;
  readonly failed: number;
  readonly open: { p50: number; p99: number };
  readonly hello?: { p50: number; p99: number };
  readonly reply?: { p50: number; p99: number };
  readonly batchMs?: { p50: number; max: number };
}

function stats(values: number[]): { p50: number; p99: number } {
  return { p50: percentile(values, 50), p99: percentile(values, 99) };
}

async function openSerial(args: Record<string, unknown>): Promise<OpenLatency> {
  const count = Number(args.count);
  const hello = Boolean(args.hello);
  const open: number[] = [];
  const helloT: number[] = [];
  const reply: number[] = [];
  let failed = 0;
  for (let i = 0; i < count; i++) {
    try {
      const conn = await openConn({ url: String(args.url), hello, evalOnOpen: true, timeoutMs: 10_000 });
      open.push(conn.tOpen - conn.t0);
      if (hello) helloT.push(conn.tHello - conn.t0);
      reply.push(conn.tReply - conn.t0);
      await closeAll([conn], 10_000);
    } catch {
      failed++;
    }
  }
  return { count, failed, open: stats(open), ...(hello ? { hello: stats(helloT) } : {}), reply: stats(reply) };
}

async function openParallel(args: Record<string, unknown>): Promise<OpenLatency> {
  const batches = Number(args.batches);
  const size = Number(args.size);
  const hello = Boolean(args.hello);
  const evalOnOpen = Boolean(args.evalOnOpen);
  const open: number[] = [];
  const helloT: number[] = [];
  const reply: number[] = [];
  const batchMs: number[] = [];
  let failed = 0;
  for (let b = 0; b < batches; b++) {
    const t0 = performance.now();
    const results = await Promise.allSettled(
      Array.from({ length: size }, () => openConn({ url: String(args.url), hello, evalOnOpen, timeoutMs: 30_000 })),
    );
    batchMs.push(performance.now() - t0);
    const conns: Conn[] = [];
    for (const r of results) {
      if (r.status === 'rejected') {
        failed++;
        continue;
      }
      const c = r.value;
      conns.push(c);
      open.push(c.tOpen - c.t0);
      if (hello) helloT.push(c.tHello - c.t0);
      if (evalOnOpen) reply.push(c.tReply - c.t0);
    }
    await closeAll(conns);
  }
  return {
    count: batches * size,
    failed,
    open: stats(open),
    ...(hello ? { hello: stats(helloT) } : {}),
    ...(evalOnOpen ? { reply: stats(reply) } : {}),
    batchMs: { p50: percentile(batchMs, 50), max: Math.max(...batchMs) },
  };
}

const held: Conn[] = [];

async function holdOpen(args: Record<string, unknown>) {
  const t0 = performance.now();
  const { conns, failed, errors, budgetHit } = await openMany(
    Number(args.count),
    Number(args.parallel),
    {
      url: String(args.url),
      hello: Boolean(args.hello),
      evalOnOpen: Boolean(args.evalOnOpen),
      timeoutMs: 60_000,
    },
    Number(args.progress ?? 0),
    Number(args.budgetMs ?? Number.POSITIVE_INFINITY),
  );
  held.push(...conns);
  return {
    opened: conns.length,
    withHello: conns.filter((c) => c.tHello > 0).length,
    withReply: conns.filter((c) => c.tReply > 0).length,
    failed,
    errors,
    budgetHit,
    ms: performance.now() - t0,
  };
}

async function holdClose() {
  const conns = held.splice(0);
  // Sessions the server dropped while they were held (an executor killed, a limit) show up here.
  const stillOpen = conns.filter((c) => c.ws.readyState === WebSocket.OPEN).length;
  const t0 = performance.now();
  await closeAll(conns, 60_000);
  return { closed: conns.length, stillOpen, ms: performance.now() - t0 };
}

function runClient(): void {
  serveRpc({
    throughput,
    openSerial,
    openParallel,
    holdOpen,
    holdClose,
    stop: () => {
      setTimeout(() => process.exit(0), 50);
      return true;
    },
  });
  process.send?.({ event: 'ready', pid: process.pid });
}

// ===========================================================================
// parent: orchestration and report
// ===========================================================================

interface Settings {
  /** Where `vmgate` (startGateway defaults) runs its session engines, as its server reported. */
  vmgateMode: string;
  readonly connections: number[];
  readonly warmupMs: number;
  readonly durationMs: number;
  readonly openSerial: number;
  readonly openBatches: number;
  readonly hold: number;
  /** Time budget for opening the held sessions of one hold row. */
  readonly holdBudgetMs: number;
  readonly profile: boolean;
  readonly entryTiming: boolean;
  /** Print a progress line every this many sessions while holding (0 = off). */
  readonly progress: number;
  readonly json: boolean;
  readonly quick: boolean;
  readonly phases: ReadonlySet<string>;
  /** Servers to run (all by default; a subset is for diagnostics: ratios need echo and floor). */
  readonly kinds: readonly Kind[];
}

interface ServerWindow {
  readonly cpuPct: number;
  /** CPU of the server's child processes (executors), % of one core (10 ms resolution). */
  readonly childCpuPct?: number;
  readonly elu: number;
  readonly wallMs: number;
  readonly entries?: number;
  readonly timedEntries?: number;
  readonly entryMs?: number;
  readonly entryP50Us?: number;
  readonly entryP99Us?: number;
}

interface ThroughputRow extends ThroughputResult {
  readonly kind: Kind;
  readonly serverCpuPct: number;
  /** CPU of the gateway's executor processes, % of one core (0 for the others). */
  readonly executorCpuPct: number;
  readonly serverElu: number;
  /** CPU used on the machine by processes other than this benchmark's, % of one core. */
  readonly otherCpuPct: number;
  /** With --entry-timing: per eval, µs of server event-loop time inside runInContext and outside it. */
  readonly entryUsPerEval?: number;
  readonly otherUsPerEval?: number;
  readonly entriesPerEval?: number;
  readonly entryP50Us?: number;
  readonly entryP99Us?: number;
  readonly profile?: string;
}

interface HoldRow {
  readonly label: string;
  readonly kind: Kind;
  readonly sessions: number;
  readonly opened: number;
  readonly confirmed: number;
  readonly failed: number;
  readonly openMs: number;
  readonly rssBefore: number;
  readonly rssHeld: number;
  readonly rssAfterClose: number;
  readonly heapBefore: number;
  readonly heapHeld: number;
  readonly heapAfterClose: number;
  readonly serverConnections: number;
  /** Executor processes of the server (0 for the others) and their share of `rssHeld`. */
  readonly executors: number;
  readonly executorRssHeld: number;
  /** Connections still open when the hold ended (before the client closed them). */
  readonly stillOpen: number;
  readonly errors: string[];
  /** The opening loop stopped at its time budget before reaching `sessions`. */
  readonly budgetHit: boolean;
}

async function runParent(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const quick = args.has('quick');
  const settings: Settings = {
    vmgateMode: 'unknown',
    connections: (args.get('connections') ?? (quick ? '1,100' : '1,100,1000')).split(',').map(Number),
    warmupMs: Number(args.get('warmup') ?? (quick ? 0.3 : 1)) * 1000,
    durationMs: Number(args.get('duration') ?? (quick ? 1 : 5)) * 1000,
    openSerial: intArg(args, 'open-serial', quick ? 50 : 200),
    openBatches: intArg(args, 'open-batches', quick ? 2 : 5),
    hold: intArg(args, 'hold', quick ? 1000 : 10_000),
    holdBudgetMs: intArg(args, 'hold-budget', quick ? 15 : 20) * 1000,
    profile: args.has('profile'),
    entryTiming: args.has('entry-timing'),
    progress: args.has('progress') ? intArg(args, 'progress', 1000) : 0,
    json: args.has('json'),
    quick,
    phases: new Set((args.get('phases') ?? 'throughput,open,hold').split(',')),
    kinds: (args.get('servers')?.split(',') ?? [...KINDS]) as Kind[],
  };
  for (const kind of settings.kinds) {
    if (!(KINDS as readonly string[]).includes(kind)) throw new Error(`unknown server ${kind}`);
  }
  for (const phase of settings.phases) {
    if (!['throughput', 'open', 'hold'].includes(phase)) throw new Error(`unknown phase ${phase}`);
  }
  for (const c of settings.connections) {
    if (!Number.isInteger(c) || c <= 0 || c > 5000) throw new Error(`bad --connections value ${c}`);
  }
  if (settings.hold > 15_000) throw new Error('--hold is limited to 15000 (file descriptor limit 20000)');
  const say = (text: string) => {
    if (!settings.json) process.stderr.write(`${text}\n`);
  };
  const started = performance.now();
  const fingerprint = sourceFingerprint();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vmgate-bench-gw-'));
  const profileDir = path.join(__dirname, 'results', `profile-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  if (settings.profile) mkdirSync(profileDir, { recursive: true });
  const sharedFile = path.join(dir, 'shared.json');
  writeFileSync(
    sharedFile,
    JSON.stringify({ currencies: { EUR: 1, USD: 1.08 }, greeting: 'hello', limits: [1, 2, 3] }),
  );

  const servers = new Map<Kind, ChildHandle & { port: number }>();
  let active: { server: ChildHandle; kind: Kind; profileFile?: string } | undefined;
  const windowCalls: Promise<unknown>[] = [];
  let windowCpu: Promise<ServerWindow> | undefined;
  let machineAtStart: ReturnType<typeof systemCpu>;
  let machineAtEnd: ReturnType<typeof systemCpu>;
  let parentWindow = { start: 0, end: 0 };
  let client: ChildHandle | undefined;

  const onClientEvent = (event: ChildEvent) => {
    if (!active) return;
    const { server, profileFile } = active;
    if (event.event === 'window-start') {
      machineAtStart = systemCpu();
      parentWindow = { start: performance.now(), end: 0 };
      windowCalls.push(server.call('cpuStart'));
      if (profileFile) windowCalls.push(server.call('profileStart'));
    } else if (event.event === 'window-end') {
      machineAtEnd = systemCpu();
      parentWindow.end = performance.now();
      windowCpu = server.call('cpuEnd');
      if (profileFile) windowCalls.push(server.call('profileStop', { file: profileFile }));
    }
  };

  try {
    for (const kind of settings.kinds) {
      const handle = spawnRole(
        'server',
        ['--kind', kind, '--shared-file', sharedFile, ...(settings.entryTiming ? ['--entry-timing'] : [])],
        ['--expose-gc'],
        () => {},
      );
      const ready = await handle.ready;
      servers.set(kind, Object.assign(handle, { port: Number(ready.port) }));
      if (kind === 'vmgate') settings.vmgateMode = String(ready.mode ?? 'unknown');
      say(
        `${kind} server listening on ${HOST}:${ready.port} (pid ${ready.pid})${ready.mode ? `, engines: ${ready.mode}` : ''}`,
      );
    }
    client = spawnRole('client', [], [], onClientEvent);
    await client.ready;
    const url = (kind: Kind) => `ws://${HOST}:${servers.get(kind)?.port}`;
    const server = (kind: Kind) => servers.get(kind) as ChildHandle;

    // ---- 1. throughput -------------------------------------------------------
    const throughputRows: ThroughputRow[] = [];
    for (const connections of settings.phases.has('throughput') ? settings.connections : []) {
      for (const kind of settings.kinds) {
        say(`throughput: ${kind} × ${connections} connection(s) ...`);
        const profileFile = settings.profile ? path.join(profileDir, `${kind}-${connections}.cpuprofile`) : undefined;
        active = { server: server(kind), kind, ...(profileFile ? { profileFile } : {}) };
        windowCalls.length = 0;
        windowCpu = undefined;
        const result = await client.call<ThroughputResult>(
          'throughput',
          {
            url: url(kind),
            connections,
            warmupMs: settings.warmupMs,
            durationMs: settings.durationMs,
            hello: isGateway(kind),
            checkIds: kind !== 'echo',
          },
          settings.warmupMs + settings.durationMs + 180_000,
        );
        await Promise.all(windowCalls);
        const cpu: ServerWindow = windowCpu ? await windowCpu : { cpuPct: Number.NaN, elu: Number.NaN, wallMs: 0 };
        const evals = result.evalsPerSec * (cpu.wallMs / 1000);
        const windowMs = parentWindow.end - parentWindow.start;
        const otherPct = otherCpuPct(
          machineAtStart,
          machineAtEnd,
          ((cpu.cpuPct + (cpu.childCpuPct ?? 0) + result.clientCpuPct) / 100) * windowMs,
          windowMs,
        );
        const breakdown =
          cpu.entryMs !== undefined && evals > 0
            ? {
                entryUsPerEval: (cpu.entryMs * 1000) / evals,
                otherUsPerEval: (cpu.elu * cpu.wallMs * 1000 - cpu.entryMs * 1000) / evals,
                entriesPerEval: (cpu.entries ?? 0) / evals,
                entryP50Us: cpu.entryP50Us ?? Number.NaN,
                entryP99Us: cpu.entryP99Us ?? Number.NaN,
              }
            : {};
        active = undefined;
        throughputRows.push({
          ...result,
          kind,
          serverCpuPct: cpu.cpuPct,
          executorCpuPct: cpu.childCpuPct ?? 0,
          serverElu: cpu.elu,
          otherCpuPct: otherPct,
          ...breakdown,
          ...(profileFile ? { profile: profileFile } : {}),
        });
        // Let the server finish closing before the next point.
        await server(kind).call('waitConnections', { count: 0, timeoutMs: 30_000 });
      }
    }

    // ---- 2./3. session open latency -------------------------------------------
    const openRows: Array<{ kind: Kind; serial: OpenLatency; parallel: OpenLatency; parallelEval: OpenLatency }> = [];
    for (const kind of settings.phases.has('open') ? settings.kinds : []) {
      say(`open latency: ${kind} (${settings.openSerial} one at a time, ${settings.openBatches} batches of 100) ...`);
      const hello = isGateway(kind);
      const serial = await client.call<OpenLatency>(
        'openSerial',
        { url: url(kind), count: settings.openSerial, hello },
        300_000,
      );
      const parallel = await client.call<OpenLatency>(
        'openParallel',
        { url: url(kind), batches: settings.openBatches, size: 100, hello, evalOnOpen: false },
        300_000,
      );
      const parallelEval = await client.call<OpenLatency>(
        'openParallel',
        { url: url(kind), batches: settings.openBatches, size: 100, hello, evalOnOpen: true },
        300_000,
      );
      openRows.push({ kind, serial, parallel, parallelEval });
      await server(kind).call('waitConnections', { count: 0, timeoutMs: 30_000 });
    }

    // ---- 4. memory held by N sessions ----------------------------------------
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
      const before = await srv.call<MemReading>('mem', { gc: true });
      const opened = await client.call<{
        opened: number;
        withHello: number;
        withReply: number;
        failed: number;
        errors: string[];
        budgetHit: boolean;
        ms: number;
      }>(
        'holdOpen',
        {
          url: url(hold.kind),
          count: settings.hold,
          parallel: 100,
          hello: isGateway(hold.kind),
          evalOnOpen: hold.evalOnOpen,
          progress: settings.json ? 0 : settings.progress,
          budgetMs: settings.holdBudgetMs,
        },
        settings.holdBudgetMs + 180_000,
      );
      const heldMem = await srv.call<MemReading>('mem', { gc: true }, 300_000);
      const closed = await client.call<{ stillOpen: number }>('holdClose', {}, 300_000);
      await srv.call('waitConnections', { count: 0, timeoutMs: 60_000 }, 120_000);
      const after = await srv.call<MemReading>('mem', { gc: true }, 300_000);
      holdRows.push({
        label: hold.label,
        kind: hold.kind,
        sessions: settings.hold,
        opened: opened.opened,
        confirmed: hold.evalOnOpen ? opened.withReply : isGateway(hold.kind) ? opened.withHello : opened.opened,
        failed: opened.failed,
        openMs: opened.ms,
        rssBefore: before.rss,
        rssHeld: heldMem.rss,
        rssAfterClose: after.rss,
        heapBefore: before.heapUsed + before.childHeap,
        heapHeld: heldMem.heapUsed + heldMem.childHeap,
        heapAfterClose: after.heapUsed + after.childHeap,
        executors: heldMem.children,
        executorRssHeld: heldMem.childRss,
        stillOpen: closed.stillOpen,
        serverConnections: heldMem.connections,
        errors: opened.errors,
        budgetHit: opened.budgetHit,
      });
    }

    const profiles: Array<{ kind: Kind; connections: number; file: string; summary: string }> = [];
    if (settings.profile) {
      for (const row of throughputRows) {
        if (row.profile && row.kind !== 'echo') {
          profiles.push({
            kind: row.kind,
            connections: row.connections,
            file: row.profile,
            summary: summarizeProfile(row.profile, { top: 25 }),
          });
        }
      }
    }
    report(settings, throughputRows, openRows, holdRows, profiles, (performance.now() - started) / 1000, fingerprint);
  } finally {
    await client?.stop();
    for (const handle of servers.values()) await handle.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function report(
  settings: Settings,
  throughputRows: ThroughputRow[],
  openRows: Array<{ kind: Kind; serial: OpenLatency; parallel: OpenLatency; parallelEval: OpenLatency }>,
  holdRows: HoldRow[],
  profiles: Array<{ kind: Kind; connections: number; file: string; summary: string }>,
  seconds: number,
  fingerprint: string,
): void {
  const find = (kind: Kind, connections: number) =>
    throughputRows.find((r) => r.kind === kind && r.connections === connections);
  const ratio = (a: ThroughputRow | undefined, b: ThroughputRow | undefined) =>
    a && b ? a.evalsPerSec / b.evalsPerSec : Number.NaN;
  const ratios = settings.connections.map((connections) => {
    const floor = find('floor', connections);
    const echo = find('echo', connections);
    return {
      connections,
      gatewayVsFloor: ratio(find('vmgate', connections), floor),
      gatewayVsEcho: ratio(find('vmgate', connections), echo),
      execVsFloor: ratio(find('vmgate-exec', connections), floor),
      execVsEcho: ratio(find('vmgate-exec', connections), echo),
      floorVsEcho: ratio(floor, echo),
    };
  });
  const at100 = ratios.find((r) => r.connections === 100);
  const echoOpen = openRows.find((r) => r.kind === 'echo')?.serial;
  const openOver = (kind: GatewayKind) => {
    const hello = openRows.find((r) => r.kind === kind)?.serial.hello;
    return hello && echoOpen ? hello.p50 - echoOpen.open.p50 : Number.NaN;
  };
  // Per session = what the server itself held when memory was read (sessions it had
  // already dropped, e.g. with an executor restarted, do not count).
  const perSession = (row: HoldRow) => {
    const n = Math.min(row.confirmed, row.serverConnections);
    return {
      rssKb: n > 0 ? (row.rssHeld - row.rssBefore) / 1024 / n : Number.NaN,
      heapKb: n > 0 ? (row.heapHeld - row.heapBefore) / 1024 / n : Number.NaN,
    };
  };
  const targets = Object.fromEntries(
    GATEWAYS.map((kind) => {
      const vsFloor = kind === 'vmgate' ? at100?.gatewayVsFloor : at100?.execVsFloor;
      const over = openOver(kind);
      return [
        kind,
        {
          throughputVsFloorAt100: {
            target: TARGET_THROUGHPUT_VS_FLOOR,
            measured: vsFloor ?? Number.NaN,
            pass: (vsFloor ?? 0) >= TARGET_THROUGHPUT_VS_FLOOR,
          },
          openP50OverWsMs: {
            target: TARGET_OPEN_P50_OVER_WS_MS,
            measured: over,
            pass: over <= TARGET_OPEN_P50_OVER_WS_MS,
          },
        },
      ];
    }),
  ) as Record<
    GatewayKind,
    {
      throughputVsFloorAt100: { target: number; measured: number; pass: boolean };
      openP50OverWsMs: { target: number; measured: number; pass: boolean };
    }
  >;

  if (settings.json) {
    process.stdout.write(
      `${JSON.stringify(
        {
          benchmark: 'gateway',
          machine: machineLine(fingerprint),
          settings: { ...settings, phases: [...settings.phases] },
          throughput: throughputRows,
          ratios,
          open: openRows,
          hold: holdRows.map((row) => ({ ...row, perSession: perSession(row) })),
          targets,
          profiles: profiles.map(({ kind, connections, file }) => ({ kind, connections, file })),
          seconds,
        },
        null,
        2,
      )}\n`,
    );
    return;
  }

  const mb = (bytes: number) => `${fmt(bytes / 2 ** 20, 0)} MB`;
  const passMiss = (pass: boolean) => (pass ? 'PASS' : 'MISS');
  const out: string[] = [];
  out.push(
    `vmgate bench:gateway — ${settings.durationMs / 1000} s per point after ${settings.warmupMs / 1000} s warm-up${settings.quick ? ' (--quick)' : ''}${settings.profile ? ' (--profile: CPU profiler on, do not quote these figures)' : ''}`,
  );
  out.push(machineLine(fingerprint));
  out.push(
    `Servers: echo = bare ws; floor = bare ws + vm context per connection + one timed runInContext per frame; vmgate = startGateway defaults (engines found: ${settings.vmgateMode}); vmgate-exec = startGateway({ executors: { count: ${EXEC_COUNT} } }).`,
  );
  if (throughputRows.length > 0) {
    out.push('');
    out.push('Throughput, closed loop, `1 + 1` per request (server and client in separate processes):');
    out.push(
      table(
        [
          'server',
          'conns',
          'evals/s',
          'p50 ms',
          'p99 ms',
          'server CPU',
          'executors CPU',
          'server ELU',
          'client CPU',
          'other CPU',
          'errors',
        ],
        throughputRows.map((r) => [
          r.kind,
          String(r.connections),
          fmtInt(r.evalsPerSec),
          fmt(r.p50, 3),
          fmt(r.p99, 3),
          `${fmt(r.serverCpuPct, 0)}%`,
          isGateway(r.kind) ? `${fmt(r.executorCpuPct, 0)}%` : '—',
          fmt(r.serverElu, 2),
          `${fmt(r.clientCpuPct, 0)}%`,
          `${fmt(r.otherCpuPct, 0)}%`,
          String(r.errors),
        ]),
      ),
    );
    out.push(
      "CPU columns: % of one core over the measured window; 'other CPU' = the machine's busy time not used by this benchmark's processes (> ~15%: someone else was running, distrust that point).",
    );
    out.push('');
    out.push(
      table(
        ['conns', 'vmgate/floor', 'vmgate/echo', 'vmgate-exec/floor', 'vmgate-exec/echo', 'floor/echo'],
        ratios.map((r) => [
          String(r.connections),
          fmtRatio(r.gatewayVsFloor),
          fmtRatio(r.gatewayVsEcho),
          fmtRatio(r.execVsFloor),
          fmtRatio(r.execVsEcho),
          fmtRatio(r.floorVsEcho),
        ]),
      ),
    );
    for (const kind of GATEWAYS) {
      const t = targets[kind].throughputVsFloorAt100;
      out.push(
        `Target (${kind}): ≥ ${TARGET_THROUGHPUT_VS_FLOOR}× the vm floor at 100 connections → ${fmtRatio(t.measured)} ${passMiss(t.pass)}`,
      );
    }
  }
  if (settings.entryTiming && throughputRows.length > 0) {
    out.push('');
    out.push(
      'Server event-loop time per eval (--entry-timing: runInContext wrapped in the server process; busy = ELU × window / evals):',
    );
    out.push(
      table(
        ['server', 'conns', 'busy µs/eval', 'in runInContext µs', 'rest µs', 'entries/eval', 'entry p50/p99 µs'],
        throughputRows
          .filter((r) => r.kind === 'floor' || r.kind === 'vmgate')
          .map((r) => [
            r.kind,
            String(r.connections),
            fmt((r.serverElu * 1e6) / r.evalsPerSec, 0),
            fmt(r.entryUsPerEval, 0),
            fmt(r.otherUsPerEval, 0),
            fmt(r.entriesPerEval, 2),
            `${fmt(r.entryP50Us, 0)} / ${fmt(r.entryP99Us, 0)}`,
          ]),
      ),
    );
  }
  if (openRows.length > 0) {
    out.push('');
    out.push('Session open latency, ms from `new WebSocket` (p50 / p99):');
    const pp = (s?: { p50: number; p99: number }) => (s ? `${fmt(s.p50, 3)} / ${fmt(s.p99, 3)}` : '—');
    out.push(
      table(
        [
          'server',
          'serial: open',
          'serial: hello',
          'serial: 1st reply',
          '×100 parallel: open',
          '×100: hello',
          '×100: batch ms',
          '×100 + eval: 1st reply',
          '×100 + eval: batch ms',
          'failed',
        ],
        openRows.map((r) => [
          r.kind,
          pp(r.serial.open),
          pp(r.serial.hello),
          pp(r.serial.reply),
          pp(r.parallel.open),
          pp(r.parallel.hello),
          fmt(r.parallel.batchMs?.p50, 1),
          pp(r.parallelEval.reply),
          fmt(r.parallelEval.batchMs?.p50, 1),
          String(r.serial.failed + r.parallel.failed + r.parallelEval.failed),
        ]),
      ),
    );
    for (const kind of GATEWAYS) {
      const t = targets[kind].openP50OverWsMs;
      out.push(
        `Target (${kind}): hello p50 within ${TARGET_OPEN_P50_OVER_WS_MS} ms of a bare ws handshake (echo 'open' p50) → ${t.measured >= 0 ? '+' : ''}${fmt(t.measured, 3)} ms ${passMiss(t.pass)}`,
      );
    }
    out.push(
      '"1st reply": an eval `1 + 1` sent on \'open\'; for the gateways it includes creating the session realm (lazily, on the first eval).',
    );
  }
  if (holdRows.length > 0) {
    out.push('');
    out.push(
      `Memory held by up to ${settings.hold} concurrent sessions (server process + its executor processes; gc'd in the server process, executors' heap from their last heartbeat):`,
    );
    out.push(
      table(
        [
          'what',
          'held',
          'server had',
          'still open',
          'open s',
          'RSS before',
          'RSS held',
          'of which child procs',
          'RSS after close',
          'KB RSS/session',
          'KB heap/session',
        ],
        holdRows.map((r) => {
          const per = perSession(r);
          return [
            r.label,
            `${r.confirmed}/${r.sessions}${r.failed ? ` (${r.failed} failed)` : ''}${r.budgetHit ? ' (budget)' : ''}`,
            String(r.serverConnections),
            String(r.stillOpen),
            fmt(r.openMs / 1000, 1),
            mb(r.rssBefore),
            mb(r.rssHeld),
            r.executors > 0 ? `${mb(r.executorRssHeld)} (${r.executors} child procs)` : '—',
            mb(r.rssAfterClose),
            fmt(per.rssKb, 1),
            fmt(per.heapKb, 1),
          ];
        }),
      ),
    );
    out.push(
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
    out.push('');
    out.push(`CPU profile of the ${p.kind} server process during the ${p.connections}-connection window: ${p.file}`);
    out.push(p.summary);
  }
  out.push('');
  out.push(`(run took ${fmt(seconds, 0)} s)`);
  process.stdout.write(`${out.join('\n')}\n`);
}

// ===========================================================================

const roleArgs = parseArgs(process.argv.slice(2));
const role = roleArgs.get('role');
const main =
  role === 'server'
    ? () => runServer(roleArgs.get('kind') as Kind, roleArgs.get('shared-file'), roleArgs.has('entry-timing'))
    : role === 'client'
      ? async () => runClient()
      : runParent;
main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
