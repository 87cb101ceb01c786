import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import type { EngineProvider } from '../../executors/engine-provider';
import type { Gateway, StartOptions } from '../../gateway/server';
import { settleGc } from './gc';
import { childPids, procStat } from './proc';
import { Child, exitSoon, type Handler, serveRpc } from './rpc';

/**
 * The gateway as the benchmarks run it: in a child process of its own (the
 * benchmark's script with `--role gateway`), started by a `start` call with
 * serialisable `StartOptions` (logger silent, host 127.0.0.1, port 0), and
 * read with `usage`: CPU time and RSS of the gateway process and of each of
 * its executor processes (/proc), so a window can be measured from outside.
 */

export const HOST = '127.0.0.1';

export interface ProcessUsage {
  readonly pid: number;
  readonly cpuMs: number;
  readonly rss: number;
}

export interface GatewayUsage extends ProcessUsage {
  readonly heapUsed: number;
  readonly external: number;
  /** Every child process (the executors, and e.g. an esbuild service). */
  readonly children: ProcessUsage[];
  /** The executor processes of the gateway's pool (none in-process). */
  readonly executors: ProcessUsage[];
  readonly sessions: number;
  /** V8 heap used in the executors, from their last heartbeat (vmgate_executor_heap_used_bytes), when asked. */
  readonly executorHeap?: number;
}

export interface GatewayReady {
  readonly port: number;
  readonly url: string;
  /** Where session engines run, as the gateway reports it: `in-process`, or `executors (2/2 executors)`. */
  readonly mode: string | undefined;
  readonly executors: number;
  readonly rss: number;
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

/**
 * In the gateway child: answers `start`, `usage`, `waitSessions` and `stop`,
 * plus `extra(gateway)`'s handlers (added once the gateway runs).
 */
export function serveGateway(extra: (gateway: Gateway, dist: boolean) => Record<string, Handler> = () => ({})): void {
  let gateway: Gateway | undefined;
  let executorPids: () => number[] = () => [];
  const running = () => {
    if (!gateway) throw new Error('the gateway has not been started');
    return gateway;
  };
  const handlers: Record<string, Handler> = {
    start: async (args): Promise<GatewayReady> => {
      const dist = Boolean(args.dist);
      const { startGateway } = productModule('gateway/server', dist) as {
        startGateway: (o: StartOptions) => Promise<Gateway>;
      };
      const { engineProviderOf } = productModule('executors/engines', dist) as {
        engineProviderOf: (registry: object) => EngineProvider | undefined;
      };
      gateway = await startGateway({
        port: 0,
        host: HOST,
        logger: pino({ level: 'silent' }),
        ...(args.options as StartOptions),
      });
      Object.assign(handlers, extra(gateway, dist));
      const provider = engineProviderOf(gateway.metrics.registry);
      if (provider?.mode === 'executors') {
        const pool = provider as unknown as { executors: ReadonlyArray<{ pid?: number }> };
        executorPids = () => pool.executors.map((e) => e.pid ?? 0);
      }
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
    usage: async (args): Promise<GatewayUsage> => {
      const g = running();
      if (args.gc) await settleGc();
      const pids = childPids(process.pid);
      let executorHeap: number | undefined;
      if (args.executorHeap && pids.length > 0) {
        // Executors report their heap every heartbeat (250 ms by default): let a fresh one arrive;
        // GET /metrics brings the executor gauges up to date and renders them.
        await new Promise((resolve) => setTimeout(resolve, 1000));
        const body = await (await fetch(`http://${HOST}:${g.port}/metrics`)).text();
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
        executors: executorPids().map(usageOf),
        sessions: g.sessions.size,
        ...(executorHeap !== undefined ? { executorHeap } : {}),
      };
    },
    /** Waits (bounded) until the gateway holds `count` sessions. */
    waitSessions: async (args) => {
      const g = running();
      const deadline = performance.now() + Number(args.timeoutMs ?? 30_000);
      while (g.sessions.size !== Number(args.count) && performance.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return g.sessions.size;
    },
    stop: async () => {
      await gateway?.close('benchmark done');
      return exitSoon();
    },
  };
  serveRpc(handlers);
}

/** Starts a gateway child (`script --role gateway`) and waits until it listens. */
export async function spawnGateway(
  script: string,
  options: StartOptions,
  { dist = false, execArgv = [] as readonly string[], name = 'gateway' } = {},
): Promise<{ child: Child; ready: GatewayReady }> {
  const child = new Child(name, script, ['--role', 'gateway'], execArgv);
  await child.ready;
  try {
    return { child, ready: await child.call<GatewayReady>('start', { options, dist }) };
  } catch (error) {
    await child.stop();
    throw error;
  }
}

/** CPU ms of a gateway and of its executors between two `usage` readings. */
export function cpuBetween(a: GatewayUsage, b: GatewayUsage): { gatewayMs: number; executorsMs: number } {
  const executor = (pid: number, u: GatewayUsage) => u.executors.find((e) => e.pid === pid)?.cpuMs;
  let executorsMs = 0;
  for (const e of b.executors) executorsMs += e.cpuMs - (executor(e.pid, a) ?? e.cpuMs);
  return { gatewayMs: b.cpuMs - a.cpuMs, executorsMs };
}
