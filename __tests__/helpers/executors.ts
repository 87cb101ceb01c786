import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import pino from 'pino';
import { parseDatabaseUrl } from '../../db/database-url';
import { engineProviderOf } from '../../executors/engines';
import type { ExecutorPool } from '../../executors/pool';
import { type Gateway, type StartOptions, startGateway } from '../../gateway/server';
import { connect, type TestClient } from './gateway';

/**
 * Gateways with executors for the executor suites. They are started once per
 * file (an executor takes a second or more to start from TypeScript sources)
 * and closed by the file's afterAll — not by the per-test cleanup of
 * helpers/gateway.ts, which would close them after the first test.
 */
export async function startExecutorGateway(
  options: StartOptions = {},
): Promise<{ gateway: Gateway; pool: ExecutorPool }> {
  const gateway = await startGateway({
    port: 0,
    sharedFile: undefined,
    logger: pino({ level: process.env.VMGATE_TEST_LOG ?? 'silent' }),
    ...options,
    // No resuming: a closed test client's session ends at once, not after a grace period.
    limits: { heartbeatMs: 0, resumeGraceMs: 0, maxSessionsPerAddress: 5_000, maxSessions: 5_000, ...options.limits },
    executors: { count: 2, testHooks: true, ...options.executors },
  });
  const pool = engineProviderOf(gateway.metrics.registry) as ExecutorPool;
  if (pool?.mode !== 'executors') throw new Error('the gateway did not start executors');
  return { gateway, pool };
}

/** A plain connection the caller closes (helpers/database.ts closes its own before a file's afterAll runs). */
export async function ownConnection(url: string): Promise<mysql.Connection> {
  const target = parseDatabaseUrl(url);
  return mysql.createConnection({
    ...(target.socketPath ? { socketPath: target.socketPath } : { host: target.host, port: target.port }),
    user: target.user,
    ...(target.password !== undefined ? { password: target.password } : {}),
    ...(target.database !== undefined ? { database: target.database } : {}),
  });
}

/** A database URL naming another database on the same server. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(4).toString('hex')}`;
}

/** A session and the hello frame's id; waits for the hello. */
export async function openSession(gateway: Gateway): Promise<{ client: TestClient; id: string }> {
  const client = await connect(gateway);
  const hello = await client.next();
  return { client, id: String(hello.session) };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/**
 * Evaluates `1 + 1` on a session over and over (one at a time, a short pause
 * between) and records each round trip, until stopped.
 */
export class LatencyProbe {
  readonly samples: number[] = [];
  readonly failures: string[] = [];
  #running = true;
  readonly #done: Promise<void>;

  constructor(client: TestClient, pauseMs = 20) {
    this.#done = (async () => {
      while (this.#running) {
        const started = performance.now();
        try {
          const frame = await client.eval('1 + 1');
          if (frame.type === 'result' && frame.value === 2) this.samples.push(performance.now() - started);
          else this.failures.push(JSON.stringify(frame).slice(0, 200));
        } catch (error) {
          this.failures.push((error as Error).message);
          return;
        }
        await sleep(pauseMs);
      }
    })();
  }

  async stopAfter(ms: number): Promise<{ samples: number[]; failures: string[] }> {
    await sleep(ms);
    return this.stop();
  }

  async stop(): Promise<{ samples: number[]; failures: string[] }> {
    this.#running = false;
    await this.#done;
    return { samples: this.samples, failures: this.failures };
  }
}
