import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import WebSocket from 'ws';

/**
 * `npm start` runs the compiled gateway (`dist/`, built by tsc), not the
 * TypeScript sources every other suite runs through swc. The two compilers
 * emit different CommonJS, so this suite builds `dist/` and drives the
 * compiled gateway, with its executors, through a real WebSocket: an eval, a
 * value rendered by the realm's inspector (its deferred bundle), a realm class,
 * the example shared state (its realm's scripts are read by the executors).
 */

const ROOT = path.resolve(__dirname, '..', '..');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
jest.setTimeout(300_000);

let gateway: ChildProcess | undefined;

afterAll(() => {
  gateway?.kill('SIGKILL');
});

/** The port from the gateway's `gateway listening` JSON log line. */
function listeningPort(child: ChildProcess, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`not listening within ${timeoutMs} ms:\n${output}`)), timeoutMs);
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const port = /"msg":"gateway listening"/.test(output) ? /"port":(\d+)/.exec(output)?.[1] : undefined;
      if (port) {
        clearTimeout(timer);
        resolve(Number(port));
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
  });
}

/** Sends each input as an eval, one after another; resolves with each reply's `text` (or error message). */
function evalAll(port: number, inputs: readonly string[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, ['vmgate.v1']);
    const texts: string[] = [];
    const timer = setTimeout(() => reject(new Error(`no replies within 60 s: ${JSON.stringify(texts)}`)), 60_000);
    const next = () => ws.send(JSON.stringify({ op: 'eval', id: texts.length + 1, code: inputs[texts.length] }));
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as { type: string; text?: string; error?: { message: string } };
      if (frame.type === 'hello') next();
      if (frame.type !== 'result' && frame.type !== 'error') return;
      texts.push(frame.type === 'result' ? String(frame.text) : `error: ${frame.error?.message}`);
      if (texts.length < inputs.length) return next();
      clearTimeout(timer);
      ws.close(1000);
      resolve(texts);
    });
    ws.on('error', reject);
  });
}

test('the compiled gateway answers evals through its executors', async () => {
  const build = spawnSync(process.execPath, [TSC, '-p', 'tsconfig.build.json'], { cwd: ROOT, encoding: 'utf8' });
  expect(build.stdout + build.stderr).toBe('');
  expect(build.status).toBe(0);

  gateway = spawn(
    process.execPath,
    [path.join(ROOT, 'dist', 'bin', 'vmgate.js'), 'serve', '--port', '0', '--no-database', '--executors', '2'],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const port = await listeningPort(gateway, 120_000);
  const texts = await evalAll(port, [
    '1 + 1',
    '({ a: [1, 2], b: new Map([["k", 1]]) })',
    'new URL("https://x.test/p?q=1").pathname',
    'typeof shared.convert',
  ]);
  expect(texts).toEqual(['2', "{ a: [ 1, 2 ], b: Map(1) { 'k' => 1 } }", "'/p'", "'function'"]);

  const exited = new Promise<number | null>((resolve) => gateway?.once('exit', (code) => resolve(code)));
  gateway.kill('SIGTERM');
  expect(await exited).toBe(0);
});
