import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * Browsers send credentials in the query string (`?token=`, `?resume=`), so
 * no deployment configuration in deploy/ may write query strings to an
 * access log (docs/deployment.md). The Kubernetes manifest is rendered with
 * `kubectl kustomize` (offline, no cluster), as kubectl would apply it.
 */

const ROOT = path.join(__dirname, '..', '..');
const DEPLOY = path.join(ROOT, 'deploy');
const run = promisify(execFile);

const KUBECTL = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((p) => existsSync(p));

describe('access logs in deploy/ never hold query strings', () => {
  test('nginx: every access_log uses a format built from $uri, none with the request line or arguments', () => {
    const conf = readFileSync(path.join(DEPLOY, 'nginx', 'vmgate.conf'), 'utf8').replace(/#.*$/gm, '');
    const formats = [...conf.matchAll(/log_format\s+(\S+)\s+((?:'[^']*'\s*)+);/g)];
    expect(formats.map((m) => m[1])).toEqual(['vmgate']);
    const format = formats[0]?.[2] ?? '';
    expect(format).toContain('$uri');
    expect(format).not.toMatch(/\$(request\b|request_uri|args|query_string|arg_)/);
    const logs = [...conf.matchAll(/access_log\s+([^;]+);/g)].map((m) => m[1]?.trim().split(/\s+/));
    expect(logs.length).toBeGreaterThan(0);
    for (const log of logs) expect(log?.[0] === 'off' || log?.[1] === 'vmgate').toBe(true);
  });

  test('HAProxy: the log format has the path only (%HPO), never the request line or URI', () => {
    const cfg = readFileSync(path.join(DEPLOY, 'haproxy', 'haproxy.cfg'), 'utf8').replace(/#.*$/gm, '');
    const formats = [...cfg.matchAll(/^\s*log-format\s+(.+)$/gm)].map((m) => m[1] ?? '');
    expect(formats).toHaveLength(1);
    expect(formats[0]).toContain('%HPO');
    expect(formats[0]).not.toMatch(/%(r|HU|HQ|\[capture\.req\.uri\])/);
    // `option httplog` would replace the format with one that logs the request line.
    expect(cfg).not.toMatch(/option\s+httplog/);
  });

  (KUBECTL ? test : test.skip)('Kubernetes: the rendered Ingress turns ingress-nginx access logs off', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vmgate-kustomize-'));
    try {
      copyFileSync(path.join(DEPLOY, 'kubernetes', 'vmgate.yaml'), path.join(dir, 'vmgate.yaml'));
      writeFileSync(path.join(dir, 'kustomization.yaml'), 'resources:\n  - vmgate.yaml\n');
      const { stdout } = await run(KUBECTL as string, ['kustomize', dir], { timeout: 60_000 });
      const documents = stdout.split(/^---$/m);
      const ingresses = documents.filter((d) => /^kind: Ingress$/m.test(d));
      expect(ingresses).toHaveLength(1);
      expect(ingresses[0]).toMatch(/^ {4}nginx\.ingress\.kubernetes\.io\/enable-access-log: "false"$/m);
      // The gateway logs the client's address itself: it trusts the ingress's X-Forwarded-For.
      const deployment = documents.find((d) => /^kind: Deployment$/m.test(d)) ?? '';
      expect(deployment).toMatch(/- --trust-proxy=\S+/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

if (!KUBECTL) console.warn('Kubernetes render check skipped: kubectl is missing');
