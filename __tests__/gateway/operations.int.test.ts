import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { connect, startTestGateway, upgradeStatus } from '../helpers/gateway';

const ROOT = path.join(__dirname, '..', '..');
const CLI = ['-r', '@swc-node/register', path.join(ROOT, 'bin', 'vmgate.ts')];
const run = promisify(execFile);
const http = (url: string) => fetch(url.replace(/^ws/, 'http'));

/** The port a spawned `vmgate serve` listens on, read from its `gateway listening` log line. */
function listeningPort(child: ChildProcessWithoutNullStreams): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = /"port":(\d+)[^\n]*gateway listening/.exec(out);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`exited early with ${code}: ${out}`)));
  });
}

describe('operations', () => {
  test('/healthz, /readyz and /metrics', async () => {
    const gateway = await startTestGateway();
    expect((await http(`${gateway.url}/healthz`)).status).toBe(200);
    expect(await (await http(`${gateway.url}/readyz`)).json()).toMatchObject({ ready: true, sessions: 0 });
    const client = await connect(gateway);
    await client.next();
    await client.eval('1 + 1');
    await client.eval('null.x');
    const metrics = await (await http(`${gateway.url}/metrics`)).text();
    expect(metrics).toContain('vmgate_sessions_open 1');
    expect(metrics).toContain('vmgate_evals_total{outcome="ok"} 1');
    expect(metrics).toContain('vmgate_evals_total{outcome="UNCAUGHT"} 1');
    expect(metrics).toMatch(/vmgate_eval_duration_seconds_count \d/);
    expect(metrics).toMatch(/vmgate_frames_in_total \d/);
    expect(metrics).toContain('nodejs_eventloop_lag_seconds');
    expect(metrics).toContain('process_resident_memory_bytes');
    expect((await http(`${gateway.url}/nope`)).status).toBe(404);
  });

  test('the audit log records who ran what, never the code itself', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vmgate-audit-'));
    const file = path.join(dir, 'audit.jsonl');
    const gateway = await startTestGateway({ auditLog: file });
    const client = await connect(gateway);
    const hello = await client.next();
    await client.eval('"secret-code-" + 1');
    await gateway.close();
    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toEqual([
      expect.objectContaining({
        session: hello.session,
        user: null,
        address: '127.0.0.1',
        codeBytes: 18,
        outcome: 'ok',
        codeSha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      }),
    ]);
    expect(readFileSync(file, 'utf8')).not.toContain('secret-code');
  });

  test('shutdown answers running evals, closes sessions with 1001 and refuses new ones', async () => {
    const gateway = await startTestGateway();
    const client = await connect(gateway);
    await client.next();
    client.send({ op: 'eval', id: 'long', code: 'await new Promise((r) => setTimeout(r, 10000))', timeoutMs: 20000 });
    await new Promise((r) => setTimeout(r, 50));
    const closing = gateway.close();
    expect((await client.until('error', 'long')).frame).toMatchObject({
      error: { code: 'INTERRUPTED', message: 'session closed: server shutting down' },
    });
    expect(await client.closed).toEqual({ code: 1001, reason: 'server shutting down' });
    await closing;
    await expect(upgradeStatus(gateway.url)).rejects.toThrow();
  });

  test('shared state: the same object in every session, reloaded for new sessions only', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vmgate-shared-'));
    const file = path.join(dir, 'state.json');
    writeFileSync(file, JSON.stringify({ greeting: 'v1', list: [1, 2] }));
    const gateway = await startTestGateway({ sharedFile: file });
    const a = await connect(gateway);
    const helloA = await a.next();
    expect(helloA.shared).toEqual({ version: expect.any(String) });
    expect(await a.eval('shared.greeting')).toMatchObject({ value: 'v1' });
    expect(await a.eval('"use strict"; try { shared.greeting = "x" } catch (e) { e.constructor.name }')).toMatchObject({
      value: 'TypeError',
    });
    writeFileSync(file, JSON.stringify({ greeting: 'v2' }));
    const version = gateway.reloadShared();
    expect(version).not.toBe((helloA.shared as { version: string }).version);
    const b = await connect(gateway);
    expect(await b.next()).toMatchObject({ shared: { version } });
    expect(await b.eval('shared.greeting')).toMatchObject({ value: 'v2' });
    expect(await a.eval('shared.greeting')).toMatchObject({ value: 'v1' });
    // The same through the HTTP API.
    writeFileSync(file, JSON.stringify({ greeting: 'v3' }));
    const reloaded = await fetch(`${gateway.url.replace(/^ws/, 'http')}/admin/reload-shared`, { method: 'POST' });
    expect(reloaded.status).toBe(200);
    const { version: v3 } = (await reloaded.json()) as { version: string };
    const c = await connect(gateway);
    expect(await c.next()).toMatchObject({ shared: { version: v3 } });
    expect(await c.eval('shared.greeting')).toMatchObject({ value: 'v3' });
    writeFileSync(file, '{ not json');
    expect((await fetch(`${gateway.url.replace(/^ws/, 'http')}/admin/reload-shared`, { method: 'POST' })).status).toBe(
      422,
    );
    expect(await c.eval('shared.greeting')).toMatchObject({ value: 'v3' });
  });
});

describe('the vmgate command', () => {
  test('--help lists the flags', async () => {
    const { stdout } = await run(process.execPath, [...CLI, 'serve', '--help'], { cwd: ROOT });
    for (const flag of [
      '--port',
      '--host',
      '--shared',
      '--insecure',
      '--token-file',
      '--allow-origin',
      '--audit-log',
      '--config',
    ]) {
      expect(stdout).toContain(flag);
    }
  });

  test.each([
    ['a bad flag', ['serve', '--port', 'abc'], /--port must be a non-negative integer/],
    ['an unreadable shared state file', ['serve', '--port', '0', '--shared', '/nonexistent/state.json'], /state\.json/],
    ['a bad config file', ['serve', '--port', '0', '--config', '/nonexistent/config.json'], /cannot read config file/],
    [
      'an insecure bind',
      ['serve', '--port', '0', '--host', '0.0.0.0', '--no-shared'],
      /refusing to listen on 0\.0\.0\.0/,
    ],
  ])('%s: one clear line and a non-zero exit', async (_name, args, message) => {
    const result = await run(process.execPath, [...CLI, ...args], { cwd: ROOT }).catch((e) => e);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(message);
    expect(
      result.stderr
        .trim()
        .split('\n')
        .filter((l: string) => l.startsWith('vmgate:')),
    ).toHaveLength(1);
  });

  test('a config file fills in what flags and environment do not set', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vmgate-config-'));
    const config = path.join(dir, 'config.json');
    writeFileSync(
      config,
      JSON.stringify({ maxSessions: 1, shared: false, database: false, logLevel: 'warn', port: 1 }),
    );
    const child = spawn(process.execPath, [...CLI, 'serve', '--config', config, '--port', '0', '--log-level', 'info'], {
      cwd: ROOT,
    });
    try {
      const port = await listeningPort(child);
      const first = await connect(`ws://127.0.0.1:${port}`, { json: true });
      expect(await first.next()).toMatchObject({ shared: null });
      expect(await upgradeStatus(`ws://127.0.0.1:${port}`)).toBe(503);
    } finally {
      child.kill('SIGKILL');
    }
    writeFileSync(config, JSON.stringify({ noSuchOption: 1 }));
    const bad = await run(process.execPath, [...CLI, 'serve', '--config', config], { cwd: ROOT }).catch((e) => e);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('unknown option "noSuchOption"');
  }, 30_000);

  test('refuses to start when async_hooks promise tracking is on', async () => {
    const script = `require('@swc-node/register'); require('node:async_hooks').createHook({ init() {} }).enable();
      require('./gateway/server').startGateway({ port: 0, logLevel: 'silent' }).then(
        () => { console.log('started'); process.exit(0) },
        (e) => { console.log(e.code); process.exit(0) });`;
    const { stdout } = await run(process.execPath, ['-e', script], { cwd: ROOT });
    expect(stdout.trim()).toBe('ASYNC_HOOKS');
  });

  test('a port in use: one clear line and a non-zero exit', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const result = await run(process.execPath, [...CLI, 'serve', '--port', String(port), '--no-shared'], {
        cwd: ROOT,
      }).catch((e) => e);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`vmgate: port ${port} on 127.0.0.1 is already in use`);
      // Found before the database and the executors start: none of their log lines.
      expect(result.stdout).not.toMatch(/database|executor/);
    } finally {
      blocker.close();
    }
  });

  test('serves with defaults, answers /healthz, and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, [...CLI, 'serve', '--port', '0', '--log-level', 'info'], { cwd: ROOT });
    try {
      const port = await listeningPort(child);
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      const client = await connect(`ws://127.0.0.1:${port}`, { json: false });
      expect(await client.next()).toMatch(/shared state [0-9a-f]{16}/);
      expect(await client.line('typeof shared')).toBe("'object'");
      // The embedded default database, with nothing configured.
      expect(await client.line('(await sql`SELECT 6 * 7 AS answer`.execute(db)).rows')).toBe('[ { answer: 42 } ]');
      // A realm's unhandled rejection is the realm's business, not the process's.
      expect(await client.line('Promise.reject(new Error("unhandled")); 1')).toBe('1');
      await new Promise((r) => setTimeout(r, 50));
      expect(await client.line('2')).toBe('2');
      const exited = new Promise<number | null>((r) => child.once('exit', r));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect((await client.closed).code).toBe(1001);
    } finally {
      child.kill('SIGKILL');
    }
  }, 60_000);
});
