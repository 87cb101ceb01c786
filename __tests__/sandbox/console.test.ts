import { openSession } from '../helpers/engine';

describe('console', () => {
  test('streams each call, tagged with its eval, before the result', async () => {
    const s = openSession();
    const reply = await s.eval(
      'console.log("a", 1, { b: 2 }); console.info("i"); console.warn("w"); console.error("e"); console.debug("d"); 5',
    );
    expect(reply.logs.map((l) => [l.level, l.text])).toEqual([
      ['log', 'a 1 { b: 2 }'],
      ['info', 'i'],
      ['warn', 'w'],
      ['error', 'e'],
      ['debug', 'd'],
    ]);
    const order = s.outputs.map((m) => m.type);
    expect(order.indexOf('result')).toBeGreaterThan(order.lastIndexOf('log'));
  });

  test('format specifiers, count, assert, group, time, table, dir', async () => {
    const s = openSession();
    const reply = await s.eval(`
      console.log('%s is %d years', 'Bob', 42);
      console.count(); console.count(); console.count('x');
      console.assert(1 === 2, 'math');
      console.group('G'); console.log('inside'); console.groupEnd(); console.log('outside');
      console.time('t'); console.timeEnd('t');
      console.table([{ a: 1, b: 'x' }, { a: 2 }]);
      console.dir({ deep: { deeper: { deepest: { x: 1 } } } }, { depth: 0 });
    `);
    const texts = reply.logs.map((l) => l.text);
    expect(texts.slice(0, 6)).toEqual([
      'Bob is 42 years',
      'default: 1',
      'default: 2',
      'x: 1',
      'Assertion failed: math',
      'G',
    ]);
    expect(texts[6]).toBe('  inside');
    expect(texts[7]).toBe('outside');
    expect(texts[8]).toMatch(/^t: \d+(\.\d+)?ms$/);
    expect(texts[9]).toBe(
      [
        '┌─────────┬───┬─────┐',
        '│ (index) │ a │  b  │',
        '├─────────┼───┼─────┤',
        "│    0    │ 1 │ 'x' │",
        '│    1    │ 2 │     │',
        '└─────────┴───┴─────┘',
      ].join('\n'),
    );
    expect(texts[10]).toBe('{ deep: [Object] }');
  });

  test('output per eval is capped with a clear note', async () => {
    const s = openSession({ limits: { maxOutputBytesPerEval: 1000 } });
    const reply = await s.eval('for (let i = 0; i < 100; i++) console.log("x".repeat(50)); 1');
    expect(reply.terminal.type).toBe('result');
    expect(reply.logs.at(-1)?.text).toBe('[output truncated: this eval wrote more than 1000 bytes]');
    expect(reply.logs.length).toBeLessThan(25);
  });

  test('a single huge line is cut', async () => {
    const s = openSession({ limits: { maxLogLine: 100 } });
    const reply = await s.eval('console.log("y".repeat(1000))');
    expect(reply.logs[0]?.text).toBe(`${'y'.repeat(100)}… [900 more characters]`);
  });
});

describe('convenience globals', () => {
  test('web APIs a console user expects', async () => {
    const s = openSession();
    expect(await s.text('new TextDecoder().decode(new TextEncoder().encode("héllo €"))')).toBe("'héllo €'");
    expect(
      await s.text(
        'const u = new URL("/p?q=1#h", "https://example.com"); [u.href, u.searchParams.get("q"), u.hostname]',
      ),
    ).toBe("[ 'https://example.com/p?q=1#h', '1', 'example.com' ]");
    expect(await s.text('u.searchParams.set("q", "a b"); u.search')).toBe("'?q=a+b'");
    expect(await s.text('new URLSearchParams({ a: "1", b: "x&y" }).toString()')).toBe("'a=1&b=x%26y'");
    expect(await s.text('btoa("hi")')).toBe("'aGk='");
    expect(await s.text('atob("aGk=")')).toBe("'hi'");
    expect(await s.text('/^[0-9a-f-]{36}$/.test(crypto.randomUUID())')).toBe('true');
    expect(await s.text('crypto.getRandomValues(new Uint8Array(8)).length')).toBe('8');
    expect(
      await s.text(
        'const o = { d: new Date(0), m: new Map([[1, { x: 1 }]]) }; const c = structuredClone(o); [c !== o, c.d.getTime(), c.m.get(1).x]',
      ),
    ).toBe('[ true, 0, 1 ]');
    expect((await s.eval('structuredClone(() => 1)')).text).toMatch(/^Uncaught DataCloneError/);
    expect((await s.eval('new URL("not a url")')).text).toMatch(/^Uncaught TypeError: Invalid URL/);
  });

  test('what a realm must not have', async () => {
    const s = openSession();
    const names = [
      'process',
      'require',
      'Buffer',
      'SharedArrayBuffer',
      'Atomics',
      'WebAssembly',
      'FinalizationRegistry',
      'module',
      'global',
    ];
    expect(await s.text(`${JSON.stringify(names)}.filter((n) => typeof globalThis[n] !== 'undefined')`)).toBe('[]');
    expect((await s.eval('eval("1")')).text).toMatch(/^Uncaught EvalError: Code generation from strings disallowed/);
    expect((await s.eval('new Function("return 1")')).text).toMatch(/^Uncaught EvalError/);
    expect((await s.eval('import("node:fs")')).code).toBe('SYNTAX_ERROR');
    expect((await s.eval('import.meta')).code).toBe('SYNTAX_ERROR');
  });
});
