import vm from 'node:vm';
import { guardedCallCount } from '../../sandbox/watchdog';
import { openSession } from '../helpers/engine';

/**
 * Entries of many sessions requested in one turn share one watchdog
 * (sandbox/entry-scheduler.ts). What must hold: each session still gets its
 * own result, its own TIMEOUT, its own budget.
 */

/**
 * Counts watchdogs (runInContext calls with a timeout, and calls guarded by
 * the native watchdog) and untimed runInContext calls while `fn` runs.
 */
async function countEntries<T>(fn: () => Promise<T>): Promise<{ result: T; timed: number; untimed: number }> {
  const original = vm.Script.prototype.runInContext;
  let timed = 0;
  let untimed = 0;
  vm.Script.prototype.runInContext = function (this: vm.Script, context, options) {
    if (options?.timeout !== undefined) timed++;
    else untimed++;
    return original.call(this, context, options);
  };
  const guardedBefore = guardedCallCount();
  try {
    const result = await fn();
    return { result, timed: timed + guardedCallCount() - guardedBefore, untimed };
  } finally {
    vm.Script.prototype.runInContext = original;
  }
}

const spin = (ms: number) => `{ const t = Date.now(); while (Date.now() - t < ${ms}); }`;

describe('entries batched per turn', () => {
  test('evals of many sessions in one turn run under one watchdog', async () => {
    const sessions = Array.from({ length: 20 }, () => openSession());
    await Promise.all(sessions.map((s) => s.eval('1'))); // realms exist
    const { result, timed, untimed } = await countEntries(() =>
      Promise.all(sessions.map((s, i) => s.text(`${i} * 2`))),
    );
    expect(result).toEqual(sessions.map((_, i) => String(i * 2)));
    // On a quiet machine: one watchdog, 20 untimed entries under it. A loaded
    // machine can push an entry past its batch's 2 ms start window into the
    // next batch (a batch of one runs as a plain timed entry). What must hold:
    // the entries share watchdogs, far fewer than one each.
    expect(timed).toBeGreaterThanOrEqual(1);
    expect(timed).toBeLessThanOrEqual(5);
    expect(untimed).toBeGreaterThanOrEqual(15);
    expect(untimed).toBeLessThanOrEqual(20);
  });

  test('a spinning session in a batch gets TIMEOUT; the sessions before and after it get their results', async () => {
    const sessions = Array.from({ length: 6 }, () => openSession({ limits: { defaultTimeoutMs: 200 } }));
    await Promise.all(sessions.map((s) => s.eval('let mine = "ok"')));
    const replies = await Promise.all(sessions.map((s, i) => s.eval(i === 2 ? 'while (true) {}' : 'mine + 1')));
    expect(replies.map((r) => r.code ?? r.text)).toEqual(["'ok1'", "'ok1'", 'TIMEOUT', "'ok1'", "'ok1'", "'ok1'"]);
    expect(replies[2].terminal).toMatchObject({ error: { timeoutMs: 200 } });
    // Everyone, the culprit included, stays usable.
    expect(await Promise.all(sessions.map((s) => s.text('mine')))).toEqual(sessions.map(() => "'ok'"));
  });

  test('a session is never held to another session’s smaller budget', async () => {
    const short = openSession();
    const long = openSession();
    await Promise.all([short.eval('1'), long.eval('1')]);
    const [a, b] = await Promise.all([short.eval('while (true) {}', 100), long.eval(`${spin(300)} 'done'`, 5_000)]);
    expect(a.code).toBe('TIMEOUT');
    expect(b.text).toBe("'done'");
  });

  test('a slow entry does not eat the budget of the entries queued behind it', async () => {
    const sessions = Array.from({ length: 3 }, () => openSession({ limits: { defaultTimeoutMs: 400 } }));
    await Promise.all(sessions.map((s) => s.eval('1')));
    // Each takes 300 ms of a 400 ms budget: one watchdog over all three would stop the second.
    const replies = await Promise.all(sessions.map((s) => s.eval(`${spin(300)} 'done'`)));
    expect(replies.map((r) => r.code ?? r.text)).toEqual(["'done'", "'done'", "'done'"]);
  });

  test('an eval interrupted before its entry ran never runs', async () => {
    const s = openSession();
    await s.eval('globalThis.ran = false');
    const pending = s.eval('globalThis.ran = true');
    const ok = s.send('interrupt');
    expect((await pending).code).toBe('INTERRUPTED');
    await ok;
    expect(await s.text('ran')).toBe('false');
  });

  test('a session closed before its entry ran is dropped; the others in the turn answer', async () => {
    const [a, b] = [openSession(), openSession()];
    await Promise.all([a.eval('1'), b.eval('1')]);
    const pendingA = a.eval('1 + 1');
    const pendingB = b.eval('2 + 2');
    void a.close();
    expect((await pendingA).code).toBe('INTERRUPTED');
    expect((await pendingB).text).toBe('4');
  });

  test('a long queue of entries lets the event loop run between batches', async () => {
    const sessions = Array.from({ length: 30 }, () => openSession());
    await Promise.all(sessions.map((s) => s.eval('1')));
    let answered = 0;
    const replies = sessions.map(async (s) => {
      const reply = await s.eval(`${spin(5)} 'done'`);
      answered++;
      return reply;
    });
    // Without yielding, all 30 entries (~150 ms) would run before this timer.
    const seenByTimer = await new Promise<number>((resolve) => setTimeout(() => resolve(answered), 0));
    expect(seenByTimer).toBeLessThan(30);
    expect((await Promise.all(replies)).map((r) => r.text)).toEqual(sessions.map(() => "'done'"));
  });

  test('deliveries (timers) of many sessions in one turn are batched too', async () => {
    const sessions = Array.from({ length: 10 }, () => openSession());
    await Promise.all(sessions.map((s) => s.eval('1')));
    const { result, timed } = await countEntries(() =>
      Promise.all(sessions.map((s, i) => s.text(`await new Promise((r) => setTimeout(() => r(${i}), 20))`))),
    );
    expect(result).toEqual(sessions.map((_, i) => String(i)));
    // One batch for the evals, about one for the timers that fire together: not one per session.
    expect(timed).toBeLessThan(10);
  });
});
