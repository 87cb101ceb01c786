import type { IncomingMessage } from 'node:http';
import type { Authenticator, AuthResult } from './auth';
import type { GatewayLimits } from './config';
import type { DetachedSessions } from './detached-sessions';
import type { GatewayState } from './http-routes';
import type { HostAllowlist } from './request-origin';
import type { Session } from './session';
import type { SessionRegistry } from './session-registry';

/**
 * What a WebSocket upgrade must pass before the handshake (docs/operations.md,
 * docs/security.md): the `Host`, the gateway running, a descriptor left, the
 * `Origin`, the credential; then, for a new session (not a resume), a place
 * under the session limits (`takePlace`). A refusal is an HTTP status, never
 * an accepted and then dropped socket.
 */

export interface UpgradeContext {
  readonly state: () => GatewayState;
  readonly hosts: HostAllowlist;
  readonly allowOrigins: readonly string[];
  readonly auth: Authenticator;
  /** Whether every descriptor sessions may use is taken. */
  readonly outOfDescriptors: () => boolean;
  readonly registry: SessionRegistry;
  readonly detached: DetachedSessions<Session>;
  readonly limits: GatewayLimits;
}

export type UpgradeVerdict =
  | { readonly ok: false; readonly status: number; readonly reason: string }
  | {
      readonly ok: true;
      readonly identity: Extract<AuthResult, { ok: true }>;
      /** Set when the client asks to resume (`?resume=<token>&last=<seq>`). */
      readonly resume: { readonly token: string; readonly last: number } | undefined;
    };

const refused = (status: number, reason: string): UpgradeVerdict => ({ ok: false, status, reason });

export async function checkUpgrade(request: IncomingMessage, ctx: UpgradeContext): Promise<UpgradeVerdict> {
  if (!ctx.hosts.allowsHost(request.headers.host)) return refused(403, 'host not allowed');
  if (ctx.state() !== 'running') return refused(503, 'server is shutting down');
  if (ctx.outOfDescriptors()) return refused(503, 'too many connections (file descriptors)');
  if (!ctx.hosts.allowsOrigin(request, ctx.allowOrigins)) return refused(403, 'origin not allowed');
  const identity = await ctx.auth.authenticate(request);
  if (!identity.ok) return refused(identity.status, identity.reason);
  const query = new URL(request.url ?? '/', 'http://localhost').searchParams;
  const resumeToken = query.get('resume');
  if (resumeToken !== null) {
    return { ok: true, identity, resume: { token: resumeToken, last: Number(query.get('last') ?? 0) } };
  }
  return { ok: true, identity, resume: undefined };
}

/**
 * A new session's place under the session limits, taken at once: the check
 * and the count happen in one synchronous step (and before the asynchronous
 * handshake), so a burst cannot pass the limits together. Sessions waiting
 * to be resumed give way to a new one: dropped sessions cannot lock anyone out.
 */
export function takePlace(
  address: string,
  ctx: Pick<UpgradeContext, 'registry' | 'detached' | 'limits'>,
): { readonly ok: true; readonly release: () => void } | Extract<UpgradeVerdict, { ok: false }> {
  const { registry, detached, limits } = ctx;
  if (registry.heldBy(address) >= limits.maxSessionsPerAddress) {
    detached.evictOldest('a new session from this address needed its place', address);
  }
  if (registry.held >= limits.maxSessions) detached.evictOldest('a new session needed its place');
  if (registry.held >= limits.maxSessions) return { ok: false, status: 503, reason: 'too many sessions' };
  if (registry.heldBy(address) >= limits.maxSessionsPerAddress) {
    return { ok: false, status: 429, reason: 'too many sessions from this address' };
  }
  return { ok: true, release: registry.reserve(address) };
}
