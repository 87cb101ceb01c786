import path from 'node:path';
import { performance } from 'node:perf_hooks';
import vm from 'node:vm';
import pino from 'pino';
import { type WebSocket, WebSocketServer } from 'ws';
import type { EngineProvider } from '../../executors/engine-provider';
import type { Gateway, StartOptions } from '../../gateway/server';
import { WindowProfiler } from './diag';
import { settleGc } from './gc';
import { childPids, procStat } from './proc';
import { Child, exitSoon, type Handler, serveRpc } from './rpc';

/**
 * The servers the benchmarks measure, each in a child process of its own
 * (the benchmark's script in a `--role`): the gateway, started by a `start`
 * call with serialisable `StartOptions` (logger silent, 127.0.0.1, port 0),
 * and the bare `ws` references of bench:gateway. Every server answers the
 * same calls: `usage` (CPU time and RSS of the process and of its children,
 * from /proc; heap after gc), `window-start` / `window-end` (CPU, event-loop
 * utilisation over a measured window),
 * `profile-start` / `profile-stop`, `waitSessions` and `stop`.
 */

export const HOST = '127.0.0.1';

export interface ProcessUsage {
  readonly pid: number;
  readonly cpuMs: number;
  readonly rss: number;
}

export interface ServerUsage extends ProcessUsage {
  readonly heapUsed: number;
  readonly external: number;
  /** Every child process (the executors, and e.g. an esbuild service). */
  readonly children: ProcessUsage[];
  /** The executor processes of a gateway's pool (none in-process). */
  readonly executors: ProcessUsage[];
  readonly sessions: number;
  /** V8 heap used in the executors, from their last heartbeat (vmgate_executor_heap_used_bytes), when asked. */
  readonly executorHeap?: number;
}

export interface ServerWindow {
  /** CPU of the server process, % of one core. */
  readonly cpuPct: number;
  /** CPU of its child processes (executors), % of one core (10 ms resolution). */
  readonly childCpuPct: number;
  readonly elu: number;
  readonly wallMs: number;
}

export interface ServerReady {
  readonly port: number;
  readonly url: string;
  /** Where session engines run, as the gateway reports it: `in-process`, or `executors (2/2 executors)`. */
  readonly mode: string | undefined;
  readonly executors: number;
  readonly rss: number;
}

interface Served {
  readonly port: number;
  readonly sessions: () => number;
  readonly executorPids: () => number[];
  readonly close: () => Promise<void>;
}

const ROOT = path.resolve(__dirname, '..', '..');

/** A product module from the TypeScript sources, or from `dist/` (npm run build) with `dist`; untyped, as `require` is. */
export function productModule(module: string, dist = false): ReturnType<NodeJS.Require> {
  return require(dist ? path.join(ROOT, 'dist', `${module}.js`) : path.join(ROOT, `${module}.ts`));
}

function usageOf(pid: number): ProcessUsage {
  const stat = procStat(pid);
  return { pid, cpuMs: stat?.cpuMs ?? Number.NaN, rss: stat?.rss ?? Number.NaN };
}

/** The calls every server answers, once `served` runs. */
function serverHandlers(served: () => Served): Record<string, Handler> {
  const childCpu = () => childPids(process.pid).reduce((n, pid) => n + (procStat(pid)?.cpuMs ?? 0), 0);
  let mark = {
    cpu: process.cpuUsage(),
    childMs: 0,
    wall: 0,
    elu: performance.eventLoopUtilization(),
  };
  let profiler: Promise<WindowProfiler> | undefined;
  return {
    usage: async (args): Promise<ServerUsage> => {
      const server = served();
      if (args.gc) await settleGc();
      const pids = childPids(process.pid);
      let executorHeap: number | undefined;
      if (args.executorHeap && pids.length > 0) {
        // Executors report their heap every heartbeat (250 ms by default): let a fresh one arrive;
        // GET /metrics brings the executor gauges up to date and renders them.
        await new Promise((resolve) => setTimeout(resolve, 1000));
        const body = await (await fetch(`http://${HOST}:${server.port}/metrics`)).text();
        executorHeap = 0;
        for (const match of body.matchAll(/^vmgate_executor_heap_used_bytes\{[^}]*\} (\S+)$/gm)) {
          executorHeap += Number(match[1]);
        }
      }
      const memory = process.memoryUsage();
      return {
        ...usageOf(process.pid),
        heapUsed: memory.heapUsed,
        external: memory.external,
        children: pids.map(usageOf),
        executors: server.executorPids().map(usageOf),
        sessions: server.sessions(),
        ...(executorHeap !== undefined ? { executorHeap } : {}),
      };
    },
    /** Waits (bounded) until the server holds `count` sessions. */
    waitSessions: async (args) => {
      const server = served();
      const deadline = performance.now() + Number(args.timeoutMs ?? 30_000);
      while (server.sessions() !== Number(args.count) && performance.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return server.sessions();
    },
    'window-start': () => {
      mark = {
        cpu: process.cpuUsage(),
        childMs: childCpu(),
        wall: performance.now(),
        elu: performance.eventLoopUtilization(),
      };
      return true;
    },
    'window-end': (): ServerWindow => {
      const cpu = process.cpuUsage(mark.cpu);
      const wallMs = performance.now() - mark.wall;
      return {
        cpuPct: ((cpu.user + cpu.system) / 1000 / wallMs) * 100,
        childCpuPct: ((childCpu() - mark.childMs) / wallMs) * 100,
        elu: performance.eventLoopUtilization(mark.elu).utilization,
        wallMs,
      };
    },
    'profile-start': async (args) => {
      profiler = WindowProfiler.start(Number(args.intervalUs ?? 250));
      await profiler;
      return true;
    },
    'profile-stop': async (args) => {
      const p = profiler;
      profiler = undefined;
      if (!p) throw new Error('profile-stop without profile-start');
      await (await p).stop(String(args.file));
      return args.file;
    },
    stop: async () => {
      await served().close();
      return exitSoon();
    },
  };
}

/**
 * In a gateway child: answers `start` (the gateway, from sources or `dist/`),
 * the calls of every server, and `extra(gateway)`'s (added once it runs).
 */
export function serveGateway(extra: (gateway: Gateway, dist: boolean) => Record<string, Handler> = () => ({})): void {
  let served: Served | undefined;
  const handlers: Record<string, Handler> = {
    ...serverHandlers(() => {
      if (!served) throw new Error('the gateway has not been started');
      return served;
    }),
    start: async (args): Promise<ServerReady> => {
      const dist = Boolean(args.dist);
      const { startGateway } = productModule('gateway/server', dist) as {
        startGateway: (o: StartOptions) => Promise<Gateway>;
      };
      const { engineProviderOf } = productModule('executors/engines', dist) as {
        engineProviderOf: (registry: object) => EngineProvider | undefined;
      };
      const gateway = await startGateway({
        port: 0,
        host: HOST,
        logger: pino({ level: 'silent' }),
        ...(args.options as StartOptions),
      });
      const provider = engineProviderOf(gateway.metrics.registry);
      const pool =
        provider?.mode === 'executors' ? (provider as unknown as { executors: Array<{ pid?: number }> }) : undefined;
      served = {
        port: gateway.port,
        sessions: () => gateway.sessions.size,
        executorPids: () => pool?.executors.map((e) => e.pid ?? 0) ?? [],
        close: () => gateway.close('benchmark done'),
      };
      Object.assign(handlers, extra(gateway, dist));
      const status = provider?.status();
      const mode = status
        ? `${status.mode}${status.executors ? ` (${status.executors.ready}/${status.executors.total} executors)` : ''}`
        : undefined;
      return {
        port: gateway.port,
        url: `ws://${HOST}:${gateway.port}/`,
        mode,
        executors: gateway.executors,
        rss: process.memoryUsage().rss,
      };
    },
  };
  serveRpc(handlers);
}

/**
 * In a reference-server child: a bare `ws` server that greets every
 * connection with a vmgate-like `hello` (so the load client accepts it) and
 * answers each frame:
 * - `echo`  with a small fixed result frame carrying the request's id (found
 *           by a regular expression, not JSON.parse): WebSocket framing alone;
 * - `floor` by running the frame's code in the connection's own null-prototype
 *           `afterEvaluate` context with codegen off (`JSON.parse` →
 *           `new vm.Script(code)` → one `runInContext(ctx, { timeout: 5000 })`):
 *           the least any design with a CPU budget per eval pays.
 */
export async function serveReference(kind: 'echo' | 'floor'): Promise<void> {
  const protocol = 'vmgate.v1';
  const wss = new WebSocketServer({
    host: HOST,
    port: 0,
    perMessageDeflate: false,
    handleProtocols: (protocols) => (protocols.has(protocol) ? protocol : false),
  });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const hello = JSON.stringify({ type: 'hello', session: kind });
  const onConnection =
    kind === 'echo'
      ? (ws: WebSocket) => {
          ws.on('message', (data) => {
            const id = /"id":(\d+)/.exec(String(data))?.[1] ?? '0';
            ws.send(`{"type":"result","id":${id},"value":2,"text":"2"}`);
          });
        }
      : (ws: WebSocket) => {
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
        };
  wss.on('connection', (ws) => {
    ws.send(hello);
    onConnection(ws);
  });
  const port = (wss.address() as { port: number }).port;
  const served: Served = {
    port,
    sessions: () => wss.clients.size,
    executorPids: () => [],
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
  serveRpc(
    serverHandlers(() => served),
    { port, url: `ws://${HOST}:${port}/` },
  );
}

/** Starts a gateway child (`script --role gateway`, plus `args`) and waits until it listens. */
export async function spawnGateway(
  script: string,
  options: StartOptions,
  { dist = false, execArgv = [] as readonly string[], args = [] as readonly string[], name = 'gateway' } = {},
): Promise<{ child: Child; ready: ServerReady }> {
  const child = new Child(name, script, ['--role', 'gateway', ...args], execArgv);
  try {
    await child.ready;
    return { child, ready: await child.call<ServerReady>('start', { options, dist }) };
  } catch (error) {
    await child.stop();
    throw error;
  }
}

/**
 * Reads `server` over the load client's measured window: hand `onEvent` to the
 * client child; at its `window-start` / `window-end` events the server's CPU
 * window opens and closes (and a CPU profile into `profileFile`), and
 * `onEdge` runs for readings of the caller's own. `result()` once the run is over.
 */
export function serverWindow(
  server: Child,
  {
    profileFile,
    intervalUs,
    onEdge,
  }: { profileFile?: string; intervalUs?: number; onEdge?: (start: boolean) => void } = {},
) {
  const calls: Promise<unknown>[] = [];
  let end: Promise<ServerWindow> | undefined;
  return {
    onEvent(event: { event: string }): void {
      const start = event.event === 'window-start';
      if (!start && event.event !== 'window-end') return;
      onEdge?.(start);
      if (start) calls.push(server.call('window-start'));
      else end = server.call<ServerWindow>('window-end');
      if (profileFile)
        calls.push(server.call(start ? 'profile-start' : 'profile-stop', { file: profileFile, intervalUs }));
    },
    async result(): Promise<ServerWindow | undefined> {
      await Promise.all(calls);
      return end;
    },
  };
}
