import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { type IPty, spawn as spawnPty } from 'node-pty';
import pino from 'pino';
import WebSocket, { WebSocketServer } from 'ws';
import { DEFAULT_DATABASE_OPTIONS } from '../../../db/pool';
import { type Gateway, type StartOptions, startGateway } from '../../../gateway/server';
import { type CliRun, killCliProcesses, runVmgate } from '../../helpers/cli';
import { testDatabaseUrl } from '../../helpers/database';

/**
 * `vmgate connect`, the real command, driven through a pseudo-terminal
 * (node-pty) against a real gateway. Every command pays Node's and the
 * TypeScript loader's start-up, so all of them start together in beforeAll
 * and each test then drives its own terminal. (The gateways are started
 * here rather than with startTestGateway, whose afterEach would close them
 * after the first test.)
 */

const ROOT = path.resolve(__dirname, '..', '..', '..');
const ESC = String.fromCharCode(27);
const ANSI = new RegExp(
  `${ESC}\\[[0-9;?]*[A-Za-z]|${ESC}\\][^${String.fromCharCode(7)}]*${String.fromCharCode(7)}`,
  'g',
);
const SGR = new RegExp(`${ESC}\\[[0-9;]*m`);
const CTRL_C = String.fromCharCode(3);
const CTRL_D = String.fromCharCode(4);
const UP = `${ESC}[A`;
const TAB = '\t';
const STEP_TIMEOUT_MS = 15_000;
/** The commands start together; on a busy 2-core machine the last one may need this long. */
const START_TIMEOUT_MS = 45_000;

jest.setTimeout(60_000);

function cliEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !/^(NO_COLOR|FORCE_COLOR|VMGATE_TOKEN|VMGATE_HISTORY)$/.test(key)) env[key] = value;
  }
  return { ...env, TERM: 'xterm-256color', HOME: tmp, ...extra };
}

/** The command in a pseudo-terminal: what it printed, raw and without escape sequences. */
class Terminal {
  readonly pty: IPty;
  raw = '';
  readonly exited: Promise<number>;
  #cursor = 0;
  #wake: Array<() => void> = [];

  constructor(args: string[], env: Record<string, string> = {}) {
    this.pty = spawnPty(process.execPath, ['-r', '@swc-node/register', path.join(ROOT, 'bin', 'vmgate.ts'), ...args], {
      cwd: ROOT,
      cols: 120,
      rows: 30,
      env: cliEnv(env),
    });
    terminals.add(this);
    this.pty.onData((data) => {
      this.raw += data;
      for (const wake of this.#wake.splice(0)) wake();
    });
    this.exited = new Promise((resolve) => {
      this.pty.onExit(({ exitCode }) => {
        terminals.delete(this);
        for (const wake of this.#wake.splice(0)) wake();
        resolve(exitCode);
      });
    });
  }

  get text(): string {
    return this.raw.replace(ANSI, '').replace(/\r/g, '');
  }

  /** Waits until `pattern` appears after what earlier waits consumed; returns the text up to its end. */
  async waitFor(pattern: string | RegExp, timeoutMs = STEP_TIMEOUT_MS): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = this.text;
      const rest = text.slice(this.#cursor);
      const match = typeof pattern === 'string' ? rest.indexOf(pattern) : rest.search(pattern);
      if (match >= 0) {
        const length =
          typeof pattern === 'string' ? pattern.length : (rest.slice(match).match(pattern)?.[0].length ?? 0);
        const seen = rest.slice(0, match + length);
        this.#cursor += match + length;
        return seen;
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new Error(`timed out waiting for ${String(pattern)}; the terminal shows:\n${text.slice(-2000)}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(remaining, 250));
        this.#wake.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The prompt `> `, last on the screen, after what was consumed. */
  prompt(): Promise<string> {
    return this.waitFor(/> $/);
  }

  type(text: string): void {
    this.pty.write(text);
  }

  /** Types a line and waits for its echo. */
  async enter(line: string): Promise<void> {
    this.pty.write(`${line}\r`);
    await this.waitFor(line);
  }
}

/** The command with pipes (not a terminal). */
function runPiped(args: string[], env: Record<string, string> = {}, stdin = ''): Promise<CliRun> {
  return runVmgate(args, { env: cliEnv(env), stdin });
}

/**
 * A TCP pass-through whose connections a test can cut (a dropped network),
 * refusing new ones for a while after (the network stays down).
 */
function dropProxy(
  target: number,
): Promise<{ url: string; drop: (downMs: number) => void; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let downUntil = 0;
  const server = net.createServer((socket) => {
    if (Date.now() < downUntil) {
      socket.destroy();
      return;
    }
    const upstream = net.connect(target, '127.0.0.1');
    for (const s of [socket, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        sockets.delete(s);
        socket.destroy();
        upstream.destroy();
      });
    }
    socket.pipe(upstream).pipe(socket);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({
        url: `ws://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
        drop: (downMs) => {
          downUntil = Date.now() + downMs;
          for (const s of sockets) s.destroy();
        },
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

/**
 * A stand-in gateway that misbehaves on purpose: it drops the socket on
 * `drop()`, accepts the first resume without ever answering the request lost
 * in the drop, and refuses the second one with 4404.
 */
function fakeGateway(): Promise<{ url: string; close: () => Promise<void> }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: () => 'vmgate.v1' });
  let sessions = 0;
  let resumes = 0;
  wss.on('connection', (ws, request) => {
    const query = new URL(request.url ?? '/', 'http://localhost').searchParams;
    let seq = 0;
    let session: string;
    if (query.has('resume')) {
      resumes++;
      if (resumes > 1) {
        ws.close(4404, 'no such session');
        return;
      }
      session = `fake-session-${sessions}`;
      seq = Number(query.get('last'));
      ws.send(JSON.stringify({ type: 'resumed', session, seq, replayed: 0 }));
    } else {
      session = `fake-session-${++sessions}`;
      ws.send(
        JSON.stringify({
          seq: 0,
          type: 'hello',
          session,
          protocol: 'vmgate.v1',
          server: { name: 'vmgate', version: 'fake' },
          limits: {},
          shared: null,
          user: null,
          resume: { token: 'x'.repeat(43), graceMs: 5000 },
        }),
      );
    }
    ws.on('message', (data) => {
      const op = JSON.parse(String(data)) as { op: string; id: number; code?: string };
      if (op.op === 'eval' && op.code === 'drop()') {
        ws.terminate();
        return;
      }
      const stats = { ms: 1, cpuMs: 1, dbMs: 0, queries: 0 };
      const frame =
        op.op === 'eval'
          ? { type: 'result', id: op.id, value: session, text: `'${session}'`, stats }
          : { type: 'ok', id: op.id };
      ws.send(JSON.stringify({ seq: ++seq, ...frame }));
    });
  });
  return new Promise((resolve) => {
    wss.on('listening', () => {
      resolve({
        url: `ws://127.0.0.1:${(wss.address() as net.AddressInfo).port}`,
        close: () =>
          new Promise<void>((done) => {
            for (const client of wss.clients) client.terminate();
            wss.close(() => done());
          }),
      });
    });
  });
}

/** Whether the gateway offers resuming (hello.resume), asked directly. */
function helloOf(url: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['vmgate.v1']);
    ws.once('message', (data) => {
      resolve(JSON.parse(String(data)) as Record<string, unknown>);
      ws.close(1000);
    });
    ws.once('error', reject);
  });
}

const terminals = new Set<Terminal>();
let tmp: string;
let gateway: Gateway;
let guarded: Gateway;
let proxy: Awaited<ReturnType<typeof dropProxy>>;
let fake: Awaited<ReturnType<typeof fakeGateway>>;
let main: Terminal;
let again: Terminal;
let resuming: Terminal;
let losing: Terminal;
let hostile: Terminal;
let completing: Terminal;
let oneShot: Promise<CliRun[]>;
let mainHistory: string;
let resumeSupported: boolean;

const quiet: StartOptions = { port: 0, sharedFile: undefined, logger: pino({ level: 'silent' }) };

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'vmgate-terminal-'));
  [gateway, guarded, fake] = await Promise.all([
    startGateway({
      ...quiet,
      limits: { heartbeatMs: 0 },
      database: { mode: 'url', url: testDatabaseUrl(), ...DEFAULT_DATABASE_OPTIONS },
    }),
    startGateway({ ...quiet, limits: { heartbeatMs: 0 }, auth: { tokens: ['s3cret'] } }),
    fakeGateway(),
  ]);
  proxy = await dropProxy(gateway.port);
  resumeSupported = Boolean((await helloOf(gateway.url)).resume);

  mainHistory = path.join(tmp, 'main-history');
  const againHistory = path.join(tmp, 'again-history');
  writeFileSync(againHistory, 'let older = 1\n40 + 2\n');
  main = new Terminal(['connect', gateway.url, '--history', mainHistory]);
  again = new Terminal(['connect', gateway.url], { NO_COLOR: '1', VMGATE_HISTORY: againHistory });
  resuming = new Terminal(['connect', proxy.url, '--no-history']);
  losing = new Terminal(['connect', fake.url, '--no-history']);
  hostile = new Terminal(['connect', gateway.url, '--no-history']);
  completing = new Terminal(['connect', gateway.url, '--no-history']);
  oneShot = Promise.all([
    runPiped(['connect', guarded.url, '--eval', '[6 * 7, "x"]'], { VMGATE_TOKEN: 's3cret' }),
    runPiped(['connect', guarded.url, '--token', 's3cret', '-e', 'console.log("to stdout"); null.x']),
    runPiped(['connect', guarded.url, '--eval', '1 + 1']),
    runPiped(
      ['connect', gateway.url, '--no-history'],
      {},
      'let p = 20\np + 1\nfunction q() {\n  return p * 2\n}\nq()\n',
    ),
    runPiped([
      'connect',
      gateway.url,
      '--eval',
      'console.log("\\u001b]52;c;cHduZWQ=\\u0007copied"); throw new Error("\\u001b[2Kerased")',
    ]),
  ]);
}, 60_000);

afterAll(async () => {
  for (const terminal of terminals) terminal.pty.kill('SIGKILL');
  killCliProcesses();
  await Promise.allSettled([gateway?.close(), guarded?.close(), proxy?.close(), fake?.close()]);
  rmSync(tmp, { recursive: true, force: true });
});

describe('vmgate connect in a terminal', () => {
  test('a session: results, continuation, colors, Ctrl+C interrupts, commands, history, .exit', async () => {
    const t = main;
    expect(await t.waitFor(/session [0-9a-f-]{36}/, START_TIMEOUT_MS)).toContain('vmgate 0.1.0');
    await t.prompt();
    await t.enter('let a = 6');
    await t.waitFor('undefined');
    await t.prompt();
    await t.enter('a * 7');
    await t.waitFor('42');
    // Colors like the Node REPL's: a number is yellow; the hello line is dim.
    expect(t.raw).toContain(`${ESC}[33m42${ESC}[0m`);
    expect(t.raw).toMatch(new RegExp(`${ESC}\\[2mvmgate 0\\.1\\.0 · session`));

    // An incomplete input continues with '... '; a real syntax error does not.
    await t.prompt();
    await t.enter('function twice(x) {');
    await t.waitFor('... ');
    await t.enter('  return x * 2');
    await t.waitFor('... ');
    await t.enter('}');
    await t.waitFor('undefined');
    await t.prompt();
    await t.enter('twice(a)');
    await t.waitFor('12');
    await t.prompt();
    await t.enter('let = =');
    await t.waitFor('SyntaxError');
    // The line and V8's underline above the message, as the Node REPL prints it.
    expect(t.raw).toContain(`${ESC}[31m      ^${ESC}[0m`);
    expect(t.raw).toMatch(new RegExp(`${ESC}\\[31mUncaught SyntaxError: Unexpected token '='`));
    await t.prompt();
    await t.enter('console.warn("careful"); null.x');
    await t.waitFor("Cannot read properties of null (reading 'x')");
    expect(t.raw).toContain(`${ESC}[33mcareful${ESC}[0m`);

    // Ctrl+C interrupts the running eval; the session goes on.
    await t.prompt();
    await t.enter('await new Promise(r => setTimeout(r, 60000))');
    await new Promise((resolve) => setTimeout(resolve, 300));
    t.type(CTRL_C);
    await t.waitFor('Error [INTERRUPTED]');
    await t.prompt();
    await t.enter('a + 1');
    await t.waitFor('7');

    // Database commands and the last eval's stats.
    await t.prompt();
    await t.enter('(await sql`SELECT 1 AS one`.execute(db)).rows[0].one');
    await t.waitFor('1');
    await t.prompt();
    await t.enter('.commit');
    await t.waitFor('ok');
    await t.prompt();
    await t.enter('.stats');
    await t.waitFor(/ms total, .* ms JavaScript, .* ms database \(1 query\)/);
    await t.prompt();
    await t.enter('.help');
    await t.waitFor('.rollback');
    await t.prompt();
    await t.enter('.exit');
    expect(await t.exited).toBe(0);

    const history = readFileSync(mainHistory, 'utf8').split('\n');
    expect(history).toEqual(
      expect.arrayContaining(['let a = 6', 'a * 7', 'function twice(x) {', '  return x * 2', '.commit', '.exit']),
    );
    expect(history.indexOf('let a = 6')).toBeLessThan(history.indexOf('a * 7')); // oldest first
  });

  test('Tab completes like the Node REPL: one candidate is inserted, several are listed', async () => {
    const t = completing;
    await t.waitFor(/session [0-9a-f-]{36}/, START_TIMEOUT_MS);
    await t.prompt();
    await t.enter('let alphabet = { first: 1, second: 2 }');
    await t.waitFor('undefined');
    await t.prompt();
    t.type(`alph${TAB}`);
    await t.waitFor('alphabet');
    t.type(`.fi${TAB}`);
    await t.waitFor('.first');
    t.type('\r');
    await t.waitFor(/\n1\n/);
    await t.prompt();
    // Two candidates: the common prefix stays, a second Tab lists them (readline's behaviour).
    t.type(`alphabet.s${TAB}`);
    await t.waitFor('alphabet.second');
    t.type(' + Math.m');
    await t.waitFor('Math.m');
    // Separate writes: readline takes a Tab inside a longer chunk as pasted text, not as a key.
    t.type(TAB);
    await new Promise((resolve) => setTimeout(resolve, 200));
    t.type(TAB);
    await t.waitFor(/max\s+min/);
    t.type('ax(1, 2)\r');
    await t.waitFor(/\n4\n/);
    // Inside a multi-line entry the earlier lines count.
    await t.prompt();
    await t.enter('function f() {');
    await t.waitFor('... ');
    t.type(`  const localName = alphabet.fir${TAB}`);
    await t.waitFor('alphabet.first');
    t.type('\r}\r');
    await t.waitFor('undefined');
    await t.prompt();
    await t.enter('.exit');
    expect(await t.exited).toBe(0);
  });

  test('history from VMGATE_HISTORY, NO_COLOR, Ctrl+C clears the line, twice in a row exits', async () => {
    const t = again;
    await t.waitFor(/session [0-9a-f-]{36}/, START_TIMEOUT_MS);
    await t.prompt();
    t.type(UP); // the newest entry of the file
    await t.waitFor('40 + 2');
    t.type('\r');
    await t.waitFor('42');
    await t.prompt();
    t.type('half typed');
    await t.waitFor('half typed');
    t.type(CTRL_C); // clears the line, does not exit
    await t.prompt();
    await t.enter('2 ** 10');
    await t.waitFor('1024');
    await t.prompt();
    t.type(CTRL_C);
    await t.waitFor('(To exit, press Ctrl+C again or Ctrl+D or type .exit)');
    t.type(CTRL_C);
    expect(await t.exited).toBe(0);
    expect(t.raw).not.toMatch(SGR);
  });

  test('--eval with a token (flag or VMGATE_TOKEN), a refused token, piped input: no colors, exit codes', async () => {
    const [ok, failed, withoutToken, piped, escaped] = await oneShot;
    expect(ok).toMatchObject({ code: 0, stdout: "[ 42, 'x' ]\n", stderr: '' });
    expect(failed).toMatchObject({ code: 1, stdout: 'to stdout\n' });
    expect(failed.stderr).toContain("Uncaught TypeError: Cannot read properties of null (reading 'x')");
    expect(failed.stdout + failed.stderr).not.toMatch(SGR);
    expect(withoutToken.code).toBe(1);
    expect(withoutToken.stderr).toContain('HTTP 401');
    expect(piped.code).toBe(0);
    expect(piped.stdout).toBe('undefined\n21\nundefined\n40\n');
    expect(piped.stderr).toMatch(/session [0-9a-f-]{36}/);
    // A session's text reaches stdout and stderr with its control characters escaped.
    expect(escaped?.code).toBe(1);
    expect(escaped?.stdout).toBe('\\x1B]52;c;cHduZWQ=\\x07copied\n');
    expect(escaped?.stderr).toContain('\\x1B[2Kerased');
    expect(`${escaped?.stdout}${escaped?.stderr}`).not.toContain(ESC);
  });

  test('control characters from a session are shown escaped: logs, warnings, errors, tables', async () => {
    const t = hostile;
    await t.waitFor(/session [0-9a-f-]{36}/, START_TIMEOUT_MS);
    await t.prompt();
    // Typed as JavaScript escapes; the session turns them into real control characters.
    await t.enter('console.log("\\u001b]0;pwned\\u0007title"); console.warn("\\u009b2Jwarned")');
    await t.waitFor('\\x9B2Jwarned');
    await t.prompt();
    await t.enter('console.table([{ ["\\u001b]52;c;eA==\\u0007col"]: "\\u001b[31mred" }])');
    await t.waitFor('col');
    await t.prompt();
    await t.enter('throw new Error("\\u001b[1Aup\\rback")');
    await t.waitFor('\\x1B[1Aup\\x0Dback');
    await t.prompt();
    await t.enter('"\\u001b]0;result"');
    await t.waitFor("'\\x1B]0;result'");
    await t.prompt();
    const shown = t.text;
    expect(shown).toContain('\\x1B]0;pwned\\x07title');
    expect(shown).toContain('\\x1B]52;c;eA==\\x07col');
    // No operating system command and no one-byte CSI reached the terminal.
    expect(t.raw).not.toContain(`${ESC}]`);
    expect(t.raw).not.toContain('\u009b');
    expect(t.raw).not.toContain(`${ESC}[1A`);
    await t.enter('.exit');
    expect(await t.exited).toBe(0);
  });

  test('a dropped connection resumes the same session; missed frames arrive exactly once', async () => {
    const t = resuming;
    await t.waitFor(/session [0-9a-f-]{36}/, START_TIMEOUT_MS);
    if (!resumeSupported) {
      console.warn('skipped: the gateway does not offer resuming yet (hello.resume is absent)');
      t.pty.kill();
      return;
    }
    await t.prompt();
    await t.enter('let n = 1');
    await t.waitFor('undefined');
    await t.prompt();
    await t.enter('await new Promise(r => setTimeout(r, 500)); console.log("while" + " away"); n + 41');
    await new Promise((resolve) => setTimeout(resolve, 200));
    // Mid-eval, and the network stays down for a while: the eval finishes
    // while the session is detached, and its frames come in the replay.
    proxy.drop(1500);
    await t.waitFor('connection lost; reconnecting');
    await t.waitFor('reconnected: session resumed; 2 frames sent meanwhile replayed');
    await t.waitFor('while away');
    await t.waitFor('42');
    await t.prompt();
    await t.enter('n + 100');
    await t.waitFor('101');
    expect(t.text.split('while away').length - 1).toBe(1);
    // A second drop: the token from the first resume is the one that works now.
    await t.prompt();
    proxy.drop(300);
    await t.waitFor('connection lost; reconnecting');
    await t.waitFor('reconnected: session resumed');
    await t.prompt();
    await t.enter('n + 200');
    await t.waitFor('201');
    await t.prompt();
    await t.enter('.exit');
    expect(await t.exited).toBe(0);
  });

  test('a request lost in a drop can be given up with Ctrl+C; a refused resume offers a new session; Ctrl+D exits', async () => {
    const t = losing;
    await t.waitFor('session fake-session-1', START_TIMEOUT_MS);
    await t.prompt();
    await t.enter('drop()'); // the fake gateway drops the socket and never answers
    await t.waitFor('reconnected: session resumed');
    await t.waitFor('press Ctrl+C');
    t.type(CTRL_C);
    await t.waitFor('no answer: the request was lost with the dropped connection');
    await t.prompt();
    await t.enter('drop()'); // this time the resume is refused with 4404
    await t.waitFor('The session was lost: no such session');
    await t.waitFor('Start a new session? (Y/n)');
    t.type('\r');
    await t.waitFor('session fake-session-2');
    await t.prompt();
    await t.enter('whoami');
    await t.waitFor("'fake-session-2'");
    await t.prompt();
    t.type(CTRL_D);
    expect(await t.exited).toBe(0);
  });
});
