import { request as httpRequest } from 'node:http';
import { SignJWT } from 'jose';
import { connect, startTestGateway, upgradeStatus } from '../helpers/gateway';

/**
 * The HTTP edges (issue 11, item 4): DNS rebinding (a foreign Host), the
 * Origin check against allowed hosts, /metrics and /readyz behind
 * authentication, per-user labels opt-in, and admin endpoints refusing
 * cross-site requests.
 */

interface Reply {
  status: number;
  body: string;
}

/** A plain HTTP request with exactly these headers (fetch will not let a test set Host). */
function get(url: string, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  const target = new URL(url.replace(/^ws/, 'http'));
  const all: Record<string, string> = { host: target.host, ...headers };
  // An empty host means none at all.
  const setHost = all.host !== '';
  if (!setHost) delete all.host;
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: target.hostname, port: target.port, path, method, headers: all, setHost },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const TOKEN = 'edge-token-0123456789';
const SECRET = 'edge-secret-0123456789-0123456789';

describe('Host allowlist (DNS rebinding)', () => {
  test('a foreign Host is refused on every request and upgrade; the known names are served', async () => {
    const gateway = await startTestGateway({ allowedHosts: ['console.example'] });
    const port = new URL(gateway.url).port;
    for (const path of ['/healthz', '/readyz', '/metrics', '/']) {
      expect((await get(gateway.url, path, { host: `evil.example:${port}` })).status).toBe(403);
    }
    // The rebinding attack itself: Host and Origin both the attacker's.
    expect(
      await upgradeStatus(gateway.url, {
        headers: { host: `evil.example:${port}`, origin: `http://evil.example:${port}` },
      }),
    ).toBe(403);
    expect(await upgradeStatus(gateway.url, { headers: { host: `evil.example:${port}` } })).toBe(403);
    // No Host at all: Node's HTTP server refuses it before the gateway sees it.
    expect((await get(gateway.url, '/healthz', { host: '' })).status).toBe(400);
    expect((await get(gateway.url, '/healthz', { host: `user@localhost:${port}` })).status).toBe(403);
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, `CONSOLE.example:${port}`]) {
      expect((await get(gateway.url, '/healthz', { host })).status).toBe(200);
      expect(await upgradeStatus(gateway.url, { headers: { host } })).toBe(101);
    }
  });

  test('`*` serves any Host', async () => {
    const gateway = await startTestGateway({ allowedHosts: ['*'] });
    expect((await get(gateway.url, '/healthz', { host: 'anything.example' })).status).toBe(200);
  });

  test('the Origin is compared with the allowed hosts, not with the request’s own Host', async () => {
    const gateway = await startTestGateway({ allowedHosts: ['console.example'] });
    const { host, port } = new URL(gateway.url);
    expect(await upgradeStatus(gateway.url, { headers: { origin: `http://${host}` } })).toBe(101);
    expect(
      await upgradeStatus(gateway.url, {
        headers: { host: `console.example:${port}`, origin: `http://console.example:${port}` },
      }),
    ).toBe(101);
    // An allowed Host with another site's Origin, or a mismatched one.
    expect(await upgradeStatus(gateway.url, { headers: { origin: `http://evil.example:${port}` } })).toBe(403);
    expect(await upgradeStatus(gateway.url, { headers: { origin: `http://localhost:${port}` } })).toBe(403);
    expect(await upgradeStatus(gateway.url, { headers: { origin: 'null' } })).toBe(403);
  });
});

describe('with authentication on', () => {
  test('/metrics needs credentials, /readyz details need them, /healthz stays open', async () => {
    const gateway = await startTestGateway({ auth: { tokens: [TOKEN] } });
    const bearer = { authorization: `Bearer ${TOKEN}` };
    expect((await get(gateway.url, '/healthz')).status).toBe(200);
    expect((await get(gateway.url, '/metrics')).status).toBe(401);
    expect((await get(gateway.url, '/metrics', { authorization: 'Bearer wrong' })).status).toBe(401);
    const metrics = await get(gateway.url, '/metrics', bearer);
    expect(metrics.status).toBe(200);
    expect(metrics.body).toContain('vmgate_sessions_open');
    const open = await get(gateway.url, '/readyz');
    expect(open.status).toBe(200);
    expect(JSON.parse(open.body)).toEqual({ ready: true });
    expect(JSON.parse((await get(gateway.url, '/readyz', bearer)).body)).toMatchObject({ ready: true, sessions: 0 });
  });

  test('user names appear as metric labels only when asked for', async () => {
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('alice')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(SECRET));
    const bearer = { authorization: `Bearer ${token}` };
    for (const maxUserSeries of [undefined, 5]) {
      const gateway = await startTestGateway({
        auth: { jwt: { secret: SECRET } },
        ...(maxUserSeries ? { executors: { maxUserSeries } } : {}),
      });
      const client = await connect(gateway, { headers: bearer });
      await client.next();
      await client.eval('1 + 1');
      const text = (await get(gateway.url, '/metrics', bearer)).body;
      if (maxUserSeries) expect(text).toContain('user="alice"');
      else expect(text).not.toContain('alice');
    }
  });

  test('admin endpoints need credentials and refuse cross-site requests', async () => {
    const gateway = await startTestGateway({ auth: { tokens: [TOKEN] } });
    const { host } = new URL(gateway.url);
    const bearer = { authorization: `Bearer ${TOKEN}` };
    const post = (headers: Record<string, string>) => get(gateway.url, '/admin/reload-shared', headers, 'POST');
    expect((await post({})).status).toBe(401);
    // No shared state is configured: an authorised request gets that far.
    expect((await post(bearer)).status).toBe(409);
    expect((await post({ ...bearer, origin: 'http://evil.example' })).status).toBe(403);
    expect((await post({ ...bearer, 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await post({ ...bearer, 'sec-fetch-site': 'same-site' })).status).toBe(403);
    expect((await post({ ...bearer, origin: `http://${host}`, 'sec-fetch-site': 'same-origin' })).status).toBe(409);
  });
});

describe('without authentication', () => {
  test('admin endpoints take loopback requests, never cross-site ones', async () => {
    const gateway = await startTestGateway();
    const post = (headers: Record<string, string>) => get(gateway.url, '/admin/reload-shared', headers, 'POST');
    expect((await post({})).status).toBe(409);
    // A page on another site posting to the loopback gateway from the user's browser.
    expect((await post({ origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await post({ origin: 'http://evil.example' })).status).toBe(403);
  });
});
