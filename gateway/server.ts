import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { getHeapStatistics } from 'node:v8';
import pino, { type Logger } from 'pino';
import { WebSocketServer } from 'ws';
import { startEngines } from '../executors/engines';
import { helloFrame } from '../protocol/frames';
import { CLOSE_CODES, JSON_SUBPROTOCOL } from '../protocol/messages';
import { promiseHooksEnabled } from '../sandbox/process-guards';
import { describeWatchdog } from '../sandbox/watchdog';
import { SharedStateStore } from '../shared-state/store';
import { createWebConsole } from '../web/serve-web';
import { AuditLog } from './audit-log';
import { createAuthenticator } from './auth';
import { clientAddressResolver } from './client-address';
import { defaultGatewayOptions, type GatewayOptions, isLoopback } from './config';
import { CpuQuota } from './cpu-quota';
import { type GatewayDatabase, openDatabase } from './database';
import { type DescriptorLimit, descriptorLimit } from './descriptors';
import { DetachedSessions } from './detached-sessions';
import { createHttpRoutes, type GatewayState } from './http-routes';
import { defaultMemoryBudgetBytes, MemoryBudget } from './memory-budget';
import { GatewayMetrics } from './metrics';
import { HostAllowlist } from './request-origin';
import { Session, type SessionMode } from './session';
import { SessionRegistry } from './session-registry';
import { GatewayStartError } from './start-error';
import { checkUpgrade, takePlace, type UpgradeContext } from './upgrade-checks';
import { VERSION } from './version';

/**
 * The gateway: an HTTP server whose upgrades become sessions. It owns the
 * listening socket, the session registry, the shared state store, the audit
 * log and the metrics; `close()` shuts them down in reverse order.
 */

export interface Gateway {
  readonly url: string;
  readonly port: number;
  readonly host: string;
  readonly metrics: GatewayMetrics;
  readonly sessions: ReadonlySet<Session>;
  readonly shared: SharedStateStore | undefined;
  readonly database: GatewayDatabase;
  /** Executor processes hosting the sessions (0: sessions run in this process). */
  readonly executors: number;
  /** Whether a token or JWT is needed to open a session. */
  readonly authRequired: boolean;
  /** The budget every frame held for a client counts against. */
  readonly budget: MemoryBudget;
  /** This process's `nofile` limit, when it can be read (sessions get what the reserve leaves). */
  readonly descriptors: DescriptorLimit | undefined;
  /** Loads the shared state file again: new sessions get the new version. */
  reloadShared(): string | undefined;
  /**
   * Reads the token file again: how many tokens are accepted now, undefined
   * without a file. Throws (code NO_TOKENS, TOKEN_FILE_UNREADABLE, BAD_TOKEN)
   * and keeps the tokens in use when the file yields none.
   */
  reloadTokens(): number | undefined;
  /** Graceful shutdown: refuse new sessions, close open ones with 1001, wait up to the deadline. */
  close(reason?: string): Promise<void>;
}

export interface StartOptions extends Partial<Omit<GatewayOptions, 'limits' | 'session' | 'auth' | 'cpuQuota'>> {
  readonly limits?: Partial<GatewayOptions['limits']>;
  readonly cpuQuota?: Partial<GatewayOptions['cpuQuota']>;
  readonly session?: Partial<GatewayOptions['session']>;
  readonly auth?: Partial<GatewayOptions['auth']>;
  readonly logger?: Logger;
}

export { GatewayStartError };

export async function startGateway(start: StartOptions = {}): Promise<Gateway> {
  const options = defaultGatewayOptions(start as Partial<GatewayOptions>);
  const log = start.logger ?? pino({ level: options.logLevel, base: { service: 'vmgate' } });
  if (await promiseHooksEnabled()) {
    throw new GatewayStartError(
      'ASYNC_HOOKS',
      'async_hooks promise tracking is enabled in this process (an APM agent or AsyncLocalStorage?): session realms cannot run safely with it',
    );
  }
  const auth = await createAuthenticator(options.auth);
  const clientAddress = clientAddressResolver(options.trustProxy, options.trustProxyHeader);
  if (!isLoopback(options.host) && !auth.required && !options.insecure) {
    throw new GatewayStartError(
      'INSECURE_BIND',
      `refusing to listen on ${options.host} without authentication: set a token (--token-file / VMGATE_TOKENS) or JWT key, or pass --insecure`,
    );
  }
  // A port in use is found before the database and the executors start (seconds, and their logs).
  if (options.port !== 0) await listen(createServer(), options.port, options.host, true);
  const hosts = new HostAllowlist(options.host, options.allowedHosts);
  const cpuQuota = new CpuQuota(options.cpuQuota);
  const shared = options.sharedFile ? SharedStateStore.load(options.sharedFile) : undefined;
  const audit = options.auditLog ? await AuditLog.open(options.auditLog) : undefined;
  const database = await openDatabase(options.database, log);
  const metrics = new GatewayMetrics();
  // Session engines: in executor processes, or in this process with `executors: 0` (executors/).
  const engines = await startEngines({
    executors: options.executors,
    // One cap for every frame: the engines cut what they emit to the gateway's frame cap.
    sessionLimits: { ...options.session, maxMessageBytes: options.limits.maxReplyFrameBytes },
    maxSessions: options.limits.maxSessions,
    shared,
    database,
    registry: metrics.registry,
    log,
  }).catch(async (error: unknown) => {
    await database.close();
    await audit?.close();
    throw error;
  });
  const registry = new SessionRegistry();
  const { sessions } = registry;
  let state: GatewayState = 'starting';
  const { limits } = options;
  const detached = new DetachedSessions<Session>({
    total: limits.maxDetachedSessions > 0 ? limits.maxDetachedSessions : Math.floor(limits.maxSessions / 2),
    perAddress: limits.maxDetachedPerAddress,
    perUser: limits.maxDetachedPerUser,
  });
  const budget = new MemoryBudget(
    limits.memoryBudgetBytes > 0
      ? limits.memoryBudgetBytes
      : defaultMemoryBudgetBytes(getHeapStatistics().heap_size_limit),
    () => detached.evictOldest('the gateway memory budget is full'),
    () => {
      // The culprit: the attached client with the most unread bytes, if it is past its soft limit (not reading).
      let heaviest: Session | undefined;
      for (const session of sessions)
        if (session.backlog > (heaviest?.backlog ?? limits.sendBufferSoftBytes)) heaviest = session;
      heaviest?.shed();
      return heaviest !== undefined;
    },
  );
  metrics.memoryBudgetLimit.set(budget.limit);

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: options.limits.maxFrameBytes,
    // Only our subprotocol is ever selected; anything else is text mode.
    handleProtocols: (protocols) => (protocols.has(JSON_SUBPROTOCOL) ? JSON_SUBPROTOCOL : false),
    perMessageDeflate: false,
    // One message per turn of the event loop, so one socket's backlog cannot hold up every other socket.
    allowSynchronousEvents: false,
  });

  // The web console (GET /): static files and the codec module, loaded once, served from memory.
  const web = createWebConsole();
  const server = createServer(
    // Half-open requests and upgrades are dropped after `headerTimeoutMs`, checked every second.
    {
      headersTimeout: limits.headerTimeoutMs,
      requestTimeout: limits.headerTimeoutMs,
      connectionsCheckingInterval: 1_000,
    },
    (request, response) => void routes(request, response),
  );
  // Descriptors: sessions get what the reserve leaves; past that, 503 (and, at the very end, no accept at all).
  const descriptors = descriptorLimit();
  const sessionDescriptors = descriptors ? Math.max(16, descriptors.soft - limits.descriptorReserve) : Infinity;
  if (descriptors && Number.isFinite(descriptors.soft)) {
    server.maxConnections = Math.max(32, descriptors.soft - Math.floor(limits.descriptorReserve / 2));
  }
  let connections = 0;
  server.on('connection', (socket) => {
    connections++;
    socket.once('close', () => connections--);
  });
  // Event-loop delay, for /readyz: the p99 of the last window (reset every 5 s).
  const loopDelay = monitorEventLoopDelay({ resolution: 20 });
  loopDelay.enable();
  let lagP99Ms = 0;
  const lagWindow = setInterval(() => {
    lagP99Ms = loopDelay.percentile(99) / 1e6;
    loopDelay.reset();
  }, 5_000);
  lagWindow.unref();
  const routes = createHttpRoutes({
    state: () => state,
    hosts,
    auth,
    web,
    database,
    engines,
    metrics,
    sessions,
    detached,
    budget,
    shared,
    gatewayId: options.gatewayId,
    readyMaxLagMs: limits.readyMaxLagMs,
    eventLoopLagMs: () => Math.max(lagP99Ms, loopDelay.percentile(99) / 1e6),
    connections: () => ({ open: connections, limit: Number.isFinite(sessionDescriptors) ? sessionDescriptors : null }),
    reloadShared: () => gateway.reloadShared(),
  });

  const upgradeContext: UpgradeContext = {
    state: () => state,
    hosts,
    allowOrigins: options.allowOrigins,
    auth,
    outOfDescriptors: () => connections > sessionDescriptors,
    registry,
    detached,
    limits,
  };
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    void handleUpgrade(request, socket, head);
  });

  async function handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy());
    const address = clientAddress(request);
    const refuse = (status: number, reason: string) => {
      metrics.upgradesRefused.inc({ status: String(status) });
      log.info({ address, status, reason }, 'upgrade refused');
      rejectUpgrade(socket, status, reason);
    };
    const verdict = await checkUpgrade(request, upgradeContext);
    if (!verdict.ok) return refuse(verdict.status, verdict.reason);
    const { identity } = verdict;
    if (verdict.resume) {
      const { token, last } = verdict.resume;
      return resumeUpgrade(request, socket, head, token, last, identity.principal, address);
    }
    const place = takePlace(address, upgradeContext);
    if (!place.ok) return refuse(place.status, place.reason);
    const uncount = place.release;
    socket.once('close', uncount);
    wss.handleUpgrade(request, socket, head, (ws) => {
      if (state !== 'running') {
        ws.close(CLOSE_CODES.goingAway, 'server is shutting down');
        return;
      }
      const mode: SessionMode = ws.protocol === JSON_SUBPROTOCOL ? 'json' : 'text';
      const id = randomUUID();
      const sharedState = shared?.current;
      const { resumeGraceMs, resumeBufferBytes } = options.limits;
      const resume =
        mode === 'json' && resumeGraceMs > 0
          ? { token: resumeTokenFor(options.gatewayId), graceMs: resumeGraceMs, bufferBytes: resumeBufferBytes }
          : undefined;
      // From here on the session, not the socket, holds the address's count.
      socket.off('close', uncount);
      const session = new Session({
        id,
        mode,
        socket: ws,
        resume,
        user: identity.user,
        principal: identity.principal,
        address,
        limits: options.limits,
        evalTimeouts: { defaultMs: options.session.defaultTimeoutMs, maxMs: options.session.maxTimeoutMs },
        budget,
        detached,
        metrics,
        log,
        audit,
        cpuQuota,
        version: VERSION,
        sharedVersion: sharedState?.version,
        hello: () =>
          helloFrame({
            session: id,
            protocol: JSON_SUBPROTOCOL,
            server: { name: 'vmgate', version: VERSION },
            limits: {
              maxFrameBytes: options.limits.maxFrameBytes,
              defaultTimeoutMs: options.session.defaultTimeoutMs,
              maxTimeoutMs: options.session.maxTimeoutMs,
              maxQueuedEvals: options.session.maxQueuedEvals,
              maxOutputBytesPerEval: options.session.maxOutputBytesPerEval,
              idleTimeoutMs: options.limits.idleTimeoutMs,
              maxReplyFrameBytes: limits.maxReplyFrameBytes,
              maxFramesPerSecond: limits.maxFramesPerSecond,
              maxBytesPerSecond: limits.maxBytesPerSecond,
            },
            shared: sharedState ? { version: sharedState.version } : null,
            user: identity.user,
            resume: resume ? { token: resume.token, graceMs: resume.graceMs } : null,
          }),
        createEngine: (emit) =>
          engines.open({
            sessionId: id,
            user: identity.user,
            shared: sharedState,
            emit,
            // The executor hosting the session was killed or crashed.
            onLost: (why) => void session.close(`executor restarted: ${why}`, CLOSE_CODES.internal),
          }),
        onClosing: () => {
          registry.closing();
          uncount();
        },
        onClosed: (closed, reason) => {
          registry.closed(closed, reason);
          metrics.sessionsClosed.inc({ reason: reasonLabel(reason) });
          metrics.sessionsOpen.set(sessions.size);
        },
      });
      registry.add(session, resume?.token);
      metrics.sessionsOpened.inc();
      metrics.sessionsOpen.set(sessions.size);
      log.info({ session: id, user: identity.user, address, mode }, 'session opened');
    });
  }

  /**
   * A client resumes its session (docs/protocol.md): refusals are a close
   * code and reason on an accepted socket, which a browser can read.
   */
  function resumeUpgrade(
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    token: string,
    last: number,
    principal: string,
    address: string,
  ): void {
    wss.handleUpgrade(request, socket, head, (ws) => {
      const refuseResume = (code: number, reason: string) => {
        metrics.upgradesRefused.inc({ status: String(code) });
        log.info({ address, code, reason }, 'resume refused');
        ws.close(code, reason);
      };
      if (state !== 'running') return ws.close(CLOSE_CODES.goingAway, 'server is shutting down');
      if (ws.protocol !== JSON_SUBPROTOCOL) {
        return refuseResume(CLOSE_CODES.resumeNotFound, 'only JSON-mode (vmgate.v1) sessions resume');
      }
      const ended = registry.ended(token);
      if (ended !== undefined) return refuseResume(ended.code, ended.reason);
      const session = registry.resumable(token);
      if (!session) return refuseResume(CLOSE_CODES.resumeNotFound, 'no such session');
      if (session.principal !== principal) {
        return refuseResume(CLOSE_CODES.resumeForbidden, 'the session belongs to another user');
      }
      // Every resume gets a fresh token, sent in `resumed`; the one just used stops working.
      const next = resumeTokenFor(options.gatewayId);
      const refusal = session.resume(ws, Number.isSafeInteger(last) && last >= 0 ? last : 0, next, address);
      if (refusal) return refuseResume(refusal.code, refusal.reason);
      registry.renewToken(token, next, session);
    });
  }

  // Heartbeat (the ws README pattern): a peer that missed a whole interval is dropped.
  const heartbeat =
    options.limits.heartbeatMs > 0
      ? setInterval(() => {
          for (const session of sessions) {
            if (session.state !== 'open') continue; // detached sessions have no socket to ping
            if (!session.alive) {
              session.terminate('heartbeat timeout');
              continue;
            }
            session.alive = false;
            session.ping();
          }
        }, options.limits.heartbeatMs)
      : undefined;
  heartbeat?.unref();

  try {
    await listen(server, options.port, options.host);
  } catch (error) {
    await engines.close();
    await database.close();
    await audit?.close();
    throw error;
  }
  state = 'running';
  if (limits.maxSessions > sessionDescriptors) {
    log.warn(
      { maxSessions: limits.maxSessions, descriptors: descriptors?.soft, reserve: limits.descriptorReserve },
      'max sessions is above what the descriptor limit allows: sessions beyond it get 503 (raise `ulimit -n`)',
    );
  }
  const address = server.address() as AddressInfo;
  const hostForUrl = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  log.info(
    {
      host: address.address,
      port: address.port,
      gatewayId: options.gatewayId ?? null,
      shared: shared?.current.version ?? null,
      database: database.description,
      descriptors: descriptors ? { soft: descriptors.soft, hard: descriptors.hard } : null,
      memoryBudgetBytes: budget.limit,
      watchdog: describeWatchdog(),
    },
    'gateway listening',
  );

  let closing: Promise<void> | undefined;
  const gateway: Gateway = {
    url: `ws://${hostForUrl}:${address.port}`,
    port: address.port,
    host: address.address,
    metrics,
    sessions,
    shared,
    database,
    executors: engines.status().executors?.total ?? 0,
    authRequired: auth.required,
    budget,
    descriptors,
    reloadShared() {
      if (!shared) return undefined;
      const next = shared.reload();
      log.info({ version: next.version }, 'shared state reloaded');
      return next.version;
    },
    reloadTokens() {
      try {
        const count = auth.reloadTokens();
        if (count !== undefined) log.info({ tokens: count }, 'tokens reloaded');
        return count;
      } catch (error) {
        log.error({ code: (error as GatewayStartError).code }, 'token reload refused: the tokens in use stay');
        throw error;
      }
    },
    close(reason = 'server shutting down') {
      closing ??= (async () => {
        state = 'closing';
        clearInterval(heartbeat);
        clearInterval(lagWindow);
        loopDelay.disable();
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        const closes = Promise.all([...sessions].map((session) => session.close(reason, CLOSE_CODES.goingAway)));
        const deadline = new Promise<'deadline'>((resolve) => {
          setTimeout(() => resolve('deadline'), options.shutdownTimeoutMs).unref();
        });
        if ((await Promise.race([closes, deadline])) === 'deadline') {
          log.warn({ open: sessions.size }, 'shutdown deadline reached: terminating remaining sessions');
          for (const session of sessions) session.terminate(reason);
        }
        for (const client of wss.clients) client.terminate();
        server.closeAllConnections();
        await stopped;
        await new Promise<void>((resolve) => wss.close(() => resolve()));
        // After the sessions (their rollbacks run in the executors), before the database.
        await engines.close();
        // After the sessions: their rollbacks need the pool.
        await database.close();
        await audit?.close();
        state = 'closed';
        log.info('gateway closed');
      })();
      return closing;
    },
  };
  return gateway;
}

/**
 * 256 random bits (base64url: no dots), prefixed with `<gateway id>.` when
 * the gateway has an id, so a proxy can route a resume to the gateway that
 * holds the session (docs/deployment.md).
 */
function resumeTokenFor(gatewayId: string | undefined): string {
  const secret = randomBytes(32).toString('base64url');
  return gatewayId ? `${gatewayId}.${secret}` : secret;
}

/** Listens, or fails with a GatewayStartError; with `probe`, closes again at once (a check that the port is free). */
function listen(server: Server, port: number, host: string, probe = false): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      if (error.code === 'EADDRINUSE')
        reject(new GatewayStartError('PORT_IN_USE', `port ${port} on ${host} is already in use`));
      else if (error.code === 'EACCES')
        reject(new GatewayStartError('PORT_DENIED', `not allowed to listen on ${host}:${port}`));
      else reject(new GatewayStartError('LISTEN_FAILED', `cannot listen on ${host}:${port}: ${error.message}`));
    };
    const onListening = () => {
      server.off('error', onError);
      if (probe) server.close(() => resolve());
      else resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

function rejectUpgrade(socket: Duplex, status: number, reason: string): void {
  const statusText: Record<number, string> = {
    401: 'Unauthorized',
    403: 'Forbidden',
    429: 'Too Many Requests',
    503: 'Service Unavailable',
  };
  const body = `${reason}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${statusText[status] ?? 'Error'}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${status === 401 ? 'WWW-Authenticate: Bearer\r\n' : ''}\r\n${body}`,
  );
}

/** Metric labels must stay few: map free-text close reasons onto a fixed set. */
function reasonLabel(reason: string): string {
  for (const known of [
    'disconnected',
    'idle timeout',
    'session lifetime exceeded',
    'heartbeat timeout',
    'server shutting down',
    'client is not reading its frames',
    'frame too large',
    'socket error',
  ]) {
    if (reason === known || reason.startsWith(`${known} (`)) return known.replace(/ /g, '_');
  }
  return 'other';
}
