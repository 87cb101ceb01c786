import { openSession } from '../helpers/engine';

describe('REPL semantics', () => {
  test('bindings persist across evals', async () => {
    const s = openSession();
    await s.eval('let a = 6');
    expect(await s.text('a * 7')).toBe('42');
    await s.eval('var v = 1; const c = 2; function f(x) { return x + c } class K { m() { return v } }');
    expect(await s.text('[v, c, f(1), new K().m()]')).toBe('[ 1, 2, 3, 1 ]');
  });

  test('the completion value of the last statement is the result', async () => {
    const s = openSession();
    expect(await s.text('1; 2; 3')).toBe('3');
    expect(await s.text('if (true) { "yes" } else { "no" }')).toBe("'yes'");
    expect(await s.text('for (let i = 0; i < 3; i++) i')).toBe('2');
    expect(await s.text('let z = 5')).toBe('undefined');
    expect(await s.text('try { throw 1 } catch { "caught" }')).toBe("'caught'");
  });

  test('an object literal typed alone is an object, not a block', async () => {
    const s = openSession();
    expect(await s.text('{ a: 1 }')).toBe('{ a: 1 }');
    expect(await s.text('{ let q = 1; q + 1 }')).toBe('2');
  });

  test('let and const may be declared again in a later eval, as in a browser console', async () => {
    const s = openSession();
    await s.eval('const x = 1');
    expect(await s.text('const x = 2; x')).toBe('2');
    await s.eval('let y = 1');
    expect(await s.text('let y = 3; y')).toBe('3');
    expect(await s.text('class C { v() { return 1 } }; class C2 extends C {}; new C2().v()')).toBe('1');
    expect(await s.text('class C { v() { return 2 } }; new C().v()')).toBe('2');
  });

  test('const stays read-only until redeclared', async () => {
    const s = openSession();
    await s.eval('const k = 1');
    const reply = await s.eval('k = 2');
    expect(reply.code).toBe('UNCAUGHT');
    expect(reply.text).toMatch(/^Uncaught TypeError: Assignment to constant variable\./);
    expect(await s.text('k')).toBe('1');
  });

  test('destructuring declarations and var in blocks become globals', async () => {
    const s = openSession();
    await s.eval(
      'const { p, q: [r] } = { p: 1, q: [2] }; if (true) { var inBlock = 3 } for (var i = 0; i < 2; i++) {}',
    );
    expect(await s.text('[p, r, inBlock, i]')).toBe('[ 1, 2, 3, 2 ]');
    await s.eval('for (var k of [7, 8]) {}');
    expect(await s.text('k')).toBe('8');
  });

  test('functions are hoisted within an eval', async () => {
    const s = openSession();
    expect(await s.text('g(); function g() { return "hoisted" }')).toBe("'hoisted'");
    expect(await s.text('g()')).toBe("'hoisted'");
  });

  test('top-level await works and its bindings persist', async () => {
    const s = openSession();
    expect(
      await s.text('const r = await new Promise((resolve) => setTimeout(() => resolve([1, 2, 3]), 5)); r.length'),
    ).toBe('3');
    expect(await s.text('r')).toBe('[ 1, 2, 3 ]');
    expect(await s.text('for await (const x of [Promise.resolve(4)]) x')).toBe('4');
    expect(await s.text('let w = await 5; w')).toBe('5');
  });

  test('a rejected top-level await is uncaught with its error', async () => {
    const s = openSession();
    const reply = await s.eval('await Promise.reject(new RangeError("nope"))');
    expect(reply.code).toBe('UNCAUGHT');
    expect(reply.text).toBe('Uncaught RangeError: nope\n    at REPL1:1:22');
  });

  test('a promise result is shown with its state', async () => {
    const s = openSession();
    expect(await s.text('Promise.resolve(5)')).toBe('Promise { 5 }');
    expect(await s.text('new Promise(() => {})')).toBe('Promise { <pending> }');
  });

  test('evals run one at a time, in order', async () => {
    const s = openSession();
    const first = s.eval('await new Promise((r) => setTimeout(r, 30)); globalThis.order = ["first"]; 1');
    const second = s.eval('order.push("second"); order');
    await first;
    expect((await second).text).toBe("[ 'first', 'second' ]");
  });

  test('syntax errors report line and column', async () => {
    const s = openSession();
    const reply = await s.eval('let ok = 1;\nlet = = 2');
    expect(reply.code).toBe('SYNTAX_ERROR');
    expect(reply.terminal).toMatchObject({ error: { name: 'SyntaxError', line: 2, column: 7 } });
    const unterminated = await s.eval('foo(');
    expect(unterminated.code).toBe('SYNTAX_ERROR');
  });

  test('uncaught errors carry name and message; thrown non-errors are rendered', async () => {
    const s = openSession();
    const typeError = await s.eval('null.x');
    expect(typeError.terminal).toMatchObject({
      error: { code: 'UNCAUGHT', name: 'TypeError', message: "Cannot read properties of null (reading 'x')" },
    });
    expect(typeError.text).toBe("Uncaught TypeError: Cannot read properties of null (reading 'x')");
    expect((await s.eval('throw "str"')).text).toBe("Uncaught 'str'");
    expect((await s.eval('throw { a: 1 }')).text).toBe('Uncaught { a: 1 }');
  });

  test('errors made by user code carry a stack of user frames, at the positions typed', async () => {
    const s = openSession();
    await s.eval('function f() {\n  throw new Error("boom")\n}\nfunction g() { f() }');
    const reply = await s.eval('let x = 1; g()');
    expect(reply.text).toBe('Uncaught Error: boom\n    at f (REPL1:2:9)\n    at g (REPL1:4:16)\n    at REPL2:1:12');
    expect(reply.terminal).toMatchObject({ error: { stack: expect.stringContaining('at f (REPL1:2:9)') } });
    expect(reply.text).not.toMatch(/vmgate:|node:|\/work|\.ts/);
    expect(
      await s.text(
        'class E2 extends TypeError {}; [new E2() instanceof TypeError, new E2() instanceof Error, Object.getPrototypeOf(TypeError) === Error, new Error().constructor === Error]',
      ),
    ).toBe('[ true, true, true, true ]');
    expect(await s.text('const o = {}; Error.captureStackTrace(o); o.stack')).toBe("'Error\\n    at REPL4:1:21'");
  });

  test('an input compiled once serves every session, each naming its own eval in stacks', async () => {
    const [a, b] = [openSession(), openSession()];
    await b.eval('1');
    await b.eval('2');
    const code = 'throw new Error("boom")';
    const expected = (n: number) => expect.stringMatching(new RegExp(`^Error: boom\n    at REPL${n}:1:7$`));
    expect((await a.eval(code)).terminal).toMatchObject({ error: { stack: expected(1) } });
    expect((await b.eval(code)).terminal).toMatchObject({ error: { stack: expected(3) } });
    await a.eval('3');
    expect((await a.eval(code)).terminal).toMatchObject({ error: { stack: expected(3) } });
  });

  test('the session keeps working after an error', async () => {
    const s = openSession();
    await s.eval('let kept = 1');
    await s.eval('null.x');
    await s.eval('syntax error here');
    expect(await s.text('kept')).toBe('1');
  });
});

describe('REPL transform edge cases', () => {
  test('statements with and without semicolons inside if/else, loops and labels', async () => {
    const s = openSession();
    expect(await s.text('let q = []; if (q.length) q.push(1); else q.push(2); q')).toBe('[ 2 ]');
    expect(await s.text('if (false) 1\nelse 2')).toBe('2');
    expect(await s.text('outer: for (const x of [1, 2]) { if (x) continue outer; else 3 }')).toBe('undefined');
    expect(await s.text('let n = 0\nn++\nn')).toBe('1');
    expect(await s.text('do n++; while (n < 5)')).toBe('4');
    expect(await s.text('"a"\n;["b"]')).toBe("[ 'b' ]");
  });
});
