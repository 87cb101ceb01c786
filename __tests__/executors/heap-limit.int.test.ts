import { defaultHeapMb, resolveExecutorOptions } from '../../executors/options';
import type { Gateway } from '../../gateway/server';
import { sleep, startExecutorGateway } from '../helpers/executors';

/**
 * An executor's default heap limit holds its share of the gateway's session
 * limit: with the old fixed 1024 MiB, 10,000 sessions on 2 executors with a
 * 50 MB shared state filled the heap and V8 ended both executors.
 */

jest.setTimeout(60_000);

describe('the default heap limit of an executor', () => {
  test('is 1024 MiB, or 512 MiB + 256 KiB per session of its share when that is more', () => {
    expect(defaultHeapMb(2, 1_000)).toBe(1024);
    expect(defaultHeapMb(2, 10_000)).toBe(512 + 1250);
    expect(defaultHeapMb(4, 50_000)).toBe(512 + 3125);
    expect(defaultHeapMb(3, 10_000)).toBe(512 + Math.ceil((3334 * 256) / 1024));
    // In-process sessions, or no session limit known: the fixed default.
    expect(defaultHeapMb(0, 10_000)).toBe(1024);
    expect(defaultHeapMb(2, undefined)).toBe(1024);
  });

  test('the memory bound follows it; limits given explicitly are kept', () => {
    expect(resolveExecutorOptions({ count: 2 }, 10_000)).toMatchObject({ heapMb: 1762, maxRssMb: 3524 });
    expect(resolveExecutorOptions({ count: 2 }, 1_000)).toMatchObject({ heapMb: 1024, maxRssMb: 2048 });
    expect(resolveExecutorOptions({ count: 2, heapMb: 800 }, 10_000)).toMatchObject({ heapMb: 800, maxRssMb: 1600 });
    expect(resolveExecutorOptions({ count: 2, maxRssMb: 900 }, 10_000)).toMatchObject({ heapMb: 1762, maxRssMb: 900 });
  });

  describe('a gateway allowing 8000 sessions on one executor', () => {
    let gateway: Gateway;
    beforeAll(async () => {
      ({ gateway } = await startExecutorGateway({
        limits: { maxSessions: 8_000 },
        executors: { count: 1, heartbeatMs: 100 },
      }));
    }, 120_000);
    afterAll(async () => {
      await gateway?.close();
    });

    test('starts it with that heap limit (V8 reports it in /metrics)', async () => {
      const expected = (512 + 2000) * 2 ** 20;
      let limit = 0;
      for (let i = 0; i < 100 && limit === 0; i++) {
        const text = await (await fetch(`${gateway.url.replace('ws:', 'http:')}/metrics`)).text();
        const line = text.split('\n').find((l) => l.startsWith('vmgate_executor_heap_limit_bytes{'));
        limit = Number(line?.split(' ').at(-1) ?? 0);
        if (limit === 0) await sleep(100);
      }
      // V8's limit is the old space asked for plus the young generation.
      expect(limit).toBeGreaterThanOrEqual(expected);
      expect(limit).toBeLessThan(expected + 256 * 2 ** 20);
    });
  });
});
