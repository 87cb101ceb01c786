import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { type StartOptions, startGateway } from '../../gateway/server';

/**
 * Authentication fails closed: a configuration that names a credential
 * source but yields nothing usable refuses to start, with a stable code,
 * rather than starting a gateway that asks for nothing.
 */

const ROOT = path.join(__dirname, '..', '..');
const CLI = ['-r', '@swc-node/register', path.join(ROOT, 'bin', 'vmgate.ts')];
const run = promisify(execFile);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'vmgate-auth-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const file = (name: string, text: string) => {
  const target = path.join(dir, name);
  writeFileSync(target, text);
  return target;
};

const quiet: StartOptions = { port: 0, sharedFile: undefined, logger: pino({ level: 'silent' }) };

describe('startup refusals', () => {
  test.each<[string, () => StartOptions['auth'] | Partial<StartOptions>, string]>([
    ['an empty token list', () => ({ tokens: [] }), 'NO_TOKENS'],
    ['a token list of blanks and comments', () => ({ tokens: ['', '  ', '# old'] }), 'NO_TOKENS'],
    ['a token file of blank and # lines', () => ({ tokenFile: file('blank', '\n# rotated out\n   \n') }), 'NO_TOKENS'],
    ['an empty token file', () => ({ tokenFile: file('empty', '') }), 'NO_TOKENS'],
    ['a missing token file', () => ({ tokenFile: path.join(dir, 'absent') }), 'TOKEN_FILE_UNREADABLE'],
    ['a token with a space', () => ({ tokens: ['two words'] }), 'BAD_TOKEN'],
    ['a JWT issuer without a key', () => ({ jwt: { issuer: 'tests' } }), 'JWT_NO_KEY'],
    ['an empty JWT secret', () => ({ jwt: { secret: '' } }), 'JWT_NO_KEY'],
    ['a short HS256 secret', () => ({ jwt: { secret: 's3cr3t' } }), 'JWT_WEAK_SECRET'],
    ['a 31-byte HS256 secret', () => ({ jwt: { secret: 'x'.repeat(31) } }), 'JWT_WEAK_SECRET'],
    ['two JWT keys', () => ({ jwt: { secret: 'x'.repeat(32), jwks: '{"keys":[]}' } }), 'JWT_KEY_CONFLICT'],
    ['a JWKS that is not JSON', () => ({ jwt: { jwks: 'not json' } }), 'JWT_BAD_KEY'],
  ])('%s: %s', async (_name, auth, code) => {
    await expect(startGateway({ ...quiet, auth: auth() as StartOptions['auth'] })).rejects.toMatchObject({
      name: 'GatewayStartError',
      code,
    });
  });

  test('a bad --trust-proxy entry', async () => {
    await expect(startGateway({ ...quiet, trustProxy: ['10.0.0.0/33'] })).rejects.toMatchObject({
      code: 'BAD_TRUST_PROXY',
    });
    await expect(startGateway({ ...quiet, trustProxy: ['proxy.example'] })).rejects.toMatchObject({
      code: 'BAD_TRUST_PROXY',
    });
  });

  test('a 32-byte secret and a token file with one token start', async () => {
    const gateway = await startGateway({
      ...quiet,
      auth: { tokenFile: file('one', '# comment\n\n  tok-1  \n'), jwt: { secret: 'y'.repeat(32) } },
    });
    await gateway.close();
  });

  test('the command: one line naming the code, exit 1 (empty file, empty environment variable, key-less JWT option)', async () => {
    const empty = file('cli-empty', '# nothing here\n');
    const attempt = (args: string[], env: Record<string, string> = {}) =>
      run(process.execPath, [...CLI, 'serve', '--port', '0', '--no-shared', '--no-database', ...args], {
        cwd: ROOT,
        env: { ...process.env, ...env },
        timeout: 30_000,
      }).then(
        () => ({ code: 0, stderr: 'started' }),
        (error: { code: number; stderr: string }) => error,
      );
    const [fromFile, fromEnv, jwtOnly] = await Promise.all([
      attempt(['--token-file', empty]),
      attempt([], { VMGATE_TOKENS: '' }),
      attempt(['--jwt-audience', 'console']),
    ]);
    for (const [result, code] of [
      [fromFile, 'NO_TOKENS'],
      [fromEnv, 'NO_TOKENS'],
      [jwtOnly, 'JWT_NO_KEY'],
    ] as const) {
      expect(result.code).toBe(1);
      const lines = result.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^vmgate: .*\\[${code}\\]$`));
    }
  }, 60_000);
});
