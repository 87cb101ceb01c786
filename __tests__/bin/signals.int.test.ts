import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { directConnection, tableName, testDatabaseUrl } from '../helpers/database';
import { connect, waitFor } from '../helpers/gateway';

/**
 * Signals (issue 11, item 5). The gateway runs as `npm start` would: in a
 * process group of its own, as a terminal's foreground job. Ctrl-C is SIGINT
 * to that whole group; the executors are not in it, so only the gateway sees
 * it and shuts down as on SIGTERM.
 */

const ROOT = path.join(__dirname, '..', '..');
const CLI = ['-r', '@swc-node/register', path.join(ROOT, 'bin', 'vmgate.ts')];

jest.setTimeout(90_000);

interface Started {
  child: ChildProcessWithoutNullStreams;
  port: number;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function serve(): Promise<Started> {
  const child = spawn(
    process.execPath,
    [...CLI, 'serve', '--port', '0', '--executors', '1', '--log-level', 'info', '--database-url', testDatabaseUrl()],
    { cwd: ROOT, detached: true },
  );
  let out = '';
  child.stdout.on('data', (chunk) => {
    out += chunk;
  });
  child.stderr.on('data', (chunk) => {
    out += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return new Promise((resolve, reject) => {
    const poll = setInterval(() => {
      const match = /"port":(\d+)[^\n]*gateway listening/.exec(out);
      if (match && /executor ready/.test(out)) {
        clearInterval(poll);
        resolve({ child, port: Number(match[1]), output: () => out, exited });
      }
    }, 50);
    void exited.then(({ code }) => {
      clearInterval(poll);
      reject(new Error(`exited early with ${code}: ${out}`));
    });
  });
}

/** Processes whose parent is `pid`. */
function childrenOf(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map((line) => Number(line.trim()))
      .filter((n) => n > 0);
  } catch {
    return []; // ps exits 1 when there are none
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('signals', () => {
  test("Ctrl-C (SIGINT to the gateway's process group, twice as under npm) is a clean shutdown", async () => {
    const direct = await directConnection();
    const table = tableName('signals');
    await direct.query(`CREATE TABLE ${table} (id INT PRIMARY KEY)`);
    const started = await serve();
    const { child } = started;
    const gatewayPid = child.pid as number;
    try {
      const executors = childrenOf(gatewayPid);
      expect(executors.length).toBeGreaterThan(0);
      const client = await connect(`ws://127.0.0.1:${started.port}`);
      await client.next(); // hello
      expect(await client.eval(`await db.insertInto('${table}').values({ id: 1 }).execute(); 1`)).toMatchObject({
        value: 1,
      });
      // A long eval in flight: it must end with the shutdown, not with "executor restarted".
      client.send({ op: 'eval', id: 'long', code: 'for (;;) {}', timeoutMs: 1_500 });

      // The terminal's Ctrl-C, then npm forwarding the same signal to its child.
      process.kill(-gatewayPid, 'SIGINT');
      process.kill(gatewayPid, 'SIGINT');

      expect(await started.exited).toEqual({ code: 0, signal: null });
      const closed = await client.closed;
      expect(closed.code).toBe(1001);
      expect(closed.reason).toMatch(/^server shutting down/);
      expect(started.output()).not.toMatch(/executor restarted|crashed \(SIGINT\)/);
      // The uncommitted row was rolled back, and no executor outlived the gateway.
      const [rows] = await direct.query(`SELECT id FROM ${table}`);
      expect(rows).toEqual([]);
      expect(await waitFor(() => executors.every((pid) => !alive(pid)), 10_000)).toBe(true);
    } finally {
      if (alive(gatewayPid)) child.kill('SIGKILL');
      await direct.query(`DROP TABLE IF EXISTS ${table}`);
    }
  });

  test('executors in their own process group still die with a killed gateway', async () => {
    const started = await serve();
    const gatewayPid = started.child.pid as number;
    const executors = childrenOf(gatewayPid);
    expect(executors.length).toBeGreaterThan(0);
    started.child.kill('SIGKILL');
    await started.exited;
    expect(await waitFor(() => executors.every((pid) => !alive(pid)), 10_000)).toBe(true);
  });
});
