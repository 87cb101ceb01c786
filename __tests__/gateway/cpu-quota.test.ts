import { CpuQuota } from '../../gateway/cpu-quota';

describe('CpuQuota', () => {
  test('refuses a key past its quota until its use slides out of the window', () => {
    let now = 100_000;
    const quota = new CpuQuota({ quotaMs: 1_000, windowMs: 10_000 }, () => now);
    quota.charge('a', 600);
    expect(quota.retryAfterMs('a')).toBe(0);
    now += 3_000;
    quota.charge('a', 500);
    expect(quota.usedMs('a')).toBe(1_100);
    const wait = quota.retryAfterMs('a');
    // The first 600 ms leave the window 10 s (rounded up to a bucket) after they were used.
    expect(wait).toBeGreaterThan(6_000);
    expect(wait).toBeLessThanOrEqual(8_000);
    expect(quota.retryAfterMs('b')).toBe(0);
    now += wait;
    expect(quota.retryAfterMs('a')).toBe(0);
    expect(quota.usedMs('a')).toBe(500);
    now += 20_000;
    expect(quota.usedMs('a')).toBe(0);
  });

  test('0 is no quota', () => {
    const quota = new CpuQuota({ quotaMs: 0, windowMs: 10_000 });
    quota.charge('a', 1e9);
    expect(quota.retryAfterMs('a')).toBe(0);
  });
});
