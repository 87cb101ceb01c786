import { openSession } from '../helpers/engine';

describe('CPU budget', () => {
  test.each([
    ['a synchronous loop', 'while (true) {}'],
    ['a loop after an await', 'await null; while (true) {}'],
    ['an endless promise chain', 'Promise.resolve().then(function f() { return Promise.resolve().then(f) }); 1'],
    ['an endless async loop', '(async () => { for (;;) await null })(); 1'],
    [
      'a loop in a timer callback the eval awaits',
      'await new Promise((r) => setTimeout(() => { while (true) {} }, 1))',
    ],
    ['a never-settling await', 'await new Promise(() => {})'],
  ])('%s ends in TIMEOUT and the session stays usable', async (_name, code) => {
    const s = openSession();
    await s.eval('let alive = "yes"');
    const reply = await s.eval(code, 150);
    expect(reply.code).toBe('TIMEOUT');
    expect(reply.terminal).toMatchObject({ error: { timeoutMs: 150 } });
    expect(await s.text('alive')).toBe("'yes'");
  });

  test('the client may ask for less than the default, never more than the maximum', async () => {
    const s = openSession({ limits: { defaultTimeoutMs: 100, maxTimeoutMs: 200 } });
    const started = Date.now();
    expect((await s.eval('while (true) {}')).terminal).toMatchObject({ error: { code: 'TIMEOUT', timeoutMs: 100 } });
    expect((await s.eval('while (true) {}', 10_000)).terminal).toMatchObject({
      error: { code: 'TIMEOUT', timeoutMs: 200 },
    });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect((await s.eval('1', -1)).code).toBe('BAD_REQUEST');
  });

  test('a runaway background timer is stopped and its timers cleared', async () => {
    const s = openSession({ limits: { backgroundTimeoutMs: 50 } });
    await s.eval('setInterval(() => { while (true) {} }, 10); setInterval(() => {}, 10); 1');
    await new Promise((r) => setTimeout(r, 300));
    const notice = s.outputs.find((m) => m.type === 'log' && m.level === 'error');
    expect(notice).toMatchObject({ text: expect.stringContaining('exceeded its time budget') });
    expect(await s.text('1 + 1')).toBe('2');
  });

  test('timers of an eval that timed out are cleared', async () => {
    const s = openSession();
    const reply = await s.eval('setInterval(() => console.log("tick"), 10); await new Promise(() => {})', 100);
    expect(reply.code).toBe('TIMEOUT');
    const ticks = s.outputs.filter((m) => m.type === 'log').length;
    await new Promise((r) => setTimeout(r, 100));
    expect(s.outputs.filter((m) => m.type === 'log').length).toBe(ticks);
  });

  test('interrupt stops an eval that is waiting', async () => {
    const s = openSession();
    const waiting = s.eval('await new Promise((r) => setTimeout(r, 10_000))', 20_000);
    await new Promise((r) => setTimeout(r, 20));
    expect((await s.send('interrupt')).type).toBe('ok');
    expect((await waiting).code).toBe('INTERRUPTED');
    expect(await s.text('"after"')).toBe("'after'");
  });

  test('the queue is bounded', async () => {
    const s = openSession({ limits: { maxQueuedEvals: 2 } });
    const replies = [0, 1, 2, 3].map(() => s.eval('await new Promise((r) => setTimeout(r, 20)); 1'));
    const codes = (await Promise.all(replies)).map((r) => r.code ?? 'ok');
    expect(codes).toEqual(['ok', 'ok', 'ok', 'LIMIT']);
  });

  test('closing a session answers every queued eval and frees its timers', async () => {
    const s = openSession();
    const running = s.eval('await new Promise((r) => setTimeout(r, 5_000))', 10_000);
    const queued = s.eval('1');
    await new Promise((r) => setTimeout(r, 10));
    await s.close();
    expect((await running).code).toBe('INTERRUPTED');
    expect((await queued).code).toBe('INTERRUPTED');
    expect(s.outputs.at(-1)).toEqual({ type: 'closed', reason: 'test finished' });
  });
});

describe('timers', () => {
  test('setTimeout, setInterval and clear*', async () => {
    const s = openSession();
    const reply = await s.eval(`
      const seen = [];
      const id = setInterval(() => { seen.push('i'); if (seen.length === 3) clearInterval(id) }, 10);
      const never = setTimeout(() => seen.push('never'), 5); clearTimeout(never);
      await new Promise((r) => setTimeout(r, 80));
      seen`);
    expect(reply.text).toBe("[ 'i', 'i', 'i' ]");
  });

  test('string callbacks are refused (no code generation)', async () => {
    const s = openSession();
    expect((await s.eval('setTimeout("1 + 1", 1)')).text).toMatch(/^Uncaught:\nTypeError: The "callback" argument/);
  });

  test('queueMicrotask runs before timers', async () => {
    const s = openSession();
    expect(
      await s.text(
        'const o = []; setTimeout(() => o.push("t")); queueMicrotask(() => o.push("m")); await new Promise((r) => setTimeout(r, 5)); o',
      ),
    ).toBe("[ 'm', 't' ]");
  });

  test('the number of timers per session is bounded', async () => {
    const s = openSession({ limits: { maxTimers: 5 } });
    expect((await s.eval('for (let i = 0; i < 6; i++) setTimeout(() => {}, 10_000)')).text).toMatch(
      /^Uncaught RangeError: too many timers in this session\n {4}at REPL1:1:29$/,
    );
  });
});
