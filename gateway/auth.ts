import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import {
  createLocalJWKSet,
  errors,
  importSPKI,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
  jwtVerify,
  type KeyLike,
} from 'jose';
import { type AuthOptions, DEFAULT_CLOCK_TOLERANCE_SEC, type JwtOptions } from './config';
import { GatewayStartError } from './start-error';

/**
 * Who is connecting. Checked at the HTTP upgrade, before a session exists:
 * a static bearer token (compared in constant time) or a JWT verified with
 * jose, from the `Authorization` header, a `vmgate.bearer.<base64url>`
 * subprotocol, or a `token` query parameter (browsers cannot set headers on
 * a WebSocket).
 *
 * Fails closed: a configuration that names a credential source but yields no
 * usable credential is a startup error, never a gateway without
 * authentication (docs/security.md).
 */

export type AuthResult =
  | {
      readonly ok: true;
      /** Shown in hello, logs, the audit log: the JWT `sub`, or null. */
      readonly user: string | null;
      /**
       * What a session is bound to (resuming): `jwt:<sub>`, `token:<digest>`
       * of the static token, or `anonymous`. Never shown anywhere.
       */
      readonly principal: string;
    }
  | { readonly ok: false; readonly status: 401; readonly reason: string };

export interface Authenticator {
  readonly required: boolean;
  authenticate(request: IncomingMessage): Promise<AuthResult>;
  /**
   * Reads the token file again (SIGHUP): returns how many tokens are now
   * accepted, or undefined when there is no file. A file that yields no token
   * (or cannot be read) throws and the tokens in use stay: a reload never
   * turns authentication off.
   */
  reloadTokens(): number | undefined;
}

/** Subprotocol carrying a credential: `vmgate.bearer.` + the token in base64url. */
export const BEARER_SUBPROTOCOL_PREFIX = 'vmgate.bearer.';
/** HS256 secrets shorter than this are refused: RFC 7518 §3.2 asks for at least the hash size. */
export const MIN_HS256_SECRET_BYTES = 32;

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Tokens from a list and a file, or a startup error when a given source yields none. */
export function staticTokens(options: Pick<AuthOptions, 'tokens' | 'tokenFile'>): string[] {
  if (options.tokens === undefined && options.tokenFile === undefined) return [];
  const lines = [...(options.tokens ?? [])];
  if (options.tokenFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(options.tokenFile, 'utf8');
    } catch (error) {
      throw new GatewayStartError(
        'TOKEN_FILE_UNREADABLE',
        `cannot read token file ${options.tokenFile}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      );
    }
    lines.push(...text.split('\n'));
  }
  const tokens = lines.map((t) => t.trim()).filter((t) => t !== '' && !t.startsWith('#'));
  // A token a client cannot send in `Authorization: Bearer` would never match: say so now.
  if (tokens.some((t) => !/^[\x21-\x7e]+$/.test(t))) {
    throw new GatewayStartError('BAD_TOKEN', 'a bearer token holds spaces, control or non-ASCII characters');
  }
  if (tokens.length === 0) {
    throw new GatewayStartError(
      'NO_TOKENS',
      `${options.tokenFile !== undefined ? `token file ${options.tokenFile}` : '--tokens'} holds no token (only blank or # lines): refusing to start without authentication`,
    );
  }
  return tokens;
}

interface JwtVerifier {
  key: KeyLike | Uint8Array | JWTVerifyGetKey;
  options: JWTVerifyOptions;
  toleranceSec: number;
}

async function jwtVerifier(jwt: JwtOptions): Promise<JwtVerifier> {
  const keys = [jwt.secret, jwt.publicKeyPem, jwt.jwks].filter((k) => k !== undefined && k !== '');
  if (keys.length === 0) {
    throw new GatewayStartError(
      'JWT_NO_KEY',
      'a JWT option is set but no key to verify tokens with (--jwt-secret, --jwt-public-key or --jwks-file)',
    );
  }
  if (keys.length > 1) {
    throw new GatewayStartError('JWT_KEY_CONFLICT', 'give one JWT key: --jwt-secret, --jwt-public-key or --jwks-file');
  }
  const toleranceSec = jwt.clockToleranceSec ?? DEFAULT_CLOCK_TOLERANCE_SEC;
  if (!Number.isFinite(toleranceSec) || toleranceSec < 0) {
    throw new GatewayStartError('JWT_BAD_OPTION', 'the JWT clock tolerance must be a non-negative number of seconds');
  }
  let key: JwtVerifier['key'];
  let algorithms: string[];
  try {
    if (jwt.secret) {
      if (Buffer.byteLength(jwt.secret) < MIN_HS256_SECRET_BYTES) {
        throw new GatewayStartError(
          'JWT_WEAK_SECRET',
          `the HS256 secret is ${Buffer.byteLength(jwt.secret)} bytes: at least ${MIN_HS256_SECRET_BYTES} random bytes are required`,
        );
      }
      key = new TextEncoder().encode(jwt.secret);
      algorithms = ['HS256'];
    } else if (jwt.publicKeyPem) {
      key = await importSPKI(jwt.publicKeyPem, 'RS256');
      algorithms = ['RS256'];
    } else {
      key = createLocalJWKSet(JSON.parse(jwt.jwks as string));
      algorithms = ['RS256'];
    }
  } catch (error) {
    if (error instanceof GatewayStartError) throw error;
    throw new GatewayStartError('JWT_BAD_KEY', `cannot use the JWT key: ${(error as Error).message}`);
  }
  return {
    key,
    toleranceSec,
    options: {
      algorithms,
      clockTolerance: toleranceSec,
      requiredClaims: jwt.allowNoExp ? ['sub'] : ['sub', 'exp'],
      ...(jwt.issuer ? { issuer: jwt.issuer } : {}),
      ...(jwt.audience ? { audience: jwt.audience } : {}),
    },
  };
}

/** Why a JWT was refused, in words an operator can act on (the log line and the 401 body). */
function jwtRefusal(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'token expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.reason === 'missing') return `token has no "${error.claim}" claim`;
    return `token "${error.claim}" claim rejected`;
  }
  return 'invalid token';
}

export async function createAuthenticator(options: AuthOptions): Promise<Authenticator> {
  let tokenDigests = staticTokens(options).map(digest);
  const jwt = options.jwt === undefined ? undefined : await jwtVerifier(options.jwt);
  const required = tokenDigests.length > 0 || jwt !== undefined;

  const matchingToken = (token: string): Buffer | undefined => {
    const candidate = digest(token);
    let match = false;
    // Compare against every token, so timing does not reveal which one (or whether any) matched.
    for (const known of tokenDigests) match = timingSafeEqual(candidate, known) || match;
    return match ? candidate : undefined;
  };

  const verifyJwt = async (token: string, verifier: JwtVerifier): Promise<AuthResult> => {
    try {
      const { payload } = await jwtVerify(token, verifier.key as KeyLike, verifier.options);
      if (typeof payload.sub !== 'string' || payload.sub === '') {
        return { ok: false, status: 401, reason: 'token "sub" claim must be a non-empty string' };
      }
      // jose checks `iat` only with maxTokenAge; a token from the future is forged or from a broken clock.
      if (typeof payload.iat === 'number' && payload.iat > Date.now() / 1000 + verifier.toleranceSec) {
        return { ok: false, status: 401, reason: 'token "iat" claim is in the future' };
      }
      return { ok: true, user: payload.sub, principal: `jwt:${payload.sub}` };
    } catch (error) {
      return { ok: false, status: 401, reason: jwtRefusal(error) };
    }
  };

  return {
    required,
    reloadTokens() {
      if (options.tokenFile === undefined) return undefined;
      tokenDigests = staticTokens(options).map(digest);
      return tokenDigests.length;
    },
    async authenticate(request) {
      if (!required) return { ok: true, user: null, principal: 'anonymous' };
      const token = presentedToken(request);
      if (token === undefined) return { ok: false, status: 401, reason: 'missing bearer token' };
      const matched = tokenDigests.length > 0 ? matchingToken(token) : undefined;
      if (matched) return { ok: true, user: null, principal: `token:${matched.toString('base64url')}` };
      if (jwt !== undefined && token.split('.').length === 3) return verifyJwt(token, jwt);
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
  const protocols = request.headers['sec-websocket-protocol'];
  if (typeof protocols === 'string') {
    for (const protocol of protocols.split(',')) {
      const offered = protocol.trim();
      if (offered.startsWith(BEARER_SUBPROTOCOL_PREFIX)) {
        const token = Buffer.from(offered.slice(BEARER_SUBPROTOCOL_PREFIX.length), 'base64url').toString();
        if (token !== '') return token;
      }
    }
  }
  const url = new URL(request.url ?? '/', 'http://localhost');
  return url.searchParams.get('token') ?? undefined;
}
