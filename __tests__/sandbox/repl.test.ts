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

describe('REPL parity fixes (see repl-parity.test.ts for the Node REPL cases)', () => {
  test('a comma expression completes with its last operand, with and without await', async () => {
    const s = openSession();
    expect(await s.text('1, 2')).toBe('2');
    expect(await s.text('await 1, await 2')).toBe('2');
    expect(await s.text('let v = (0, 3); v')).toBe('3');
    // An awaited input's promise value is shown as a promise, not adopted.
    expect(await s.text('await 1, Promise.resolve(2)')).toBe('Promise { 2 }');
    expect(await s.text('await 0; Promise.resolve(3)')).toBe('Promise { 3 }');
    expect(await s.text('await 0; new Promise(() => {})')).toBe('Promise { <pending> }');
  });

  test('a function declared in a block in sloppy code is also a global var (Annex B)', async () => {
    const s = openSession();
    expect(await s.text('typeof f1; if (true) { function f1() { return 1 } }')).toBe('[Function: f1]');
    expect(await s.text('f1()')).toBe('1');
    // The var binding exists (undefined) before the block runs, as in a script.
    expect(await s.text('typeof f2 + (() => { if (false) { function f2() {} } })()')).toBe("'undefinedundefined'");
    expect(await s.text('[typeof f3, (() => { { function f3() {} } })()][0]; { function f3() {} }; typeof f3')).toBe(
      "'function'",
    );
    // Unbraced, in a switch, in a loop, with await.
    await s.eval('if (true) function f4() { return 4 }');
    await s.eval('switch (1) { case 1: function f5() { return 5 } }');
    await s.eval('for (const x of [6]) { function f6() { return x } }');
    await s.eval('if (await true) { function f7() { return 7 } }');
    expect(await s.text('[f4(), f5(), f6(), f7()]')).toBe('[ 4, 5, 6, 7 ]');
    // Later statements of the same input see and change the global binding.
    expect(await s.text('{ function f8() {} } f8 = 8; f8')).toBe('8');
    expect(await s.text('f8')).toBe('8');
    await s.eval('var f9 = 9');
    expect(await s.text('const before = f9; { function f9() {} } [before, typeof f9]')).toBe("[ 9, 'function' ]");
  });

  test('Annex B does not apply where a var would clash, in strict code, or to generators and async functions', async () => {
    const s = openSession();
    expect(await s.text('let g1 = 1; { function g1() {} } g1')).toBe('1');
    expect(await s.text('g1')).toBe('1');
    expect(await s.text('{ let g2 = 2; { function g2() {} } } typeof g2')).toBe("'undefined'");
    await s.eval('const g3 = 3');
    expect(await s.text('{ function g3() {} } g3')).toBe('3');
    expect(await s.text('"use strict"; { function g4() {} } typeof g4')).toBe("'undefined'");
    expect(await s.text('{ function* g5() {} async function g6() {} } [typeof g5, typeof g6]')).toBe(
      "[ 'undefined', 'undefined' ]",
    );
    expect(await s.text('for (let g7 of [1]) { function g7() {} } typeof g7')).toBe("'undefined'");
    // A block function named `let` compiles (V8 hoists it within the input only).
    expect(await s.text('{ function let() { return 1 } } typeof let')).toBe("'function'");
  });

  test('_ is the last result and _error the last thrown value; assigning either turns its update off', async () => {
    const s = openSession();
    expect(await s.text('_')).toBe('undefined');
    await s.eval('6 * 7');
    expect(await s.text('_ + 1')).toBe('43');
    expect(await s.text('_')).toBe('43');
    await s.eval('null.x');
    expect(await s.text('_')).toBe('43');
    expect(await s.text('_error.constructor.name')).toBe("'TypeError'");
    expect(await s.text('_error.message')).toBe('"Cannot read properties of null (reading \'x\')"');
    await s.eval('throw 5');
    expect(await s.text('_error')).toBe('5');

    const assigned = await s.eval('_ = "mine"');
    expect(assigned.logs.map((log) => [log.level, log.text])).toEqual([
      ['info', 'Expression assignment to _ now disabled.'],
    ]);
    await s.eval('1 + 1');
    expect(await s.text('_')).toBe("'mine'");
    expect((await s.eval('_ = "again"')).logs).toEqual([]);
    await s.eval('_error = 0');
    await s.eval('throw 1');
    expect(await s.text('_error')).toBe('0');
  });

  test('declaring _ replaces it, with no notice; other sessions keep their own', async () => {
    const [a, b] = [openSession(), openSession()];
    await a.eval('1');
    const declared = await a.eval('let _ = 20');
    expect(declared.logs).toEqual([]);
    await a.eval('30');
    expect(await a.text('_')).toBe('20');
    await b.eval('"b"');
    expect(await b.text('_')).toBe("'b'");
    expect(await a.text('Object.keys(globalThis).includes("_error")')).toBe('false');
  });

  test("syntax errors carry V8's message and position, and the line with V8's underline", async () => {
    const s = openSession();
    const cases: [string, string, number, number, string | undefined][] = [
      ['foo bar', "Unexpected identifier 'bar'", 1, 5, 'foo bar\n    ^^^'],
      ['return 42; await 5;', 'Illegal return statement', 1, 1, 'return 42; await 5;\n^^^^^^'],
      ['let x = 1;\nx y', "Unexpected identifier 'y'", 2, 3, 'x y\n  ^'],
      // With top-level await: the errors V8 finds in it as an async function body.
      ['await 1;\n\tfoo bar', "Unexpected identifier 'bar'", 2, 6, '\tfoo bar\n\t    ^^^'],
      ['await Promise..resolve()', "Unexpected token '.'", 1, 15, 'await Promise..resolve()\n              ^'],
      ['await 1; foo(', 'Unexpected end of input', 1, 14, 'await 1; foo(\n             '],
      [
        'function f() { await 1 }',
        'await is only valid in async functions and the top level bodies of modules',
        1,
        16,
        undefined,
      ],
      // V8 takes `await 1; return 2` as a function body: the script's complaint stands, as in Node.
      [
        'await 1; return 2',
        'await is only valid in async functions and the top level bodies of modules',
        1,
        1,
        undefined,
      ],
      ['import("fs")', 'dynamic import() is not available in a session', 1, 1, 'import("fs")\n^'],
    ];
    for (const [code, message, line, column, excerpt] of cases) {
      const reply = await s.eval(code);
      expect({ code, error: reply.terminal }).toMatchObject({
        code,
        error: { type: 'error', error: { code: 'SYNTAX_ERROR', name: 'SyntaxError', message, line, column } },
      });
      if (excerpt !== undefined) expect(reply.text).toBe(`${excerpt}\n\nUncaught SyntaxError: ${message}`);
    }
    // A very long line is not echoed back.
    const long = `x = [${'1,'.repeat(2000)}] y`;
    const reply = await s.eval(long);
    expect(reply.text).toBe("Uncaught SyntaxError: Unexpected identifier 'y'");
    expect(reply.terminal).toMatchObject({ error: { line: 1, column: long.length } });
  });

  test('a thrown error prints its own properties and cause, as the Node REPL does', async () => {
    const s = openSession();
    const reply = await s.eval("const e = new Error('w'); e.foo = 'bar'; throw e");
    expect(reply.text).toBe("Uncaught Error: w\n    at REPL1:1:11 {\n  foo: 'bar'\n}");
    expect((await s.eval('throw new Error("x", { cause: 1 })')).text).toBe(
      'Uncaught Error: x\n    at REPL2:1:7 {\n  [cause]: 1\n}',
    );
    // Positions count lines as V8 does: a lone CR or U+2028 ends one too.
    expect((await s.eval('1\rthrow new Error("y")')).text).toBe('Uncaught Error: y\n    at REPL3:2:7');
    expect((await s.eval('1\u2028throw new Error("z")')).text).toBe('Uncaught Error: z\n    at REPL4:2:7');
  });
});

describe('the syntax check (sandbox/syntax-check.ts)', () => {
  test('the syntax check only compiles: text that escapes its wrapper is refused and nothing runs', async () => {
    const s = openSession();
    for (const code of [
      'await 1 }); globalThis.ran = 1; (async function () {',
      'globalThis.ran = 2; foo bar',
      'await 1; globalThis.ran = 3; return 4',
      `${'('.repeat(20000)}1${')'.repeat(20000)}; globalThis.ran = 5; x y`,
    ]) {
      const reply = await s.eval(code);
      expect({ code: code.slice(0, 60), reply: reply.code }).toEqual({
        code: code.slice(0, 60),
        reply: 'SYNTAX_ERROR',
      });
    }
    expect(await s.text('typeof ran')).toBe("'undefined'");
  });
});
