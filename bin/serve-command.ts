import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { Logger } from 'pino';
import { findPackageRoot } from '../common/package-root';
import { parseAccounts } from '../db/accounts';
import { type DatabaseOptions, DEFAULT_DATABASE_OPTIONS, type PoolMode } from '../db/pool';
import {
  DEFAULT_EXECUTOR_OPTIONS,
  defaultExecutorCount,
  HEAP_BASE_MB,
  HEAP_KIB_PER_SESSION,
} from '../executors/options';
import {
  type AuthOptions,
  type DatabaseConfig,
  DEFAULT_CLOCK_TOLERANCE_SEC,
  DEFAULT_CPU_QUOTA,
  DEFAULT_GATEWAY_LIMITS,
  databaseDefaults,
  type GatewayOptions,
  type JwtOptions,
} from '../gateway/config';
import type { Gateway, StartOptions } from '../gateway/server';
import { DEFAULT_SESSION_LIMITS } from '../sandbox/session-limits';
import { serveBanner } from './serve-banner';

/**
 * `vmgate serve`: flags, environment variables (named beside each flag in
 * --help) and an optional JSON config file, in that order of precedence.
 * Any startup problem is one line on stderr and exit code 1.
 */

const L = DEFAULT_GATEWAY_LIMITS;
const S = DEFAULT_SESSION_LIMITS;
const D = DEFAULT_DATABASE_OPTIONS;
const E = DEFAULT_EXECUTOR_OPTIONS;
const ROOT = findPackageRoot(__dirname);
const EXAMPLE_SHARED = path.join(ROOT, 'examples', 'shared-state.mjs');
/** Where the embedded default database keeps its data (as gateway/database.ts). */
const DEFAULT_EMBEDDED_DIR = path.join(ROOT, '.vmgate', 'mariadb');

const int = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative integer`);
  return n;
};

export function serveCommand(): Command {
  return new Command('serve')
    .description('run the gateway')
    .addOption(new Option('--host <address>', 'address to listen on').default('127.0.0.1').env('VMGATE_HOST'))
    .addOption(
      new Option('--port <n>', 'port to listen on (0 = any free port)')
        .default(8080)
        .argParser(int('--port'))
        .env('VMGATE_PORT'),
    )
    .addOption(
      new Option('--shared <file>', 'shared state file (.json, .js or .mjs)')
        .default(EXAMPLE_SHARED, 'the example')
        .env('VMGATE_SHARED'),
    )
    .option('--no-shared', 'start without a shared state')
    .addOption(
      new Option('--config <file>', 'JSON file with any of these options (camelCase keys)').env('VMGATE_CONFIG'),
    )
    .addOption(
      new Option('--gateway-id <id>', 'this gateway\'s name behind a proxy; resume tokens start with "<id>."')
        .env('VMGATE_GATEWAY_ID')
        .argParser((value: string) => {
          if (!/^[A-Za-z0-9-]{1,63}$/.test(value)) {
            throw new InvalidArgumentError('--gateway-id must be 1 to 63 letters, digits or dashes');
          }
          return value;
        }),
    )
    .option('--insecure', 'allow a non-loopback address without authentication', false)
    .addOption(
      new Option('--token-file <file>', 'file with accepted bearer tokens, one per line (read again on SIGHUP)').env(
        'VMGATE_TOKEN_FILE',
      ),
    )
    .addOption(new Option('--tokens <list>', 'comma-separated accepted bearer tokens').env('VMGATE_TOKENS'))
    .addOption(
      new Option('--jwt-secret <secret>', 'verify HS256 JWTs with this secret (at least 32 bytes)').env(
        'VMGATE_JWT_SECRET',
      ),
    )
    .option('--jwt-public-key <file>', 'verify RS256 JWTs with this PEM public key')
    .option('--jwks-file <file>', 'verify RS256 JWTs with the keys of this JWKS file')
    .option('--jwt-issuer <iss>', 'required JWT issuer')
    .option('--jwt-audience <aud>', 'required JWT audience')
    .option('--jwt-allow-no-exp', 'accept JWTs without an exp claim (they never expire; default: refused)')
    .option(
      '--jwt-clock-tolerance-s <n>',
      `clock skew allowed on JWT exp, nbf and iat, in seconds (default ${DEFAULT_CLOCK_TOLERANCE_SEC})`,
      int('--jwt-clock-tolerance-s'),
    )
    .option('--allow-origin <origin...>', 'browser origins allowed to connect (default: same origin)')
    .option(
      '--allowed-hosts <name...>',
      'Host names served besides the bind address, localhost, 127.0.0.1 and [::1] (comma-separated or repeated; * for any)',
    )
    .addOption(
      new Option(
        '--trust-proxy <list>',
        'comma-separated proxy addresses or CIDRs whose forwarding header names the client (default: none)',
      ).env('VMGATE_TRUST_PROXY'),
    )
    .addOption(
      new Option('--trust-proxy-header <name>', 'the header those proxies set')
        .choices(['x-forwarded-for', 'forwarded'])
        .default('x-forwarded-for'),
    )
    .addOption(
      new Option('--audit-log <file>', 'append one JSON line per eval, commit and rollback to this file').env(
        'VMGATE_AUDIT_LOG',
      ),
    )
    .addOption(
      new Option('--log-format <format>', 'logs as JSON lines, or pretty for people (auto: pretty on a terminal)')
        .choices(['auto', 'pretty', 'json'])
        .default('auto')
        .env('VMGATE_LOG_FORMAT'),
    )
    .addOption(
      new Option('--log-level <level>', 'log level')
        .choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
        .default('info')
        .env('VMGATE_LOG_LEVEL'),
    )
    .option(
      '--max-frame-bytes <n>',
      `largest accepted frame in bytes; close 1009 beyond (default ${L.maxFrameBytes})`,
      int('--max-frame-bytes'),
    )
    .option('--max-sessions <n>', `sessions in total; 503 beyond (default ${L.maxSessions})`, int('--max-sessions'))
    .option(
      '--max-sessions-per-address <n>',
      `sessions per client address; 429 beyond (default ${L.maxSessionsPerAddress})`,
      int('--max-sessions-per-address'),
    )
    .option(
      '--idle-timeout-ms <n>',
      `close idle sessions after this long, 0 = never (default ${L.idleTimeoutMs})`,
      int('--idle-timeout-ms'),
    )
    .option(
      '--max-lifetime-ms <n>',
      `close sessions after this long, 0 = never (default ${L.maxLifetimeMs})`,
      int('--max-lifetime-ms'),
    )
    .option(
      '--heartbeat-ms <n>',
      `ping interval; a peer that misses one is dropped, 0 = off (default ${L.heartbeatMs})`,
      int('--heartbeat-ms'),
    )
    .option(
      '--resume-grace-ms <n>',
      `how long a dropped JSON-mode session waits to be resumed, 0 = no resuming (default ${L.resumeGraceMs})`,
      int('--resume-grace-ms'),
    )
    .option(
      '--resume-buffer-bytes <n>',
      `frames kept for replay after a drop (default ${L.resumeBufferBytes})`,
      int('--resume-buffer-bytes'),
    )
    .option(
      '--memory-budget-mb <n>',
      'frames held for clients (send queues, resume buffers), all sessions together, MiB (default: a quarter of the heap, at most 512)',
      int('--memory-budget-mb'),
    )
    .option(
      '--max-reply-frame-bytes <n>',
      `largest frame the gateway sends; longer text is cut with a marker (default ${L.maxReplyFrameBytes})`,
      int('--max-reply-frame-bytes'),
    )
    .option(
      '--max-frames-per-second <n>',
      `frames a connection may send per second (burst: twice), LIMIT beyond, 1008 if it persists; 0 = off (default ${L.maxFramesPerSecond})`,
      int('--max-frames-per-second'),
    )
    .option(
      '--max-bytes-per-second <n>',
      `payload bytes a connection may send per second (burst: twice); 0 = off (default ${L.maxBytesPerSecond})`,
      int('--max-bytes-per-second'),
    )
    .option(
      '--max-detached-sessions <n>',
      'sessions waiting to be resumed, in total; the oldest is evicted beyond (default: half of --max-sessions)',
      int('--max-detached-sessions'),
    )
    .option(
      '--max-detached-per-address <n>',
      `sessions waiting to be resumed per client address (default ${L.maxDetachedPerAddress})`,
      int('--max-detached-per-address'),
    )
    .option(
      '--max-detached-per-user <n>',
      `sessions waiting to be resumed per authenticated user (default ${L.maxDetachedPerUser})`,
      int('--max-detached-per-user'),
    )
    .option(
      '--header-timeout-ms <n>',
      `drop a connection that has not sent its request or upgrade headers after this long (default ${L.headerTimeoutMs})`,
      int('--header-timeout-ms'),
    )
    .option(
      '--descriptor-reserve <n>',
      `file descriptors kept for probes, the database and executors; sessions beyond the rest get 503 (default ${L.descriptorReserve})`,
      int('--descriptor-reserve'),
    )
    .option(
      '--ready-max-lag-ms <n>',
      `/readyz is 503 while the event loop lags more than this (default ${L.readyMaxLagMs})`,
      int('--ready-max-lag-ms'),
    )
    .option(
      '--eval-timeout-ms <n>',
      `time budget of an eval when the client names none (default ${S.defaultTimeoutMs})`,
      int('--eval-timeout-ms'),
    )
    .option(
      '--max-eval-timeout-ms <n>',
      `largest budget a client may ask for (default ${S.maxTimeoutMs})`,
      int('--max-eval-timeout-ms'),
    )
    .option(
      '--max-queued-evals <n>',
      `evals that may wait behind the running one (default ${S.maxQueuedEvals})`,
      int('--max-queued-evals'),
    )
    .option(
      '--max-queued-budget-ms <n>',
      `time budget a session's waiting evals may hold together, running one included (default ${S.maxQueuedBudgetMs})`,
      int('--max-queued-budget-ms'),
    )
    .option(
      '--user-cpu-quota-ms <n>',
      `CPU ms a user (JWT) or client address may use per window; then QUOTA_EXCEEDED, 0 = none (default ${DEFAULT_CPU_QUOTA.quotaMs})`,
      int('--user-cpu-quota-ms'),
    )
    .option(
      '--user-cpu-window-ms <n>',
      `the sliding window of --user-cpu-quota-ms (default ${DEFAULT_CPU_QUOTA.windowMs})`,
      int('--user-cpu-window-ms'),
    )
    .option(
      '--max-output-bytes <n>',
      `console output per eval in bytes (default ${S.maxOutputBytesPerEval})`,
      int('--max-output-bytes'),
    )
    .option(
      '--shutdown-timeout-ms <n>',
      'how long shutdown waits for sessions (default 10000)',
      int('--shutdown-timeout-ms'),
    )
    .addOption(
      new Option(
        '--database-url <url>',
        'MySQL/MariaDB server: mysql://user:pass@host:3306/db (default: an embedded server)',
      ).env('DATABASE_URL'),
    )
    .option('--no-database', 'run without a database (db answers DB_UNAVAILABLE)')
    .option('--db-pool-size <n>', `database connections in the pool (default ${D.poolSize})`, int('--db-pool-size'))
    .addOption(
      new Option(
        '--db-pool-mode <mode>',
        'session (default): a connection per session; transaction: returned (reset) after each commit/rollback, or at the end of an eval with no transaction open',
      ).choices(['session', 'transaction']),
    )
    .option(
      '--db-acquire-timeout-ms <n>',
      `wait this long for a free connection, then DB_BUSY (default ${D.acquireTimeoutMs})`,
      int('--db-acquire-timeout-ms'),
    )
    .option(
      '--db-statement-timeout-ms <n>',
      `server-side statement timeout, 0 = none (default ${D.statementTimeoutMs})`,
      int('--db-statement-timeout-ms'),
    )
    .option(
      '--db-idle-transaction-ms <n>',
      `roll back a transaction idle this long, 0 = never (default ${D.idleTransactionMs})`,
      int('--db-idle-transaction-ms'),
    )
    .option(
      '--db-accounts <file>',
      'JSON file mapping authenticated users (JWT sub) to database accounts: {"alice": {"user": "…", "password": "…"}}; unmapped sessions get no database (default: every session uses the URL\'s account)',
    )
    .option(
      '--db-account-pool-size <n>',
      `connections per mapped account (default ${D.accountPoolSize})`,
      int('--db-account-pool-size'),
    )
    .addOption(
      new Option('--executors <n>', 'executor processes hosting the sessions; 0 = sessions in the gateway process')
        .default(defaultExecutorCount(), 'one per CPU core')
        .argParser(int('--executors'))
        .env('VMGATE_EXECUTORS'),
    )
    .option(
      '--executor-heap-mb <n>',
      `V8 heap limit of each executor, MiB (default ${E.heapMb}, or ${HEAP_BASE_MB} + ${HEAP_KIB_PER_SESSION} KiB per session of its share of --max-sessions when more)`,
      int('--executor-heap-mb'),
    )
    .option(
      '--executor-max-rss-mb <n>',
      'an executor whose resident memory passes this (MiB) is replaced (default 2 × the heap limit)',
      int('--executor-max-rss-mb'),
    )
    .option(
      '--executor-unresponsive-ms <n>',
      `an executor silent this long beyond its evals' budgets is replaced (default ${E.unresponsiveMs})`,
      int('--executor-unresponsive-ms'),
    )
    .option(
      '--metrics-max-users <n>',
      `per-user metric series at most (JWT users; default ${E.maxUserSeries}: none)`,
      int('--metrics-max-users'),
    )
    .action(async (_flags, command: Command) => {
      // Handlers first: a signal that arrives while the gateway starts must not
      // meet the default disposition (SIGHUP would kill the process).
      const signals = installSignals();
      signals.attach(await serve(command));
    });
}

type Flags = Record<string, unknown>;

/** Flags from the command line or environment win; a config file fills in the rest. */
function resolveFlags(command: Command): Flags {
  const flags = command.opts() as Flags;
  const configFile = flags.config as string | undefined;
  if (!configFile) return flags;
  let config: Flags;
  try {
    config = JSON.parse(readFileSync(configFile, 'utf8')) as Flags;
  } catch (error) {
    throw new Error(`cannot read config file ${configFile}: ${(error as Error).message}`);
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new Error(`config file ${configFile} must hold a JSON object`);
  }
  const known = new Set(command.options.map((o) => o.attributeName()));
  const merged: Flags = { ...flags };
  for (const [key, value] of Object.entries(config)) {
    if (!known.has(key)) throw new Error(`config file ${configFile}: unknown option "${key}"`);
    const source = command.getOptionValueSource(key);
    if (source === undefined || source === 'default') merged[key] = value;
  }
  return merged;
}

export function optionsFromFlags(flags: Flags): StartOptions {
  const read = (file: unknown) => (typeof file === 'string' ? readFileSync(file, 'utf8') : undefined);
  // A source that is set at all (even to an empty string) must yield a usable
  // credential: gateway/auth.ts refuses to start otherwise.
  const auth: AuthOptions = {
    ...(typeof flags.tokens === 'string' ? { tokens: flags.tokens.split(',') } : {}),
    ...(typeof flags.tokenFile === 'string' ? { tokenFile: flags.tokenFile } : {}),
    jwt: jwtOptions(flags, read),
  };
  const pick = <K extends string>(entries: Record<K, unknown>) =>
    Object.fromEntries(Object.entries(entries).filter(([, v]) => v !== undefined)) as Partial<Record<K, number>>;
  const dbTuning: Omit<DatabaseOptions, 'url'> = {
    ...databaseDefaults(),
    ...pick({
      poolSize: flags.dbPoolSize,
      acquireTimeoutMs: flags.dbAcquireTimeoutMs,
      statementTimeoutMs: flags.dbStatementTimeoutMs,
      idleTransactionMs: flags.dbIdleTransactionMs,
      accountPoolSize: flags.dbAccountPoolSize,
    }),
    ...(typeof flags.dbAccounts === 'string'
      ? { accounts: parseAccounts(readFileSync(flags.dbAccounts, 'utf8')) }
      : {}),
    ...(flags.dbPoolMode === 'transaction' || flags.dbPoolMode === 'session'
      ? { poolMode: flags.dbPoolMode as PoolMode }
      : {}),
  };
  const database: DatabaseConfig =
    flags.database === false
      ? { mode: 'off' }
      : typeof flags.databaseUrl === 'string' && flags.databaseUrl !== ''
        ? { mode: 'url', url: flags.databaseUrl, ...dbTuning }
        : { mode: 'embedded', dataDir: DEFAULT_EMBEDDED_DIR, ...dbTuning };
  return {
    ...(typeof flags.gatewayId === 'string' ? { gatewayId: flags.gatewayId } : {}),
    database,
    host: String(flags.host),
    port: Number(flags.port),
    sharedFile: flags.shared === false ? undefined : (flags.shared as string),
    insecure: Boolean(flags.insecure),
    auth,
    allowOrigins: (flags.allowOrigin as string[] | undefined) ?? [],
    trustProxy:
      typeof flags.trustProxy === 'string'
        ? flags.trustProxy
            .split(',')
            .map((s) => s.trim())
            .filter((s) => s !== '')
        : [],
    trustProxyHeader: flags.trustProxyHeader === 'forwarded' ? 'forwarded' : 'x-forwarded-for',
    allowedHosts: ((flags.allowedHosts as string[] | string | undefined) ?? [])
      .toString()
      .split(',')
      .map((name) => name.trim())
      .filter((name) => name !== ''),
    cpuQuota: pick({ quotaMs: flags.userCpuQuotaMs, windowMs: flags.userCpuWindowMs }),
    auditLog: flags.auditLog as string | undefined,
    logLevel: String(flags.logLevel),
    ...(flags.shutdownTimeoutMs !== undefined ? { shutdownTimeoutMs: Number(flags.shutdownTimeoutMs) } : {}),
    limits: pick({
      maxFrameBytes: flags.maxFrameBytes,
      maxSessions: flags.maxSessions,
      maxSessionsPerAddress: flags.maxSessionsPerAddress,
      idleTimeoutMs: flags.idleTimeoutMs,
      maxLifetimeMs: flags.maxLifetimeMs,
      heartbeatMs: flags.heartbeatMs,
      resumeGraceMs: flags.resumeGraceMs,
      resumeBufferBytes: flags.resumeBufferBytes,
      memoryBudgetBytes: flags.memoryBudgetMb === undefined ? undefined : Number(flags.memoryBudgetMb) * 1024 * 1024,
      maxReplyFrameBytes: flags.maxReplyFrameBytes,
      maxFramesPerSecond: flags.maxFramesPerSecond,
      maxBytesPerSecond: flags.maxBytesPerSecond,
      maxDetachedSessions: flags.maxDetachedSessions,
      maxDetachedPerAddress: flags.maxDetachedPerAddress,
      maxDetachedPerUser: flags.maxDetachedPerUser,
      headerTimeoutMs: flags.headerTimeoutMs,
      descriptorReserve: flags.descriptorReserve,
      readyMaxLagMs: flags.readyMaxLagMs,
    }) as Partial<GatewayOptions['limits']>,
    executors: {
      ...(flags.executors !== undefined ? { count: Number(flags.executors) } : {}),
      ...pick({
        heapMb: flags.executorHeapMb,
        maxRssMb: flags.executorMaxRssMb,
        unresponsiveMs: flags.executorUnresponsiveMs,
        maxUserSeries: flags.metricsMaxUsers,
      }),
    },
    session: pick({
      defaultTimeoutMs: flags.evalTimeoutMs,
      maxTimeoutMs: flags.maxEvalTimeoutMs,
      maxQueuedEvals: flags.maxQueuedEvals,
      maxQueuedBudgetMs: flags.maxQueuedBudgetMs,
      maxOutputBytesPerEval: flags.maxOutputBytes,
    }) as Partial<GatewayOptions['session']>,
  };
}

const JWT_FLAGS = [
  'jwtSecret',
  'jwtPublicKey',
  'jwksFile',
  'jwtIssuer',
  'jwtAudience',
  'jwtAllowNoExp',
  'jwtClockToleranceS',
] as const;

/** JWT settings when any JWT flag is given (a setting without a key is then a startup error). */
function jwtOptions(flags: Flags, read: (file: unknown) => string | undefined): JwtOptions | undefined {
  if (JWT_FLAGS.every((name) => flags[name] === undefined)) return undefined;
  const publicKeyPem = read(flags.jwtPublicKey);
  const jwks = read(flags.jwksFile);
  return {
    ...(typeof flags.jwtSecret === 'string' ? { secret: flags.jwtSecret } : {}),
    ...(publicKeyPem !== undefined ? { publicKeyPem } : {}),
    ...(jwks !== undefined ? { jwks } : {}),
    ...(flags.jwtIssuer ? { issuer: String(flags.jwtIssuer) } : {}),
    ...(flags.jwtAudience ? { audience: String(flags.jwtAudience) } : {}),
    ...(flags.jwtAllowNoExp === true ? { allowNoExp: true } : {}),
    ...(flags.jwtClockToleranceS !== undefined ? { clockToleranceSec: Number(flags.jwtClockToleranceS) } : {}),
  };
}

async function serve(command: Command): Promise<Gateway> {
  // Loaded here, not at the top: `vmgate connect` and `vmgate bench` should not pay for the gateway.
  const { startGateway } = await import('../gateway/server');
  const flags = resolveFlags(command);
  const options = optionsFromFlags(flags);
  const tty = process.stdout.isTTY === true;
  const pretty = flags.logFormat === 'pretty' || (flags.logFormat !== 'json' && tty);
  const gateway = await startGateway({ ...options, logger: await createLogger(String(flags.logLevel), pretty) });
  if (tty) process.stdout.write(`\n${serveBanner({ gateway, cwd: process.cwd() })}\n`);
  return gateway;
}

/** JSON lines for machines; on a terminal, pino-pretty as a plain stream (no worker thread beside the realms). */
async function createLogger(level: string, pretty: boolean): Promise<Logger> {
  const { default: pino } = await import('pino');
  const options = { level, base: { service: 'vmgate' } };
  if (!pretty) return pino(options);
  const { default: pinoPretty } = await import('pino-pretty');
  return pino(
    options,
    pinoPretty({
      sync: true,
      colorize: process.stdout.isTTY === true,
      ignore: 'pid,hostname,service',
      translateTime: 'SYS:HH:MM:ss',
      singleLine: true,
    }),
  );
}

/**
 * A signal received again this long after the first forces an immediate
 * exit. Sooner, it is the same request delivered twice: Ctrl-C under
 * `npm start` reaches the gateway from the terminal and again from npm,
 * which forwards it.
 */
const FORCE_AFTER_MS = 1_000;

function installSignals(): { attach(gateway: Gateway): void } {
  let gateway: Gateway | undefined;
  let pending: string | undefined;
  let stoppingSince: number | undefined;
  const stop = (signal: string) => {
    if (!gateway) {
      // Still starting: stop as soon as it is up.
      pending ??= signal;
      return;
    }
    if (stoppingSince !== undefined) {
      if (performance.now() - stoppingSince >= FORCE_AFTER_MS) process.exit(1);
      return;
    }
    stoppingSince = performance.now();
    // On a terminal, say what Ctrl-C does, so that it does not look like a crash.
    const tty = process.stdout.isTTY === true;
    const open = gateway.sessions.size;
    if (tty) {
      process.stdout.write(
        `\nvmgate: shutting down (${signal}): closing ${open} session${open === 1 ? '' : 's'}, rolling back open transactions\n`,
      );
    }
    gateway.close(`server shutting down (${signal})`).then(
      () => {
        if (tty) process.stdout.write('vmgate: stopped\n');
        process.exit(0);
      },
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    // Before the gateway is up there is nothing to reload: it is reading both now.
    if (!gateway) return;
    try {
      gateway.reloadShared();
    } catch (error) {
      process.stderr.write(`vmgate: shared state reload failed: ${(error as Error).message}\n`);
    }
    try {
      gateway.reloadTokens();
    } catch (error) {
      process.stderr.write(`vmgate: token reload refused, the tokens in use stay: ${(error as Error).message}\n`);
    }
  });
  return {
    attach(started) {
      gateway = started;
      if (pending) stop(pending);
    },
  };
}
