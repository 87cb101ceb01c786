import { type DatabaseOptions, DEFAULT_DATABASE_OPTIONS } from '../db/pool';
import type { ExecutorOptions } from '../executors/options';
import { DEFAULT_SESSION_LIMITS, type SessionLimits } from '../sandbox/session-limits';
import type { CpuQuotaOptions } from './cpu-quota';

/** Everything `startGateway` accepts. The CLI (bin/vmgate.ts) builds it from flags, env and a config file. */
export interface GatewayOptions {
  readonly host: string;
  readonly port: number;
  /** Path of the shared state file (.json, .js, .mjs); none → no `shared` global. */
  readonly sharedFile: string | undefined;
  /** Allow binding a non-loopback address without authentication. */
  readonly insecure: boolean;
  readonly limits: GatewayLimits;
  readonly session: SessionLimits;
  readonly auth: AuthOptions;
  /** Allowed `Origin` values; empty → same origin (and clients that send none). */
  readonly allowOrigins: readonly string[];
  /**
   * Peers (addresses or CIDRs) whose forwarding header names the client's
   * address; empty → every client is the TCP peer (gateway/client-address.ts).
   */
  readonly trustProxy: readonly string[];
  /** The header those peers set: `X-Forwarded-For` or RFC 7239 `Forwarded`. */
  readonly trustProxyHeader: ForwardedHeader;
  /**
   * Names (`Host`) this gateway answers to besides its bind address,
   * `localhost`, `127.0.0.1` and `[::1]`; `*` for any (request-origin.ts).
   */
  readonly allowedHosts: readonly string[];
  /** CPU time per user (JWT) or client address over a sliding window (cpu-quota.ts). */
  readonly cpuQuota: CpuQuotaOptions;
  readonly auditLog: string | undefined;
  readonly logLevel: string;
  /** How long shutdown waits for sessions to close before it cuts them off. */
  readonly shutdownTimeoutMs: number;
  readonly database: DatabaseConfig;
  /** Names this gateway among several behind one proxy; prefixes resume tokens. */
  readonly gatewayId?: string | undefined;
  /**
   * Where sessions run: `count` executor processes, or the gateway process
   * itself when absent or `count: 0` (the CLI defaults to one per core).
   */
  readonly executors?: Partial<ExecutorOptions>;
}

/**
 * `url`: use that server. `embedded`: start the private default server (data
 * under `dataDir`). `off`: no database (every use of `db` is DB_UNAVAILABLE).
 */
export type DatabaseConfig =
  | ({ readonly mode: 'url'; readonly url: string } & Omit<DatabaseOptions, 'url'>)
  | ({ readonly mode: 'embedded'; readonly dataDir: string } & Omit<DatabaseOptions, 'url'>)
  | { readonly mode: 'off' };

export interface GatewayLimits {
  readonly maxFrameBytes: number;
  readonly maxSessions: number;
  readonly maxSessionsPerAddress: number;
  /** No frame from the client and nothing running for this long → close 4001. 0 = off. */
  readonly idleTimeoutMs: number;
  /** Close 4002 after this long whatever happens. 0 = off. */
  readonly maxLifetimeMs: number;
  /** Above this many buffered outgoing bytes, evals wait for the client to read. */
  readonly sendBufferSoftBytes: number;
  /** Above this, the session is closed (1008): the client is not reading. */
  readonly sendBufferHardBytes: number;
  readonly heartbeatMs: number;
  /** How long a JSON-mode session whose socket dropped waits to be resumed (0 = no resuming). */
  readonly resumeGraceMs: number;
  /** Frames a resumable session keeps for replay, and buffers while detached. */
  readonly resumeBufferBytes: number;
  /** The largest frame the gateway builds; longer strings are cut with a marker (gateway/frame-cap.ts). */
  readonly maxReplyFrameBytes: number;
  /** Frames held for clients (send queues and resume buffers), all sessions together; 0 = the default (a quarter of the heap, at most 512 MiB). */
  readonly memoryBudgetBytes: number;
  /** Frames per second a connection may send (token bucket, twice this as burst); 0 = no limit. */
  readonly maxFramesPerSecond: number;
  /** Payload bytes per second a connection may send (token bucket, twice this as burst); 0 = no limit. */
  readonly maxBytesPerSecond: number;
  /** Detached sessions at most: in total (0 = half of maxSessions), per client address, per user. */
  readonly maxDetachedSessions: number;
  readonly maxDetachedPerAddress: number;
  readonly maxDetachedPerUser: number;
  /** A connection that has not sent its request headers (or upgrade) this long is dropped. */
  readonly headerTimeoutMs: number;
  /** Descriptors kept for health probes, the database pool, executor channels and logs; sessions get the rest. */
  readonly descriptorReserve: number;
  /** `/readyz` says not ready while the event loop's delay (p99 over the last seconds) is above this. */
  readonly readyMaxLagMs: number;
}

export type ForwardedHeader = 'x-forwarded-for' | 'forwarded';

export interface AuthOptions {
  /**
   * Static bearer tokens. Given at all (even empty), they must hold at least
   * one usable token: an empty list never means "no authentication".
   */
  readonly tokens?: readonly string[] | undefined;
  /** A file of static tokens, one per line (`#` comments, blank lines ignored); the same rule. */
  readonly tokenFile?: string | undefined;
  readonly jwt: JwtOptions | undefined;
}

export interface JwtOptions {
  /** HS256 shared secret. */
  readonly secret?: string;
  /** RS256 public key (PEM, SPKI). */
  readonly publicKeyPem?: string;
  /** A JWKS document (JSON text) for RS256 keys. */
  readonly jwks?: string;
  readonly issuer?: string;
  readonly audience?: string;
  /** Accept tokens without `exp` (they never expire). Default false: refused. */
  readonly allowNoExp?: boolean;
  /** Clock skew allowed on `exp`, `nbf` and `iat`, in seconds (default 30). */
  readonly clockToleranceSec?: number;
}

/** Clock skew allowed on JWT `exp`, `nbf` and `iat` unless configured. */
export const DEFAULT_CLOCK_TOLERANCE_SEC = 30;

export const DEFAULT_GATEWAY_LIMITS: GatewayLimits = Object.freeze({
  maxFrameBytes: 1024 * 1024,
  maxSessions: 10_000,
  maxSessionsPerAddress: 1_000,
  idleTimeoutMs: 30 * 60_000,
  maxLifetimeMs: 0,
  sendBufferSoftBytes: 256 * 1024,
  sendBufferHardBytes: 4 * 1024 * 1024,
  // Well under the resume grace period, so a half-open connection is noticed
  // (and its session detached) while the client can still resume it.
  heartbeatMs: 10_000,
  resumeGraceMs: 30_000,
  resumeBufferBytes: 256 * 1024,
  maxReplyFrameBytes: 1024 * 1024,
  memoryBudgetBytes: 0,
  // A closed-loop client (one eval, wait, the next) of `1 + 1` reaches a few
  // thousand frames per second on one connection; the limit is for clients that do not wait.
  maxFramesPerSecond: 5_000,
  maxBytesPerSecond: 4 * 1024 * 1024,
  maxDetachedSessions: 0,
  maxDetachedPerAddress: 100,
  maxDetachedPerUser: 100,
  headerTimeoutMs: 10_000,
  descriptorReserve: 128,
  readyMaxLagMs: 500,
});

/** Two cores' worth per minute: never met by a user alone on a small machine; on a large one, no user keeps more than two cores busy. */
export const DEFAULT_CPU_QUOTA: CpuQuotaOptions = Object.freeze({ quotaMs: 120_000, windowMs: 60_000 });

export function defaultGatewayOptions(overrides: Partial<GatewayOptions> = {}): GatewayOptions {
  return {
    host: '127.0.0.1',
    port: 8080,
    sharedFile: undefined,
    insecure: false,
    allowOrigins: [],
    trustProxy: [],
    trustProxyHeader: 'x-forwarded-for',
    allowedHosts: [],
    auditLog: undefined,
    logLevel: 'info',
    shutdownTimeoutMs: 10_000,
    database: { mode: 'off' },
    ...overrides,
    limits: { ...DEFAULT_GATEWAY_LIMITS, ...overrides.limits },
    session: { ...DEFAULT_SESSION_LIMITS, ...overrides.session },
    auth: { jwt: undefined, ...overrides.auth },
    cpuQuota: { ...DEFAULT_CPU_QUOTA, ...overrides.cpuQuota },
  };
}

export function databaseDefaults(): Omit<DatabaseOptions, 'url'> {
  return { ...DEFAULT_DATABASE_OPTIONS };
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.') || host.startsWith('::ffff:127.');
}
