import { openSession } from '../helpers/engine';
import { hijackBuiltins } from '../helpers/hijack';

/**
 * Realm code runs beside user code, so it must keep working after user code
 * replaces the builtins it could have used: the array iterator, `call`/`apply`,
 * array and string methods (docs/security.md, "Realm code and replaced
 * builtins"; `npm run check:realm` keeps the realm files to captured ones).
 */

jest.setTimeout(60_000);

// Values to render later, made while the builtins are intact.
const VALUES = `
  var arr = [1, 'two', [3]];
  var map = new Map([['k', { a: 1 }]]);
  var set = new Set([1, 2]);
  var rows = [{ a: 1 }, { a: 2 }];
  var nested = new Map([[1, new Set([2])]]);
  var pair = [1, 2];
`;

describe('after user code replaces builtins, later evals behave the same', () => {
  test('REPL bindings, classes, results, console, errors, _ and web globals', async () => {
    const s = openSession();
    await s.eval(`const before = 1; let counter = 1; class Before { v() { return 1 } }; ${VALUES}`);
    expect(await s.text(hijackBuiltins())).toBe("'hijacked'");
    // The user's own code now meets its replacements.
    expect((await s.eval('[1].map((x) => x)')).text).toMatch(/^Uncaught Error: hijacked Array.prototype|map/);

    // Redeclaring a const or let runs the realm's declare() loop.
    expect(await s.text('const before = 2; before')).toBe('2');
    expect(await s.text('let counter = 5; counter')).toBe('5');
    expect(await s.text('const fresh = 3; fresh')).toBe('3');
    expect((await s.eval('fresh = 4')).text).toMatch(/^Uncaught TypeError: Assignment to constant variable\./);
    // (An implicit derived constructor spreads its arguments through the array iterator in V8: user code's own.)
    const classes = 'class Before { v() { return 2 } }; class After extends Before { constructor() { super() } }';
    expect(await s.text(`${classes}; new After().v()`)).toBe('2');
    expect(await s.text('var v1 = 1, v2 = 2; v1 + v2')).toBe('3');

    // Result rendering, and the value sent beside the text.
    expect(await s.text('arr')).toBe("[ 1, 'two', [ 3 ] ]");
    expect(await s.text('map')).toBe("Map(1) { 'k' => { a: 1 } }");
    expect(await s.text('set')).toBe('Set(2) { 1, 2 }');
    expect(await s.text('({ a: pair, s: "x".repeat(3) })')).toBe("{ a: [ 1, 2 ], s: 'xxx' }");
    expect(await s.text('_')).toBe("{ a: [ 1, 2 ], s: 'xxx' }");
    expect((await s.eval('pair')).value).toEqual([1, 2]);

    // The console.
    const logged = await s.eval('console.log("%s!", "fmt", pair, { m: map }); console.table(rows); console.error(set)');
    expect(logged.logs.map((l) => l.text)).toEqual([
      "fmt! [ 1, 2 ] { m: Map(1) { 'k' => { a: 1 } } }",
      [
        '┌─────────┬───┐',
        '│ (index) │ a │',
        '├─────────┼───┤',
        '│    0    │ 1 │',
        '│    1    │ 2 │',
        '└─────────┴───┘',
      ].join('\n'),
      'Set(2) { 1, 2 }',
    ]);

    // Errors, their stacks, and _error.
    const thrown = await s.eval('function deep() { throw new TypeError("bad") }\ndeep()');
    expect(thrown.code).toBe('UNCAUGHT');
    expect(thrown.text).toMatch(/^Uncaught TypeError: bad\n {4}at deep \(/);
    expect(await s.text('_error.message')).toBe("'bad'");
    expect((await s.eval('null.x')).text).toMatch(/^Uncaught TypeError: Cannot read properties of null/);
    expect((await s.eval('let twice = 1; let twice = 2')).text).toMatch(/SyntaxError/);

    // Web globals, built after the replacement.
    expect(await s.text('new URLSearchParams({ a: "1", b: "2" }).toString()')).toBe("'a=1&b=2'");
    expect(await s.text('new URL("https://x.test/?q=1&r=2").searchParams.get("r")')).toBe("'2'");
    expect(await s.text('structuredClone(nested)')).toBe('Map(1) { 1 => Set(1) { 2 } }');
    expect(await s.text('btoa("hi") + atob("aGk=")')).toBe("'aGk=hi'");
    expect(await s.text('await Promise.resolve(pair)')).toBe('[ 1, 2 ]');
    expect(await s.text('await new Promise((resolve) => setTimeout(() => resolve(arr), 1))')).toBe(
      "[ 1, 'two', [ 3 ] ]",
    );
  });
});
