import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type mysql from 'mysql2/promise';
import { directConnection, tableName, testDatabaseUrl } from '../helpers/database';
import { connect, type TestClient } from '../helpers/gateway';

/**
 * Scale-out, for real: Debian's nginx, configured with deploy/nginx/vmgate.conf
 * (addresses and paths substituted), in front of two gateway processes started
 * with the real CLI on the test database. One gateway is stopped with SIGTERM:
 * its sessions close with 1001 and their transactions roll back; the other
 * gateway's sessions and transactions are untouched; new sessions land on the
 * survivor. See docs/deployment.md.
 */

const NGINX = '/usr/sbin/nginx';
const ROOT = path.join(__dirname, '..', '..');
const CLI = ['-r', '@swc-node/register', path.join(ROOT, 'bin', 'vmgate.ts')];
const SITE_CONFIG = path.join(ROOT, 'deploy', 'nginx', 'vmgate.conf');
const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Name = 'a' | 'b';

/** A gateway process: its port, its log lines, and the sessions it logged as opened. */
interface GatewayProcess {
  readonly name: Name;
  readonly child: ChildProcessWithoutNullStreams;
  readonly port: number;
  readonly opened: Set<string>;
  readonly exited: Promise<number | null>;
  output(): string;
}

const children: ChildProcessWithoutNullStreams[] = [];

function spawnGateway(name: Name): Promise<GatewayProcess> {
  const child = spawn(
    process.execPath,
    [
      ...CLI,
      'serve',
      '--port',
      '0',
      '--database-url',
      testDatabaseUrl(),
      '--log-level',
      'info',
      '--shutdown-timeout-ms',
      '5000',
    ],
    { cwd: ROOT },
  );
  children.push(child);
  const opened = new Set<string>();
  let out = '';
  let pending = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.stderr.on('data', (chunk) => {
    out += chunk;
  });
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk;
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        let entry: { msg?: string; port?: number; session?: string };
        try {
          entry = JSON.parse(line);
        } catch {
          continue;
        }
        if (entry.msg === 'gateway listening' && typeof entry.port === 'number') {
          resolve({ name, child, port: entry.port, opened, exited, output: () => out });
        }
        if (entry.msg === 'session opened' && entry.session) opened.add(entry.session);
      }
    });
    void exited.then((code) => reject(new Error(`gateway ${name} exited early with ${code}:\n${out}`)));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** deploy/nginx/vmgate.conf with this test's addresses and paths; fails if the file changed shape. */
function renderSite(ports: Record<Name, number>, listen: number, dir: string): string {
  const substitutions: Array<[RegExp, string]> = [
    [/10\.0\.0\.11:8080/g, `127.0.0.1:${ports.a}`],
    [/10\.0\.0\.12:8080/g, `127.0.0.1:${ports.b}`],
    [/^(\s*)listen 80;/gm, `$1listen 127.0.0.1:${listen};`],
    [/\/var\/log\/nginx\//g, `${dir}/`],
  ];
  let text = readFileSync(SITE_CONFIG, 'utf8');
  for (const [pattern, replacement] of substitutions) {
    if (!pattern.test(text)) throw new Error(`${SITE_CONFIG} no longer contains ${pattern}`);
    pattern.lastIndex = 0;
    text = text.replace(pattern, replacement);
  }
  return text;
}

/** An nginx of the test's own: one process, every path inside `dir`, no root needed. */
function nginxMainConfig(dir: string): string {
  return `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log notice;
events { worker_connections 1024; }
http {
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  access_log off;
  include ${dir}/vmgate.conf;
}
`;
}

async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const match = new RegExp(`^${name} (\\d+)$`, 'm').exec(text);
  if (!match) throw new Error(`${name} not in /metrics of port ${port}`);
  return Number(match[1]);
}

async function eventually<T>(what: string, check: () => Promise<T> | T, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${what}: ${(error as Error).message}`);
      await sleep(50);
    }
  }
}

/**
 * An eval's value; anything but a result fails with the error it carried. The
 * budget is generous: 40 sessions touch the database at once on a small machine.
 */
async function value(client: TestClient, code: string): Promise<unknown> {
  const frame = await client.eval(code, { timeoutMs: 20_000 });
  if (frame.type !== 'result') throw new Error(`eval failed: ${JSON.stringify(frame.error ?? frame)}`);
  return frame.value;
}

const haveNginx = existsSync(NGINX);
if (!haveNginx) {
  console.warn(`scale-out test skipped: ${NGINX} is missing (Debian: apt-get install -y nginx)`);
}

const SUITE = 'scale-out: nginx in front of two gateway processes';
(haveNginx ? describe : describe.skip)(haveNginx ? SUITE : `${SUITE} (skipped: ${NGINX} is missing)`, () => {
  let dir: string;
  let table: string;
  let gateways: Record<Name, GatewayProcess>;
  let nginx: ChildProcessWithoutNullStreams;
  let nginxPort: number;
  let dirty: mysql.Connection; // READ UNCOMMITTED: sees the sessions' uncommitted rows
  let clean: mysql.Connection; // sees committed rows only
  const proxyUrl = () => `ws://127.0.0.1:${nginxPort}`;

  // The timeout is generous: on an idle machine this takes 2-3 s, but the
  // gateways compile with @swc-node/register, which is slow on a busy machine.
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'vmgate-scale-out-'));
    clean = await directConnection();
    dirty = await directConnection();
    await dirty.query('SET SESSION TRANSACTION ISOLATION LEVEL READ UNCOMMITTED');
    table = tableName('scale_out');
    await clean.query(
      `CREATE TABLE ${table} (id INT AUTO_INCREMENT PRIMARY KEY, tag VARCHAR(64) NOT NULL) ENGINE=InnoDB`,
    );

    const [a, b] = await Promise.all([spawnGateway('a'), spawnGateway('b')]);
    gateways = { a, b };
    nginxPort = await freePort();
    writeFileSync(path.join(dir, 'vmgate.conf'), renderSite({ a: a.port, b: b.port }, nginxPort, dir));
    writeFileSync(path.join(dir, 'nginx.conf'), nginxMainConfig(dir));
    const args = ['-p', dir, '-e', path.join(dir, 'error.log'), '-c', path.join(dir, 'nginx.conf')];
    const tested = await run(NGINX, [...args, '-t']).catch((error) => error);
    if (tested instanceof Error)
      throw new Error(`nginx -t refused the configuration:\n${(tested as { stderr?: string }).stderr}`);
    nginx = spawn(NGINX, args);
    children.push(nginx);
    let nginxOut = '';
    nginx.stderr.on('data', (chunk) => {
      nginxOut += chunk;
    });
    await eventually(
      'nginx did not start',
      async () => {
        if (nginx.exitCode !== null) throw new Error(`exited with ${nginx.exitCode}: ${nginxOut}`);
        const response = await fetch(`http://127.0.0.1:${nginxPort}/healthz`);
        if (response.status !== 200) throw new Error(`/healthz through nginx: ${response.status}`);
      },
      10_000,
    );
  }, 90_000);

  afterAll(async () => {
    // Every process this file started, whatever happened: SIGTERM, then SIGKILL.
    await Promise.all(
      children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }),
    );
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (table && clean) {
      // The gateways are gone, so no transaction holds the table any more.
      await clean.query('SET SESSION lock_wait_timeout = 5').catch(() => undefined);
      // (If the test failed because the database went away, that failure is the one to report.)
      await clean.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
    }
  }, 20_000);

  /** Which gateway logged this session as opened. */
  const placement = (session: string): Name | undefined =>
    (['a', 'b'] as const).find((name) => gateways[name].opened.has(session));

  /** The access log line of a request path, once nginx has written it (at the end of the connection). */
  const accessLogLine = (requestPath: string) =>
    eventually(`no access log line for ${requestPath}`, () => {
      const log = existsSync(path.join(dir, 'vmgate.access.log'))
        ? readFileSync(path.join(dir, 'vmgate.access.log'), 'utf8')
        : '';
      const line = log.split('\n').find((l) => l.includes(`"GET ${requestPath}"`));
      if (!line) throw new Error('not yet');
      const upstreams = /upstream=(.*)$/.exec(line)?.[1]?.split(', ') ?? [];
      return { line, status: Number(/" (\d{3}) /.exec(line)?.[1]), upstream: upstreams.at(-1) };
    });

  /** Opens a connection through nginx on `requestPath`, closes it, and says which gateway took it. */
  async function probe(requestPath: string) {
    const client = await connect(proxyUrl(), { path: requestPath });
    client.ws.close(1000);
    await client.closed;
    return accessLogLine(requestPath.split('?')[0] as string);
  }

  test('a resume token reaches the gateway its prefix names; the query string stays out of the log', async () => {
    const address = (name: Name) => `127.0.0.1:${gateways[name].port}`;
    for (const name of ['a', 'b', 'a', 'b', 'b', 'a'] as const) {
      const requestPath = `/resume-${name}-${randomBytes(4).toString('hex')}`;
      const token = `${name}.${randomBytes(32).toString('base64url')}`;
      const { status, upstream, line } = await probe(`${requestPath}?resume=${token}&last=0`);
      expect(status).toBe(101);
      expect(upstream).toBe(address(name));
      expect(line).not.toContain(token);
    }
    // /metrics and /admin/ stay private to the gateways.
    expect((await fetch(`http://127.0.0.1:${nginxPort}/metrics`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${nginxPort}/admin/reload-shared`, { method: 'POST' })).status).toBe(404);
  });

  test('SIGTERM on one gateway: its sessions close with 1001 and roll back; the other is untouched; new sessions land on the survivor', async () => {
    const { a, b } = gateways;
    // 40 sessions through nginx at once, each with an uncommitted row.
    const sessions = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const client = await connect(proxyUrl(), { path: `/s${i}` });
        const hello = await client.next(15_000);
        const tag = `s${i}-${hello.session}`;
        const connectionId = await value(
          client,
          `await sql\`INSERT INTO ${table} (tag) VALUES (\${${JSON.stringify(tag)}})\`.execute(db);
           Number((await sql\`SELECT CONNECTION_ID() AS id\`.execute(db)).rows[0].id)`,
        );
        expect(connectionId).toEqual(expect.any(Number));
        return { client, hello, tag, connectionId: connectionId as number };
      }),
    );
    // Both gateways run the same shared state.
    expect(new Set(sessions.map((s) => (s.hello.shared as { version: string }).version)).size).toBe(1);

    // Where each one landed, from the gateways' own `session opened` log lines.
    const on = await eventually('every session logged as opened by one gateway', () => {
      const where = sessions.map((s) => placement(s.hello.session as string));
      if (where.includes(undefined)) throw new Error(`${where.filter((w) => !w).length} unplaced`);
      return { a: sessions.filter((_, i) => where[i] === 'a'), b: sessions.filter((_, i) => where[i] === 'b') };
    });
    expect(on.a.length).toBeGreaterThanOrEqual(10);
    expect(on.b.length).toBeGreaterThanOrEqual(10);
    expect(await metric(a.port, 'vmgate_sessions_open')).toBe(on.a.length);
    expect(await metric(b.port, 'vmgate_sessions_open')).toBe(on.b.length);
    const tagsOf = (list: typeof sessions) => list.map((s) => s.tag).sort();
    const uncommitted = async () => {
      const [rows] = await dirty.query(`SELECT tag FROM ${table}`);
      return (rows as Array<{ tag: string }>).map((r) => r.tag).sort();
    };
    const committed = async () => {
      const [rows] = await clean.query(`SELECT tag FROM ${table}`);
      return (rows as Array<{ tag: string }>).map((r) => r.tag).sort();
    };
    expect(await uncommitted()).toEqual(tagsOf(sessions));
    expect(await committed()).toEqual([]);

    // One of a's sessions is in the middle of an eval when the signal comes.
    const busy = on.a[0] as (typeof sessions)[number];
    busy.client.send({
      op: 'eval',
      id: 'long',
      code: 'await new Promise((r) => setTimeout(r, 30000))',
      timeoutMs: 40000,
    });
    await sleep(50);

    const stopping = Date.now();
    a.child.kill('SIGTERM');
    expect(await a.exited).toBe(0);
    expect(Date.now() - stopping).toBeLessThan(5_000);

    // a's sessions: closed cleanly with 1001, the running eval answered first.
    const closes = await Promise.all(on.a.map((s) => s.client.closed));
    for (const close of closes)
      expect(close).toEqual({ code: 1001, reason: expect.stringMatching(/^server shutting down/) });
    expect(busy.client.frames).toContainEqual(
      expect.objectContaining({ type: 'error', id: 'long', error: expect.objectContaining({ code: 'INTERRUPTED' }) }),
    );
    // ... and rolled back: their rows are gone, their connections too.
    expect(
      await eventually('a rows rolled back', async () => {
        const rows = await uncommitted();
        if (rows.length !== on.b.length) throw new Error(`${rows.length} rows`);
        return rows;
      }),
    ).toEqual(tagsOf(on.b));
    const [threads] = await clean.query('SELECT ID FROM information_schema.PROCESSLIST');
    const alive = new Set((threads as Array<{ ID: number | string }>).map((t) => Number(t.ID)));
    for (const s of on.a) expect(alive.has(s.connectionId)).toBe(false);
    for (const s of on.b) expect(alive.has(s.connectionId)).toBe(true);

    // b's sessions: still open, still answering, still in their own transaction
    // (same connection, their own uncommitted row visible to them alone).
    await Promise.all(
      on.b.map(async (s) => {
        expect(s.client.ws.readyState).toBe(s.client.ws.OPEN);
        const seen = await value(
          s.client,
          `[Number((await sql\`SELECT CONNECTION_ID() AS id\`.execute(db)).rows[0].id),
            (await sql\`SELECT tag FROM ${table}\`.execute(db)).rows.map((r) => r.tag)]`,
        );
        expect(seen).toEqual([s.connectionId, [s.tag]]);
      }),
    );
    expect(await metric(b.port, 'vmgate_sessions_open')).toBe(on.b.length);

    // New sessions through nginx: all on the survivor.
    const fresh: TestClient[] = [];
    for (let i = 0; i < 10; i++) {
      const client = await connect(proxyUrl(), { path: `/after-${i}` });
      const hello = await client.next(15_000);
      expect(
        await value(client, `Number((await sql\`SELECT COUNT(*) AS n FROM ${table}\`.execute(db)).rows[0].n)`),
      ).toBe(0);
      await eventually('new session placed', () => {
        if (!b.opened.has(hello.session as string)) throw new Error('not on b');
      });
      fresh.push(client);
    }
    expect(await metric(b.port, 'vmgate_sessions_open')).toBe(on.b.length + 10);
    // A resume for the stopped gateway reaches its backup, which can answer it (4404), not a 502.
    const resumed = await probe(`/resume-after-stop?resume=a.${randomBytes(32).toString('base64url')}&last=0`);
    expect(resumed).toMatchObject({ status: 101, upstream: `127.0.0.1:${b.port}` });

    // b's transactions were intact: committing them makes exactly their rows visible.
    for (const s of on.b) expect(await s.client.request({ op: 'commit' })).toMatchObject({ frame: { type: 'ok' } });
    expect(await committed()).toEqual(tagsOf(on.b));
    for (const client of [...on.b.map((s) => s.client), ...fresh]) client.ws.close(1000);
    await Promise.all([...on.b.map((s) => s.client.closed), ...fresh.map((c) => c.closed)]);
    await eventually('b has no sessions left', async () => {
      if ((await metric(b.port, 'vmgate_sessions_open')) !== 0) throw new Error('sessions still open');
    });
  }, 45_000);
});
