import type { IncomingMessage } from 'node:http';
import { networkInterfaces } from 'node:os';

/**
 * Who a request says it is for (`Host`) and where it comes from (`Origin`,
 * `Sec-Fetch-Site`), checked on every request and upgrade.
 *
 * DNS rebinding: a web page on `evil.example`, whose name is made to resolve
 * to 127.0.0.1, talks to a loopback gateway as if same-origin — its requests
 * carry `Host: evil.example` and `Origin: http://evil.example`. Only names
 * this gateway is known by are served: the bind address, the loopback names,
 * and the configured ones.
 */
export class HostAllowlist {
  readonly #names: ReadonlySet<string>;
  readonly #any: boolean;

  constructor(bindHost: string, configured: readonly string[]) {
    this.#any = configured.includes('*');
    const names = new Set(['localhost', '127.0.0.1', '[::1]', hostName(bindHost)]);
    // Bound to every interface: each of the machine's own addresses names it too.
    if (bindHost === '0.0.0.0' || bindHost === '::') {
      for (const list of Object.values(networkInterfaces())) {
        for (const address of list ?? []) names.add(hostName(address.address));
      }
    }
    for (const name of configured) names.add(name.toLowerCase());
    this.#names = names;
  }

  /** Whether a `Host` header (name and optional port) names this gateway. */
  allowsHost(header: string | undefined): boolean {
    if (this.#any) return true;
    if (header === undefined || header === '') return false;
    // Anything beyond a name and a port (credentials, a path) is not a Host.
    if (/[/?#@\s\\]/.test(header)) return false;
    try {
      return this.#names.has(new URL(`http://${header}`).hostname);
    } catch {
      return false;
    }
  }

  /**
   * Browser clients send `Origin`; non-browser clients usually do not.
   * Allowed: no Origin; an Origin in `allowOrigins` (`*` for any); or, with
   * no such list, the same origin as the request's Host when that Host names
   * this gateway (never the request's own Host alone: under DNS rebinding
   * both are the attacker's).
   */
  allowsOrigin(request: IncomingMessage, allowOrigins: readonly string[]): boolean {
    const origin = request.headers.origin;
    if (origin === undefined) return true;
    if (allowOrigins.includes('*') || allowOrigins.includes(origin)) return true;
    if (allowOrigins.length > 0) return false;
    return this.#sameAllowedOrigin(request, origin);
  }

  /**
   * A browser request made by another site (a form or fetch to an admin
   * endpoint): `Sec-Fetch-Site` says so, or its Origin is not this
   * gateway's. Requests without either (curl, scripts) are not.
   */
  crossSite(request: IncomingMessage): boolean {
    const site = request.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') return true;
    const origin = request.headers.origin;
    return origin !== undefined && !this.#sameAllowedOrigin(request, origin);
  }

  #sameAllowedOrigin(request: IncomingMessage, origin: string): boolean {
    try {
      const url = new URL(origin);
      return (this.#any || this.#names.has(url.hostname)) && url.host === request.headers.host?.toLowerCase();
    } catch {
      return false; // `null` (sandboxed frames, file:) and garbage
    }
  }
}

/** An address as it appears in a URL's hostname: IPv6 in brackets, lower case. */
function hostName(address: string): string {
  const lower = address.toLowerCase();
  return lower.includes(':') && !lower.startsWith('[') ? `[${lower}]` : lower;
}
