import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { type StartOptions, startGateway } from '../../gateway/server';
import { startTestGateway, upgradeStatus } from '../helpers/gateway';

/**
 * Authentication fails closed: a configuration that names a credential
 * source but yields nothing usable refuses to start, with a stable code,
 * rather than starting a gateway that asks for nothing; a re-read of the
 * token file that yields nothing keeps the tokens in use.
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
  test.each<[string, string, () => StartOptions['auth']]>([
    ['an empty token list', 'NO_TOKENS', () => ({ tokens: [] })],
    ['a token list of blanks and comments', 'NO_TOKENS', () => ({ tokens: ['', '  ', '# old'] })],
    ['a token file of blank and # lines', 'NO_TOKENS', () => ({ tokenFile: file('blank', '\n# rotated out\n   \n') })],
    ['an empty token file', 'NO_TOKENS', () => ({ tokenFile: file('empty', '') })],
    ['a missing token file', 'TOKEN_FILE_UNREADABLE', () => ({ tokenFile: path.join(dir, 'absent') })],
    ['a token with a space', 'BAD_TOKEN', () => ({ tokens: ['two words'] })],
    ['a JWT issuer without a key', 'JWT_NO_KEY', () => ({ jwt: { issuer: 'tests' } })],
    ['an empty JWT secret', 'JWT_NO_KEY', () => ({ jwt: { secret: '' } })],
    ['a short HS256 secret', 'JWT_WEAK_SECRET', () => ({ jwt: { secret: 's3cr3t' } })],
    ['a 31-byte HS256 secret', 'JWT_WEAK_SECRET', () => ({ jwt: { secret: 'x'.repeat(31) } })],
    ['two JWT keys', 'JWT_KEY_CONFLICT', () => ({ jwt: { secret: 'x'.repeat(32), jwks: '{"keys":[]}' } })],
    ['a JWKS that is not JSON', 'JWT_BAD_KEY', () => ({ jwt: { jwks: 'not json' } })],
  ])('%s: %s', async (_name, code, auth) => {
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

describe('re-reading the token file', () => {
  const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

  test('new tokens replace old ones; an emptied or missing file is refused and the tokens in use stay', async () => {
    const tokenFile = file('rotating', 'first-token\n');
    const gateway = await startTestGateway({ auth: { tokenFile } });
    expect(await upgradeStatus(gateway.url, bearer('first-token'))).toBe(101);
    writeFileSync(tokenFile, '# rotated\nsecond-token\nthird-token\n');
    expect(gateway.reloadTokens()).toBe(2);
    expect(await upgradeStatus(gateway.url, bearer('first-token'))).toBe(401);
    expect(await upgradeStatus(gateway.url, bearer('third-token'))).toBe(101);
    writeFileSync(tokenFile, ''); // a rotation script that truncated the file
    expect(() => gateway.reloadTokens()).toThrow(expect.objectContaining({ code: 'NO_TOKENS' }));
    rmSync(tokenFile);
    expect(() => gateway.reloadTokens()).toThrow(expect.objectContaining({ code: 'TOKEN_FILE_UNREADABLE' }));
    expect(await upgradeStatus(gateway.url)).toBe(401);
    expect(await upgradeStatus(gateway.url, bearer('second-token'))).toBe(101);
  });

  test('SIGHUP with an emptied token file: the command says so and still requires the old token', async () => {
    const tokenFile = file('hup', 'hup-token\n');
    const child = spawn(
      process.execPath,
      [...CLI, 'serve', '--port', '0', '--no-shared', '--no-database', '--token-file', tokenFile],
      { cwd: ROOT },
    );
    try {
      let out = '';
      let err = '';
      child.stderr.on('data', (chunk) => {
        err += chunk;
      });
      const port = await new Promise<number>((resolve, reject) => {
        child.stdout.on('data', (chunk) => {
          out += chunk;
          const match = /"port":(\d+)[^\n]*gateway listening/.exec(out);
          if (match) resolve(Number(match[1]));
        });
        child.once('exit', (code) => reject(new Error(`exited early with ${code}: ${err}`)));
      });
      writeFileSync(tokenFile, '\n\n');
      child.kill('SIGHUP');
      for (let i = 0; i < 200 && !err.includes('token reload refused'); i++)
        await new Promise((r) => setTimeout(r, 50));
      expect(err).toMatch(/^vmgate: token reload refused, the tokens in use stay: .*holds no token/m);
      const url = `ws://127.0.0.1:${port}`;
      expect(await upgradeStatus(url)).toBe(401);
      expect(await upgradeStatus(url, bearer('hup-token'))).toBe(101);
    } finally {
      child.kill('SIGKILL');
    }
  }, 60_000);
});
