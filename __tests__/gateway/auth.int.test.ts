import { generateKeyPairSync } from 'node:crypto';
import { exportJWK, SignJWT } from 'jose';
import { startGateway } from '../../gateway/server';
import { connect, startTestGateway, upgradeStatus } from '../helpers/gateway';

describe('authentication and origins', () => {
  test('bearer tokens: header or query parameter, refused with 401 otherwise', async () => {
    const gateway = await startTestGateway({ auth: { tokens: ['s3cret', 'other'] } });
    expect(await upgradeStatus(gateway.url)).toBe(401);
    expect(await upgradeStatus(gateway.url, { headers: { authorization: 'Bearer wrong' } })).toBe(401);
    expect(await upgradeStatus(gateway.url, { headers: { authorization: 'Bearer s3cret' } })).toBe(101);
    expect(await upgradeStatus(`${gateway.url}/?token=other`)).toBe(101);
    expect(gateway.sessions.size).toBeLessThanOrEqual(2);
  });

  test('JWT (HS256): the subject names the session user; bad or expired tokens are refused', async () => {
    const secret = new TextEncoder().encode('jwt-test-secret-of-sufficient-length');
    const gateway = await startTestGateway({
      auth: { jwt: { secret: 'jwt-test-secret-of-sufficient-length', issuer: 'tests' } },
    });
    const good = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('alice')
      .setIssuer('tests')
      .setExpirationTime('1h')
      .sign(secret);
    const client = await connect(gateway, { headers: { authorization: `Bearer ${good}` } });
    expect(await client.next()).toMatchObject({ type: 'hello', user: 'alice' });
    const expired = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('bob')
      .setIssuer('tests')
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(secret);
    expect(await upgradeStatus(gateway.url, { headers: { authorization: `Bearer ${expired}` } })).toBe(401);
    const wrongIssuer = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('eve')
      .setIssuer('elsewhere')
      .sign(secret);
    expect(await upgradeStatus(gateway.url, { headers: { authorization: `Bearer ${wrongIssuer}` } })).toBe(401);
  });

  test('JWT (RS256) with a JWKS file', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    const gateway = await startTestGateway({ auth: { jwt: { jwks: JSON.stringify({ keys: [jwk] }) } } });
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setSubject('carol')
      .setExpirationTime('10m')
      .sign(privateKey);
    const client = await connect(gateway, { path: `/?token=${token}` });
    expect(await client.next()).toMatchObject({ user: 'carol' });
  });

  test('JWT claims: exp required unless relaxed, iat in the future refused, sub a string, clock tolerance', async () => {
    const secret = 'claims-test-secret-32-bytes-long!!';
    const key = new TextEncoder().encode(secret);
    const now = Math.floor(Date.now() / 1000);
    const sign = (claims: Record<string, unknown>) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(key);
    const strict = await startTestGateway({ auth: { jwt: { secret, clockToleranceSec: 30 } } });
    const relaxed = await startTestGateway({ auth: { jwt: { secret, allowNoExp: true, clockToleranceSec: 0 } } });
    const status = (url: string, token: string) =>
      upgradeStatus(url, { headers: { authorization: `Bearer ${token}` } });
    const noExp = await sign({ sub: 'alice', iat: now });
    expect(await status(strict.url, noExp)).toBe(401);
    expect(await status(relaxed.url, noExp)).toBe(101);
    // Within the tolerance, an expiry that just passed still counts as valid; beyond it, not.
    const justExpired = await sign({ sub: 'alice', exp: now - 10 });
    expect(await status(strict.url, justExpired)).toBe(101);
    expect(await status(relaxed.url, justExpired)).toBe(401);
    expect(await status(strict.url, await sign({ sub: 'alice', exp: now + 600, iat: now + 3600 }))).toBe(401);
    expect(await status(strict.url, await sign({ sub: 'alice', exp: now + 600, iat: now + 10 }))).toBe(101);
    expect(await status(strict.url, await sign({ sub: 42, exp: now + 600 }))).toBe(401);
    expect(await status(strict.url, await sign({ name: 'nobody', exp: now + 600 }))).toBe(401);
    expect(await status(strict.url, await sign({ sub: 'alice', exp: now + 600 }))).toBe(101);
  });

  test('a bearer subprotocol carries the token without the query string; the session is still JSON mode', async () => {
    const gateway = await startTestGateway({ auth: { tokens: ['sub-protocol-token'] } });
    const credential = `vmgate.bearer.${Buffer.from('sub-protocol-token').toString('base64url')}`;
    const client = await connect(gateway, { protocols: ['vmgate.v1', credential] });
    expect(client.ws.protocol).toBe('vmgate.v1');
    expect(await client.next()).toMatchObject({ type: 'hello' });
    const wrong = `vmgate.bearer.${Buffer.from('wrong').toString('base64url')}`;
    expect(await upgradeStatus(gateway.url, { protocols: ['vmgate.v1', wrong] })).toBe(401);
  });

  test('origins: same origin and no origin pass; others are refused with 403 unless allowed', async () => {
    const gateway = await startTestGateway();
    const host = new URL(gateway.url).host;
    expect(await upgradeStatus(gateway.url)).toBe(101);
    expect(await upgradeStatus(gateway.url, { headers: { origin: `http://${host}` } })).toBe(101);
    expect(await upgradeStatus(gateway.url, { headers: { origin: 'http://evil.example' } })).toBe(403);
    const allowing = await startTestGateway({ allowOrigins: ['https://console.example'] });
    expect(await upgradeStatus(allowing.url, { headers: { origin: 'https://console.example' } })).toBe(101);
    expect(await upgradeStatus(allowing.url, { headers: { origin: `http://${new URL(allowing.url).host}` } })).toBe(
      403,
    );
  });

  test('a non-loopback address without authentication is refused unless --insecure', async () => {
    await expect(startGateway({ host: '0.0.0.0', port: 0, logLevel: 'silent' })).rejects.toMatchObject({
      code: 'INSECURE_BIND',
    });
    const insecure = await startGateway({ host: '0.0.0.0', port: 0, insecure: true, logLevel: 'silent' });
    await insecure.close();
    const withToken = await startGateway({ host: '0.0.0.0', port: 0, auth: { tokens: ['t'] }, logLevel: 'silent' });
    await withToken.close();
  });
});
