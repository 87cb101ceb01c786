import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';

/**
 * Browsers send credentials in the query string (`?token=`, `?resume=`), so
 * no deployment configuration in deploy/ may write query strings to an
 * access log (docs/deployment.md). The Kubernetes manifest is parsed document
 * by document, as the API server receives it.
 */

const ROOT = path.join(__dirname, '..', '..');
const DEPLOY = path.join(ROOT, 'deploy');

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

  test('Kubernetes: the Ingress turns ingress-nginx access logs off; the gateway trusts its forwarded address', () => {
    // Parsed as Kubernetes reads it (every document of the manifest), with no cluster or kubectl needed.
    const documents = parseAllDocuments(readFileSync(path.join(DEPLOY, 'kubernetes', 'vmgate.yaml'), 'utf8')).map(
      (document) => document.toJS() as Manifest | null,
    );
    const ingresses = documents.filter((d) => d?.kind === 'Ingress');
    expect(ingresses).toHaveLength(1);
    expect(ingresses[0]?.metadata?.annotations?.['nginx.ingress.kubernetes.io/enable-access-log']).toBe('false');
    const deployment = documents.find((d) => d?.kind === 'Deployment');
    const args = deployment?.spec?.template?.spec?.containers?.flatMap((c) => c.args ?? []) ?? [];
    expect(args.some((arg) => /^--trust-proxy=\S+$/.test(arg))).toBe(true);
  });
});

interface Manifest {
  kind?: string;
  metadata?: { annotations?: Record<string, string> };
  spec?: { template?: { spec?: { containers?: Array<{ args?: string[] }> } } };
}
