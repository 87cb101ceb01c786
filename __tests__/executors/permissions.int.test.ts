import { existsSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseDatabaseUrl } from '../../db/database-url';
import { DEFAULT_DATABASE_OPTIONS } from '../../db/pool';
import type { ExecutorPool } from '../../executors/pool';
import type { Gateway } from '../../gateway/server';
import { testDatabaseUrl } from '../helpers/database';
import { openSession, startExecutorGateway } from '../helpers/executors';

/**
 * An executor holds as little power as possible. From inside a session there
 * is no path to the file system or to processes (the realm boundary); and
 * should a path be found, the executor process itself can neither write a
 * file nor start a process (Node's permission model), compile a string into
 * code, signal another process, or read anything but its own code — shown by
 * running the attempts as the executor's own code (test-only probes,
 * executors/test-probes.ts). Its environment holds no secret. The database
 * works under all this, over a Unix socket and over TCP.
 */

jest.setTimeout(60_000);

const SECRETS = {
  DATABASE_URL: 'mysql://app:hunter2@db.internal:3306/app',
  VMGATE_JWT_SECRET: 'jwt-secret-the-executors-must-not-see',
  VMGATE_TOKENS: 'token-the-executors-must-not-see',
};
const saved: Record<string, string | undefined> = {};
let gateway: Gateway;
let pool: ExecutorPool;

beforeAll(async () => {
  for (const [key, value] of Object.entries(SECRETS)) {
    saved[key] = process.env[key];
    process.env[key] = value;
  }
  ({ gateway, pool } = await startExecutorGateway({
    executors: { count: 1 },
    database: { mode: 'url', url: testDatabaseUrl(), ...DEFAULT_DATABASE_OPTIONS, poolSize: 4 },
  }));
}, 120_000);

afterAll(async () => {
  await gateway?.close();
  for (const [key, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
});

describe('from inside a session', () => {
  test.each([
    ['typeof process', "'undefined'"],
    ['typeof require', "'undefined'"],
    ['typeof Buffer', "'undefined'"],
    ['typeof WebAssembly', "'undefined'"],
    ['typeof SharedArrayBuffer', "'undefined'"],
  ])('%s', async (code, text) => {
    const { client } = await openSession(gateway);
    expect(await client.eval(code)).toMatchObject({ type: 'result', text });
  });

  test.each([
    "this.constructor.constructor('return process')()",
    "Function('return process')()",
    "(() => {}).constructor('return process')()",
    "Object.getPrototypeOf(async function () {}).constructor('return process')()",
    "import('node:fs')",
    'import.meta',
    "Reflect.construct(Function, ['return process'])",
    "new Error().constructor.constructor('return process')()",
  ])('%s reaches nothing', async (code) => {
    const { client } = await openSession(gateway);
    const reply = await client.eval(code);
    expect(reply.type).toBe('error');
    expect(JSON.stringify(reply)).not.toMatch(/"pid"|"platform"|binding/);
  });
});

describe('the executor process', () => {
  test.each([
    'write-tmp',
    'write-app',
    'append-tmp',
    'mkdir-tmp',
    'open-write',
    'promises-write',
    'spawn',
    'exec',
    'fork',
    'binding',
    'worker',
    'read-outside',
    'read-data',
  ])('cannot %s (ERR_ACCESS_DENIED)', async (probe) => {
    const result = await pool.test(0, probe);
    expect(result).toMatchObject({ ok: false, code: 'ERR_ACCESS_DENIED' });
  });

  test('wrote nothing', () => {
    const pid = pool.executors[0]?.pid;
    for (const name of ['w', 'a', 'd', 'o', 'p']) {
      expect(existsSync(path.join(os.tmpdir(), `vmgate-executor-probe-${pid}-${name}`))).toBe(false);
    }
    expect(existsSync(path.join(__dirname, '..', '..', `vmgate-executor-probe-${pid}`))).toBe(false);
  });

  test('reads its own code (the probe works)', async () => {
    expect(await pool.test(0, 'read-code')).toMatchObject({ ok: true });
  });

  test('cannot compile strings into code, nor signal another process', async () => {
    expect(await pool.test(0, 'eval')).toMatchObject({
      ok: false,
      message: expect.stringMatching(/Code generation from strings disallowed/),
    });
    expect(await pool.test(0, 'kill')).toMatchObject({ ok: false, message: 'not available in an executor' });
  });

  test('has no secret in its environment, and runs under the permission model', async () => {
    const env = JSON.parse((await pool.test(0, 'env')).value ?? '[]') as string[];
    for (const key of env) expect(['SWC_NODE_CACHE', 'SWC_NODE_PROJECT', 'TZ']).toContain(key);
    const argv = JSON.parse((await pool.test(0, 'argv')).value ?? '[]') as string[];
    expect(argv).toContain('--experimental-permission');
    expect(argv).toContain('--disallow-code-generation-from-strings');
    expect(argv.some((a) => a.startsWith('--max-old-space-size='))).toBe(true);
    for (const power of ['--allow-fs-write', '--allow-child-process', '--allow-worker', '--allow-wasi']) {
      expect(argv.some((a) => a.startsWith(power))).toBe(false);
    }
  });
});

describe('the database under the permission model', () => {
  /** A TCP listener forwarding to a Unix socket, or a Unix socket forwarding to TCP: the other transport. */
  async function otherTransport(url: string): Promise<{ url: string; close(): Promise<void> }> {
    const target = parseDatabaseUrl(url);
    const socketPath = path.join(os.tmpdir(), `vmgate-db-${process.pid}.sock`);
    const proxy = net.createServer((client) => {
      const upstream = target.socketPath
        ? net.connect(target.socketPath)
        : net.connect(target.port ?? 3306, target.host ?? '127.0.0.1');
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
    const parsed = new URL(url);
    if (target.socketPath) {
      await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
      parsed.hostname = '127.0.0.1';
      parsed.port = String((proxy.address() as net.AddressInfo).port);
      parsed.searchParams.delete('socket');
    } else {
      rmSync(socketPath, { force: true });
      await new Promise<void>((resolve) => proxy.listen(socketPath, resolve));
      parsed.hostname = 'localhost';
      parsed.port = '';
      parsed.searchParams.set('socket', socketPath);
    }
    return {
      url: parsed.toString(),
      close: () =>
        new Promise<void>((resolve) => {
          proxy.close(() => resolve());
          rmSync(socketPath, { force: true });
        }),
    };
  }

  test('works over both a Unix socket and TCP', async () => {
    const direct = testDatabaseUrl();
    const other = await otherTransport(direct);
    try {
      for (const url of [direct, other.url]) {
        const { gateway: g } = await startExecutorGateway({
          executors: { count: 1 },
          database: { mode: 'url', url, ...DEFAULT_DATABASE_OPTIONS, poolSize: 2 },
        });
        try {
          const { client } = await openSession(g);
          expect(await client.eval('(await sql`SELECT 40 + 2 AS x`.execute(db)).rows')).toMatchObject({
            type: 'result',
            value: [{ x: 42 }],
          });
          const transport = parseDatabaseUrl(url).socketPath ? 'unix' : 'tcp';
          expect(['unix', 'tcp']).toContain(transport);
        } finally {
          await g.close();
        }
      }
    } finally {
      await other.close();
    }
  });
});
