import { existsSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import vm from 'node:vm';
import { runTimed } from '../../sandbox/entry-scheduler';
import { guarded, NATIVE_WATCHDOG_DIR, WATCHDOG_ENV, watchdogKind } from '../../sandbox/watchdog';

/**
 * The native watchdog (sandbox/watchdog.ts, native/watchdog/): one thread
 * per process stops a guarded call at its deadline, and its termination never
 * reaches later JavaScript. Bounds are generous: the machine may be loaded.
 */

const built = existsSync(path.join(NATIVE_WATCHDOG_DIR, 'watchdog.node'));

function realm(): vm.Context {
  const context = vm.createContext({}, { microtaskMode: 'afterEvaluate' });
  vm.runInContext('globalThis.now = () => Date.now();', context);
  return context;
}

const SPIN = new vm.Script('while (true) {}');
const ONE = new vm.Script('1 + 1');

/** Plain host JavaScript that must run to its end (a leaked termination would stop it). */
function hostWork(): number {
  let sum = 0;
  for (let i = 0; i < 2_000_000; i++) sum += i % 7;
  return sum;
}

test('the native watchdog is used when the addon is built (npm ci builds it)', () => {
  if (process.env[WATCHDOG_ENV] === 'node') return;
  expect(watchdogKind()).toBe(built ? 'native' : 'node');
});

(watchdogKind() === 'native' ? describe : describe.skip)('native watchdog', () => {
  test('a spinning realm is stopped within its budget, and the next call runs normally', () => {
    const context = realm();
    const started = performance.now();
    expect(guarded(() => SPIN.runInContext(context), 100)).toBe('timeout');
    const ms = performance.now() - started;
    expect(ms).toBeGreaterThanOrEqual(99);
    expect(ms).toBeLessThan(2_000);
    let value: unknown;
    const one = () => {
      value = ONE.runInContext(context);
    };
    expect(guarded(one, 100)).toBe('ok');
    expect(value).toBe(2);
    expect(hostWork()).toBeGreaterThan(0);
  });

  test('a throw is reported as such, unread', () => {
    const context = realm();
    const script = new vm.Script('throw { get message() { throw 1; } }');
    expect(guarded(() => script.runInContext(context), 1_000)).toBe('threw');
    expect(guarded(() => undefined, 1_000)).toBe('ok');
  });

  test('runTimed: a timeout of its own, then a normal entry', () => {
    const context = realm();
    const seen: Array<number | undefined> = [];
    const spin = runTimed((timeout) => {
      seen.push(timeout);
      SPIN.runInContext(context, timeout === undefined ? {} : { timeout });
    }, 50);
    expect(spin.kind).toBe('timeout');
    expect(spin.ms).toBeGreaterThanOrEqual(49);
    // Guarded: the entry itself runs untimed (no thread of node:vm's own).
    expect(seen).toEqual([undefined]);
    expect(runTimed(() => ONE.runInContext(context), 50).kind).toBe('ok');
  });

  test('calls ending right at their deadline never leave a termination pending', () => {
    const context = realm();
    const work = new vm.Script('{ const t = now(); while (now() - t < 1); }');
    const seen = { ok: 0, timeout: 0, threw: 0 };
    for (let i = 0; i < 2_000; i++) {
      const status = guarded(() => work.runInContext(context), 1);
      if (status) seen[status]++;
    }
    expect(seen.threw).toBe(0);
    expect(seen.ok + seen.timeout).toBe(2_000);
    // Whatever the split, nothing is left to terminate what runs next.
    expect(hostWork()).toBeGreaterThan(0);
    expect(ONE.runInContext(context)).toBe(2);
  });

  test('a batch as the scheduler runs it: untimed entries under one guarded call, the culprit known', () => {
    const contexts = [realm(), realm(), realm(), realm()];
    const scripts = [ONE, ONE, SPIN, ONE];
    const state: string[] = contexts.map(() => 'waiting');
    const status = guarded(() => {
      for (let i = 0; i < contexts.length; i++) {
        state[i] = 'running';
        try {
          scripts[i].runInContext(contexts[i]);
        } catch {
          // a realm's throw: never read
        }
        state[i] = 'done';
      }
    }, 100);
    expect(status).toBe('timeout');
    expect(state).toEqual(['done', 'done', 'running', 'waiting']);
    // Every realm, the culprit's included, is usable afterwards.
    for (const context of contexts) expect(guarded(() => ONE.runInContext(context), 100)).toBe('ok');
    expect(hostWork()).toBeGreaterThan(0);
  });

  test('nested calls: the one whose deadline passed reports it; an outer deadline unwinds the inner call', () => {
    const context = realm();
    let inner: string | undefined;
    const nested = () => {
      inner = guarded(() => SPIN.runInContext(context), 30);
    };
    expect(guarded(nested, 5_000)).toBe('ok');
    expect(inner).toBe('timeout');

    inner = 'not set';
    let after = false;
    const outer = guarded(() => {
      inner = guarded(() => SPIN.runInContext(context), 5_000);
      after = true;
    }, 30);
    expect(outer).toBe('timeout');
    expect(inner).toBe('not set');
    expect(after).toBe(false);
    expect(hostWork()).toBeGreaterThan(0);
  });

  test('node:vm timeouts inside and around a guarded call keep their own meaning', () => {
    const context = realm();
    let code: unknown;
    const status = guarded(() => {
      try {
        SPIN.runInContext(context, { timeout: 30 });
      } catch (err) {
        code = (err as { code?: unknown }).code;
      }
    }, 5_000);
    expect(status).toBe('ok');
    expect(code).toBe('ERR_SCRIPT_EXECUTION_TIMEOUT');

    const host = vm.createContext({ run: () => guarded(() => SPIN.runInContext(context), 5_000) });
    expect(() => vm.runInContext('run()', host, { timeout: 30 })).toThrow(
      expect.objectContaining({ code: 'ERR_SCRIPT_EXECUTION_TIMEOUT' }),
    );
    expect(hostWork()).toBeGreaterThan(0);
  });
});

test('VMGATE_WATCHDOG=node: entries fall back to node:vm timeouts', () => {
  const saved = process.env[WATCHDOG_ENV];
  process.env[WATCHDOG_ENV] = 'node';
  try {
    jest.isolateModules(() => {
      const watchdog = require('../../sandbox/watchdog') as typeof import('../../sandbox/watchdog');
      const scheduler = require('../../sandbox/entry-scheduler') as typeof import('../../sandbox/entry-scheduler');
      expect(watchdog.watchdogKind()).toBe('node');
      expect(watchdog.describeWatchdog()).toContain('VMGATE_WATCHDOG=node');
      expect(watchdog.guarded(() => undefined, 100)).toBeUndefined();
      const context = realm();
      const seen: Array<number | undefined> = [];
      const outcome = scheduler.runTimed((timeout) => {
        seen.push(timeout);
        SPIN.runInContext(context, timeout === undefined ? {} : { timeout });
      }, 50);
      expect(outcome.kind).toBe('timeout');
      expect(seen).toEqual([50]);
      expect(scheduler.runTimed((timeout) => ONE.runInContext(context, { timeout }), 50).kind).toBe('ok');
    });
  } finally {
    if (saved === undefined) delete process.env[WATCHDOG_ENV];
    else process.env[WATCHDOG_ENV] = saved;
  }
});
