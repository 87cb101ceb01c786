import { performance } from 'node:perf_hooks';
import { LoadConnection } from '../../clients/load/connection';
import type { LoadOptions } from '../../clients/load/options';
import { runLoad } from '../../clients/load/run';
import { emitEvent, type Handler, serveRpc } from './rpc';

/**
 * WebSocket sessions through the project's load client (clients/load): the
 * closed loops of a measured window (`runLoad`), and sessions opened and
 * held for memory readings.
 */

export interface HeldSession {
  readonly connection: LoadConnection;
  /** Connect to the end of the WebSocket handshake, ms. */
  readonly upgradeMs: number;
  /** Connect to `hello`, ms. */
  readonly openMs: number;
  /** Connect to the answer of the eval sent after `hello`, ms (when one was asked). */
  readonly answerMs?: number;
}

export interface OpenManyOptions {
  readonly parallel: number;
  /** An eval each session runs once open; its answer must be `expect` (compared with the wire value). */
  readonly evalCode?: string;
  readonly expect?: unknown;
  /** The local address of the i-th session. */
  readonly localAddress?: (index: number) => string;
  readonly timeoutMs?: number;
  /** Stop opening after this many ms. */
  readonly budgetMs?: number;
  /** Print progress every this many open sessions. */
  readonly progress?: number;
}

export interface OpenManyResult {
  readonly sessions: HeldSession[];
  readonly failed: number;
  readonly errors: string[];
  readonly budgetHit: boolean;
}

/** Opens one session (and runs its first eval, if asked); throws on any failure. */
export async function openSession(url: string, options: OpenManyOptions, index = 0): Promise<HeldSession> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const start = performance.now();
  const localAddress = options.localAddress?.(index);
  const opened = await LoadConnection.open(url, {
    headers: {},
    openTimeoutMs: timeoutMs,
    ...(localAddress ? { localAddress } : {}),
  }).result;
  if (!opened.ok) throw new Error(`${opened.reason}: ${opened.detail}`);
  const held = { connection: opened.connection, upgradeMs: opened.upgradeMs, openMs: opened.openMs };
  if (options.evalCode === undefined) return held;
  const outcome = await opened.connection.eval(options.evalCode, { guardMs: timeoutMs, collectLogs: false });
  if (outcome.kind !== 'result' || (options.expect !== undefined && outcome.wire !== options.expect)) {
    opened.connection.terminate();
    throw new Error(`bad answer: ${JSON.stringify(outcome).slice(0, 160)}`);
  }
  return { ...held, answerMs: performance.now() - start };
}

/** Opens `count` sessions, at most `parallel` handshakes in flight. Failures are counted, not thrown. */
export async function openMany(url: string, count: number, options: OpenManyOptions): Promise<OpenManyResult> {
  const t0 = performance.now();
  const sessions: HeldSession[] = [];
  const errors: string[] = [];
  let failed = 0;
  let next = 0;
  let budgetHit = false;
  const worker = async () => {
    // Stop launching once it is clear nothing works (bounded time on a broken server).
    while (next < count && !(failed >= 100 && failed > sessions.length)) {
      if (performance.now() - t0 > (options.budgetMs ?? Number.POSITIVE_INFINITY)) {
        budgetHit = true;
        return;
      }
      try {
        sessions.push(await openSession(url, options, next++));
        if (options.progress && sessions.length % options.progress === 0) {
          process.stderr.write(`  ${sessions.length} open, ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
        }
      } catch (error) {
        failed++;
        if (errors.length < 5) errors.push(error instanceof Error ? error.message : String(error));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.parallel, count) }, worker));
  return { sessions, failed, errors, budgetHit };
}

/**
 * In a load-client child: `run` (a `runLoad` whose window edges go to the
 * parent as `window-start` / `window-end` events, so it can sample the
 * servers over the same window), `hold` and `release`.
 */
export function serveLoadClient(extra: Record<string, Handler> = {}): void {
  const held: HeldSession[] = [];
  serveRpc({
    /** A load run; `clientCpuPct`: this process's CPU over the measured window, % of one core. */
    run: async (args) => {
      let cpu = process.cpuUsage();
      let wall = 0;
      let clientCpuPct = Number.NaN;
      const onWindow = (edge: 'start' | 'end') => {
        if (edge === 'start') {
          cpu = process.cpuUsage();
          wall = performance.now();
        } else {
          const used = process.cpuUsage(cpu);
          clientCpuPct = ((used.user + used.system) / 1000 / (performance.now() - wall)) * 100;
        }
        emitEvent({ event: `window-${edge}` });
      };
      const summary = await runLoad(args as unknown as LoadOptions, { onWindow });
      return { ...summary, clientCpuPct };
    },
    hold: async (args) => {
      const t0 = performance.now();
      const result = await openMany(String(args.url), Number(args.count), args as unknown as OpenManyOptions);
      held.push(...result.sessions);
      const { sessions, ...rest } = result;
      return { ...rest, opened: sessions.length, ms: performance.now() - t0 };
    },
    release: async () => {
      const sessions = held.splice(0);
      // Sessions the server dropped while they were held (an executor killed, a limit) show up here.
      const stillOpen = sessions.filter((s) => s.connection.isOpen).length;
      await Promise.all(sessions.map((s) => s.connection.close(10_000)));
      return { closed: sessions.length, stillOpen };
    },
    ...extra,
  });
}
