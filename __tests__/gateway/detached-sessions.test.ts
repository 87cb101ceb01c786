import { type Detachable, DetachedSessions } from '../../gateway/detached-sessions';

function session(name: string, address: string, user: string | null, evicted: string[]): Detachable & { name: string } {
  return { name, address, principal: user === null ? 'anonymous' : `jwt:${user}`, evict: () => evicted.push(name) };
}

describe('detached sessions budget', () => {
  test('per address, per user and in total, the oldest goes first', () => {
    const evicted: string[] = [];
    const detached = new DetachedSessions({ total: 4, perAddress: 2, perUser: 2 });
    detached.add(session('a1', 'A', null, evicted));
    detached.add(session('a2', 'A', null, evicted));
    detached.add(session('a3', 'A', null, evicted));
    expect(evicted).toEqual(['a1']);
    // One user from two addresses: the user's limit applies across them.
    detached.add(session('u1', 'B', 'alice', evicted));
    detached.add(session('u2', 'C', 'alice', evicted));
    detached.add(session('u3', 'D', 'alice', evicted));
    expect(evicted).toEqual(['a1', 'u1']);
    // Total: a2, a3, u2, u3 are held; one more evicts the oldest of them all.
    detached.add(session('e1', 'E', null, evicted));
    expect(evicted).toEqual(['a1', 'u1', 'a2']);
    expect(detached.size).toBe(4);
    expect(detached.evictOldest('room', 'D')).toBe(true);
    expect(evicted.at(-1)).toBe('u3');
    expect(detached.evictOldest('room', 'Z')).toBe(false);
  });
});
