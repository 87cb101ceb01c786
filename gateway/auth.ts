import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import {
  createLocalJWKSet,
  importSPKI,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
  jwtVerify,
  type KeyLike,
} from 'jose';
import type { AuthOptions } from './config';

/**
 * Who is connecting. Checked at the HTTP upgrade, before a session exists:
 * a static bearer token (compared in constant time) or a JWT verified with
 * jose, from the `Authorization` header or a `token` query parameter (for
 * browsers, which cannot set headers on a WebSocket).
 */

export type AuthResult =
  | { readonly ok: true; readonly user: string | null }
  | { readonly ok: false; readonly status: 401; readonly reason: string };

export interface Authenticator {
  readonly required: boolean;
  authenticate(request: IncomingMessage): Promise<AuthResult>;
}

const digest = (value: string) => createHash('sha256').update(value).digest();

export async function createAuthenticator(options: AuthOptions): Promise<Authenticator> {
  const tokenDigests = options.tokens.map(digest);
  const jwt = options.jwt;
  let key: KeyLike | Uint8Array | JWTVerifyGetKey | undefined;
  let algorithms: string[] = [];
  if (jwt?.secret) {
    key = new TextEncoder().encode(jwt.secret);
    algorithms = ['HS256'];
  } else if (jwt?.publicKeyPem) {
    key = await importSPKI(jwt.publicKeyPem, 'RS256');
    algorithms = ['RS256'];
  } else if (jwt?.jwks) {
    key = createLocalJWKSet(JSON.parse(jwt.jwks));
    algorithms = ['RS256'];
  }
  const verifyOptions: JWTVerifyOptions = {
    algorithms,
    ...(jwt?.issuer ? { issuer: jwt.issuer } : {}),
    ...(jwt?.audience ? { audience: jwt.audience } : {}),
  };
  const required = tokenDigests.length > 0 || key !== undefined;

  const matchesToken = (token: string): boolean => {
    const candidate = digest(token);
    let match = false;
    // Compare against every token, so timing does not reveal which one (or whether any) matched.
    for (const known of tokenDigests) match = timingSafeEqual(candidate, known) || match;
    return match;
  };

  return {
    required,
    async authenticate(request) {
      if (!required) return { ok: true, user: null };
      const token = presentedToken(request);
      if (token === undefined) return { ok: false, status: 401, reason: 'missing bearer token' };
      if (tokenDigests.length > 0 && matchesToken(token)) return { ok: true, user: null };
      if (key !== undefined && token.split('.').length === 3) {
        try {
          const { payload } = await jwtVerify(token, key as KeyLike, verifyOptions);
          return { ok: true, user: typeof payload.sub === 'string' ? payload.sub : null };
        } catch {
          return { ok: false, status: 401, reason: 'invalid token' };
        }
      }
      return { ok: false, status: 401, reason: 'invalid token' };
    },
  };
}

function presentedToken(request: IncomingMessage): string | undefined {
  const header = request.headers.authorization;
  if (typeof header === 'string') {
    const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
    if (match) return match[1];
  }
  const url = new URL(request.url ?? '/', 'http://localhost');
  return url.searchParams.get('token') ?? undefined;
}

/**
 * Browser clients send `Origin`; non-browser clients usually do not. Allowed:
 * no Origin, an Origin in the allowlist, or (with no allowlist) the same
 * origin as the request's Host.
 */
export function originAllowed(request: IncomingMessage, allowOrigins: readonly string[]): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  if (allowOrigins.includes('*') || allowOrigins.includes(origin)) return true;
  if (allowOrigins.length > 0) return false;
  try {
    return new URL(origin).host === request.headers.host;
  } catch {
    return false;
  }
}
