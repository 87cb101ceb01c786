import type { GatewayLimits } from '../../gateway/config';
import { DetachedSessions } from '../../gateway/detached-sessions';
import type { Session } from '../../gateway/session';
import { SessionRegistry } from '../../gateway/session-registry';
import { takePlace } from '../../gateway/upgrade-checks';

const limits = { maxSessions: 3, maxSessionsPerAddress: 2 } as GatewayLimits;

describe('session places (gateway/session-registry.ts, gateway/upgrade-checks.ts)', () => {
  test('a place is counted when taken and given back once, however often its release runs', () => {
    const registry = new SessionRegistry();
    const release = registry.reserve('10.0.0.1');
    registry.reserve('10.0.0.1');
    expect(registry.heldBy('10.0.0.1')).toBe(2);
    release();
    release();
    expect(registry.heldBy('10.0.0.1')).toBe(1);
  });

  test('takePlace refuses past the per-address limit with 429, and counts in the same step', () => {
    const registry = new SessionRegistry();
    const detached = new DetachedSessions<Session>({ total: 10, perAddress: 10, perUser: 10 });
    const ctx = { registry, detached, limits };
    expect(takePlace('a', ctx).ok).toBe(true);
    expect(takePlace('a', ctx).ok).toBe(true);
    expect(takePlace('a', ctx)).toEqual({ ok: false, status: 429, reason: 'too many sessions from this address' });
    expect(registry.heldBy('a')).toBe(2);
    expect(takePlace('b', ctx).ok).toBe(true);
  });
});
