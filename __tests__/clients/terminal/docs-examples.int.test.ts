import { readFileSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { DEFAULT_DATABASE_OPTIONS } from '../../../db/pool';
import { type Gateway, startGateway } from '../../../gateway/server';
import { type CliRun, ROOT, runVmgate } from '../../helpers/cli';
import { testDatabaseUrl } from '../../helpers/database';

/**
 * The `vmgate connect` examples of docs/clients.md, run as written (the URL
 * swapped for a test gateway's) against the example shared state, so the
 * documentation cannot drift into examples that print `undefined` or fail.
 */

const DOC = readFileSync(path.join(ROOT, 'docs', 'clients.md'), 'utf8');
const DOC_URL = 'ws://127.0.0.1:8080';

function shellWord(word: string): string {
  if (word.startsWith("'") && word.endsWith("'")) return word.slice(1, -1);
  if (word.startsWith('"') && word.endsWith('"')) return word.slice(1, -1).replace(/\\(["\\$`])/g, '$1');
  throw new Error(`not a quoted shell word: ${word}`);
}

const oneShots = [...DOC.matchAll(/^vmgate connect ws:\/\/127\.0\.0\.1:8080 --eval ('[^']*'|"(?:[^"\\]|\\.)*")/gm)].map(
  (match) => shellWord(match[1] as string),
);
const piped = [...DOC.matchAll(/^echo ('[^']*') \| vmgate connect ws:\/\/127\.0\.0\.1:8080/gm)].map((match) =>
  shellWord(match[1] as string),
);

function run(args: string[], stdin = ''): Promise<CliRun> {
  return runVmgate(args, { env: { ...process.env, NO_COLOR: '1', VMGATE_TOKEN: '' }, stdin });
}

let gateway: Gateway;

beforeAll(async () => {
  gateway = await startGateway({
    port: 0,
    sharedFile: path.join(ROOT, 'examples', 'shared-state.mjs'),
    logger: pino({ level: 'silent' }),
    limits: { heartbeatMs: 0 },
    database: { mode: 'url', url: testDatabaseUrl(), ...DEFAULT_DATABASE_OPTIONS },
  });
}, 60_000);

afterAll(() => gateway?.close());

test('docs/clients.md has connect examples to check', () => {
  expect(oneShots.length).toBeGreaterThan(0);
  expect(piped.length).toBeGreaterThan(0);
  expect(DOC).toContain(DOC_URL);
});

test('every `vmgate connect --eval` example prints a value and exits 0', async () => {
  for (const code of oneShots) {
    const result = await run(['connect', gateway.url, '--eval', code]);
    expect({ code, exit: result.code, stderr: result.stderr }).toEqual({ code, exit: 0, stderr: '' });
    expect(result.stdout.trim()).not.toBe('undefined');
  }
}, 60_000);

test('every piped example runs without an error', async () => {
  for (const input of piped) {
    const result = await run(['connect', gateway.url], `${input}\n`);
    expect({ input, exit: result.code }).toEqual({ input, exit: 0 });
    // stderr has the banner; anything else there is an error or a warning.
    expect(result.stderr.replace(/^vmgate .* — \.help for help\n/, '')).toBe('');
    expect(result.stdout).not.toMatch(/Uncaught/);
  }
}, 60_000);
