import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EngineProvider } from '../executors/engine-provider';
import type { SharedStateStore } from '../shared-state/store';
import type { WebConsole } from '../web/serve-web';
import type { Authenticator } from './auth';
import { isLoopback } from './config';
import type { GatewayDatabase } from './database';
import type { DetachedSessions } from './detached-sessions';
import type { MemoryBudget } from './memory-budget';
import type { GatewayMetrics } from './metrics';
import type { HostAllowlist } from './request-origin';
import type { Session } from './session';

/**
 * The gateway's HTTP routes (docs/operations.md, "Endpoints"): the web
 * console, `/healthz`, `/readyz`, `/metrics` and `POST /admin/reload-shared`.
 * They read the gateway's state through `RouteContext`; they change nothing
 * but the shared state, through the gateway's own reload.
 */

export type GatewayState = 'starting' | 'running' | 'closing' | 'closed';

export interface RouteContext {
  readonly state: () => GatewayState;
  readonly hosts: HostAllowlist;
  readonly auth: Authenticator;
  readonly web: WebConsole;
  readonly database: GatewayDatabase;
  readonly engines: EngineProvider;
  readonly metrics: GatewayMetrics;
  readonly sessions: ReadonlySet<Session>;
  readonly detached: DetachedSessions<Session>;
  readonly budget: MemoryBudget;
  readonly shared: SharedStateStore | undefined;
  readonly gatewayId: string | undefined;
  readonly readyMaxLagMs: number;
  /** The p99 event-loop delay of the current window, ms. */
  readonly eventLoopLagMs: () => number;
  readonly connections: () => { readonly open: number; readonly limit: number | null };
  /** The gateway's `reloadShared()`. */
  readonly reloadShared: () => string | undefined;
}

/** The request handler of the gateway's HTTP server. */
export function createHttpRoutes(
  ctx: RouteContext,
): (request: IncomingMessage, response: ServerResponse) => Promise<void> {
  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (!ctx.hosts.allowsHost(request.headers.host)) return send(response, 403, 'host not allowed\n');
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (path === '/admin/reload-shared' && request.method === 'POST') return reloadOverHttp(request, response);
    if (request.method !== 'GET' && request.method !== 'HEAD') return send(response, 405, 'method not allowed\n');
    if (ctx.web.handles(path)) return ctx.web.serve(request, response, path);
    switch (path) {
      case '/healthz':
        return ctx.state() === 'running' ? send(response, 200, 'ok\n') : send(response, 503, `${ctx.state()}\n`);
      case '/readyz': {
        if (ctx.state() !== 'running') return sendJson(response, 503, { ready: false, state: ctx.state() });
        const db = await ctx.database.status();
        const hosting = ctx.engines.status();
        const lagMs = ctx.eventLoopLagMs();
        const saturated = hosting.executors?.busy ?? 0;
        // Not ready: a configured database that cannot be reached, no executor, every executor busy
        // beyond its heartbeat, or an event loop that lags (the gateway cannot serve sessions promptly).
        const ready =
          db !== 'unavailable' &&
          hosting.ready &&
          lagMs <= ctx.readyMaxLagMs &&
          !(hosting.executors && saturated >= hosting.executors.ready);
        // With authentication on, only credentials see the details; anyone sees whether it is ready.
        if (ctx.auth.required && !(await ctx.auth.authenticate(request)).ok)
          return sendJson(response, ready ? 200 : 503, { ready });
        return sendJson(response, ready ? 200 : 503, {
          ready,
          sessions: ctx.sessions.size,
          detached: ctx.detached.size,
          eventLoopLagMs: Math.round(lagMs),
          memoryBudget: { used: ctx.budget.used, limit: ctx.budget.limit },
          connections: ctx.connections(),
          shared: ctx.shared?.current.version ?? null,
          database: db,
          gatewayId: ctx.gatewayId ?? null,
          executors: hosting.executors ?? null,
        });
      }
      case '/metrics': {
        if (ctx.auth.required) {
          const identity = await ctx.auth.authenticate(request);
          if (!identity.ok) return send(response, 401, `${identity.reason}\n`, { 'www-authenticate': 'Bearer' });
        }
        ctx.metrics.sessionsOpen.set(ctx.sessions.size);
        ctx.metrics.sessionsDetached.set(ctx.detached.size);
        ctx.metrics.memoryBudgetUsed.set(ctx.budget.used);
        ctx.metrics.dbConnectionsBound.set(ctx.engines.dbBound);
        ctx.engines.refreshMetrics();
        const body = await ctx.metrics.registry.metrics();
        response.writeHead(200, { 'content-type': ctx.metrics.registry.contentType });
        response.end(body);
        return;
      }
      default:
        return send(response, 404, 'not found\n');
    }
  }

  /**
   * `POST /admin/reload-shared`: the API twin of SIGHUP. Never from another
   * site's page (a browser's cross-site POST); then a valid token when the
   * gateway has authentication, otherwise only loopback clients.
   */
  async function reloadOverHttp(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (ctx.hosts.crossSite(request)) return send(response, 403, 'cross-site request refused\n');
    if (ctx.auth.required) {
      const identity = await ctx.auth.authenticate(request);
      if (!identity.ok) return send(response, 401, `${identity.reason}\n`, { 'www-authenticate': 'Bearer' });
    } else if (!isLoopback(request.socket.remoteAddress ?? '')) {
      return send(response, 403, 'reload is allowed from loopback only when the gateway has no authentication\n');
    }
    if (!ctx.shared) return sendJson(response, 409, { error: 'no shared state is configured' });
    try {
      const version = ctx.reloadShared();
      return sendJson(response, 200, { version });
    } catch (error) {
      return sendJson(response, 422, { error: (error as Error).message });
    }
  }

  return handle;
}

function send(response: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
  response.end(body);
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}
