import util from 'node:util';
import vm from 'node:vm';
import { createRealmHarness, type RealmHarness } from '../../helpers/realm-harness';

// sandbox/realm/inspect/ runs inside a realm built like a session realm; its
// output is compared with Node's own util.inspect / util.format of the same
// expression evaluated in the host realm. Node is the spec.

let realm: RealmHarness;

beforeAll(() => {
  realm = createRealmHarness();
});

/** The same expression evaluated in the host realm, formatted by Node. */
function nodeInspect(expr: string, optionsExpr = 'undefined'): string {
  const value = vm.runInThisContext(`(${expr})`);
  const options = vm.runInThisContext(`(${optionsExpr})`) as util.InspectOptions | undefined;
  return util.inspect(value, options);
}

const TABLE: string[] = [
  '1',
  '-1.5',
  '-0',
  '0',
  'NaN',
  'Infinity',
  '-Infinity',
  '1e21',
  '10n',
  '-10n',
  'true',
  'false',
  'undefined',
  'null',
  "'s'",
  "''",
  "'it\\'s'",
  '\'say "hi"\'',
  "'it\\'s \"x\"'",
  "'it\\'s \"x\" `y`'",
  "'a\\nb'",
  "'tab\\there'",
  "'\\x00\\x07\\x1b\\x7f\\x85'",
  "'back\\\\slash'",
  "'\\ud800 lone'",
  "'\\udc00'",
  "'😀 emoji'",
  "'é'",
  "'x'.repeat(100)",
  "'line1\\nline2\\nline3 and more text to make it long enough to split across lines in output'",
  "'a\\n'.repeat(30)",
  "'x'.repeat(20000)",
  "Symbol('x')",
  'Symbol()',
  'Symbol.iterator',
  "Symbol('a\\nb')",
  "Symbol.for('reg')",
  '{}',
  '{a:1}',
  "{a:1,'b-c':2,[Symbol('s')]:3}",
  "{'__proto__': 1}",
  'JSON.parse(\'{"__proto__":1}\')',
  "{ 'a b': 1, '1': 2, a_1: 3, $x: 4, 'ünï': 5 }",
  '{a:{b:{c:{d:1}}}}',
  '{a:{b:{c:{}}}}',
  '{a:{b:{c:[]}}}',
  '{a:{b:{c:[1]}}}',
  '{a:[{b:[{c:1}]}]}',
  "{a: 'x'.repeat(80)}",
  "{a: 'x'.repeat(60), b: 'y'.repeat(10)}",
  '{a:1,b:2,c:3,d:4,e:5,f:6,g:7,h:8,i:9,j:10,k:11,l:12,m:13,n:14,o:15,p:16,q:17,r:18,s:19,t:20,u:21,v:22,w:23,x:24,y:25,z:26}',
  '{ first: [ 1, 2, 3 ], second: { inner: [ 1, 2, 3 ] } }',
  '{ a: { b: { c: 1 } }, d: 2 }',
  "{ user: { name: 'Ann', roles: ['admin', 'dev'], address: { city: 'Oslo', zip: '0150' } }, active: true }",
  'Object.create(null)',
  'Object.assign(Object.create(null), {a:1})',
  'Object.create(Object.create(null))',
  'Object.defineProperty({}, Symbol.toStringTag, {value: "foo"})',
  'Object.defineProperty({a:1}, Symbol.toStringTag, {value: "foo", enumerable: true})',
  "Object.defineProperty(Object.create(null), Symbol.toStringTag, {value: 'x'})",
  '{get a(){return 1}, set b(v){}, get c(){return 1}, set c(v){}}',
  "Object.defineProperty({}, 'hidden', {value: 1})",
  '(() => { const a = {}; a.a = a; return a; })()',
  '(() => { const a = {x:{}}; a.x.y = a; a.x.z = a.x; return a; })()',
  '(() => { const a = [1]; a.push(a); return a; })()',
  '(() => { const a = {}; const b = {a}; a.b = b; return [a, b]; })()',
  "(() => { const m = new Map(); m.set('self', m); return m; })()",
  '[]',
  '[1,2,3]',
  '[,,3]',
  '[1,,3]',
  '[,]',
  'new Array(5)',
  '[1,2,,,,6,,8]',
  "[ 'a', , 'b' ]",
  'Array.from({length: 30}, (_, i) => i)',
  'Array.from({length: 7}, (_, i) => i)',
  'Array.from({length: 6}, (_, i) => i)',
  'Array.from({length: 101}, (_, i) => i)',
  'Array.from({length: 200}, (_, i) => i * 1000)',
  'Array.from({length: 26}, (_, i) => String.fromCharCode(97 + i).repeat(i % 5 + 1))',
  "Array.from({length: 10}, (_, i) => ({ id: i, name: 'row ' + i }))",
  "Array.from({length: 3}, (_, i) => ({ id: i, name: 'row ' + i }))",
  '[[1,2,[3,4,[5,[6]]]]]',
  "[1, 'two', { three: 3 }, [4], null, undefined, 7n]",
  'Object.assign([1,2,3], {extra: true})',
  'Object.assign([], {a: 1})',
  "Object.assign([1,2,3,4,5,6,7,8], {x: 'y'})",
  'Array.from({length: 20}, (_, i) => -i * 1.5)',
  'Array.from({length: 20}, (_, i) => BigInt(i) ** 5n)',
  "[ 'x'.repeat(30), 'y'.repeat(30), 'z'.repeat(30) ]",
  '[{a:1,b:2},{a:3,b:4}]',
  '[[]]',
  '[{}]',
  '(() => { const a = [1,2,3]; a[10] = 4; return a; })()',
  '(() => { const a = []; a[2**32-2] = 1; return a; })()',
  'Object.defineProperty([1,2], 0, {get(){return 1}})',
  'function f(){}',
  '(function(){})',
  '() => {}',
  'class C{}',
  '(class {})',
  '(() => { class C {}; class D extends C {}; return D; })()',
  '(() => { class C {}; return class extends C {}; })()',
  'class C { static x = 1 }',
  'async function f(){}',
  'async () => {}',
  'function*g(){}',
  'async function*g(){}',
  'Object.assign(function f(){}, {a: 1})',
  'Object.setPrototypeOf(function f(){}, null)',
  'Math.max',
  'Function.prototype',
  '(() => { const o = { m() {} }; return o.m; })()',
  '({ async *m() {} }).m',
  '(() => { const f = function(){}; return f; })()',
  "(() => { function f(){}; Object.defineProperty(f, 'name', {value: ''}); return f; })()",
  "Object.defineProperty(function f(){}, Symbol.toStringTag, {value: 'T'})",
  '[function f(){}, class A {}, () => {}]',
  'new (class Foo { constructor(){ this.a = 1 } })',
  'new (class Foo {})',
  'new (class Foo extends Map {})',
  'new (class Bar extends Array {})(1,2,3)',
  "(() => { class Foo { constructor(){ this.a = 1; } }; Foo.prototype[Symbol.toStringTag] = 'Tag'; return new Foo(); })()",
  '(() => { function P(){ this.x = 1 }; return new P(); })()',
  'Object.create({})',
  'Object.create(Array.prototype)',
  '(() => { class A {}; const a = new A(); Object.setPrototypeOf(A.prototype, null); return a; })()',
  '(() => { const o = Object.create(null); o.constructor = function Foo(){}; return o; })()',
  'new Date(0)',
  'new Date(NaN)',
  'Object.assign(new Date(0), {a: 1})',
  '/a/g',
  '/a\\/b[c]/dgimsuy',
  'Object.assign(/x/, {a: 1})',
  "new RegExp('')",
  "new (class R extends RegExp {})('x')",
  'new Map()',
  "new Map([['a', 1]])",
  "new Map([[{a:1}, [1,2]], ['b', new Map([[1, 2]])]])",
  'new Set()',
  'new Set([1,2])',
  "new Set([[1], {a: 1}, 'x'])",
  'Object.assign(new Map([[1,2]]), {extra: 1})',
  'new Map(Array.from({length: 120}, (_, i) => [i, i]))',
  'new Set(Array.from({length: 120}, (_, i) => i))',
  'new WeakMap()',
  'new WeakSet()',
  'Object.assign(new WeakMap(), {a: 1})',
  'new Number(3)',
  'new Number(-0)',
  "new String('x')",
  "new String('it\\'s')",
  'new Boolean(false)',
  'Object(1n)',
  "Object(Symbol('s'))",
  'Object.assign(new Number(3), {a: 1})',
  "Object.assign(new String('ab'), {a: 1})",
  'new Uint8Array([1,2,3])',
  'new Uint8Array(0)',
  'new Float64Array([1.5, -0, NaN])',
  'new BigInt64Array([1n, -2n])',
  'new Uint8Array(150)',
  'new Int16Array(30)',
  'new Uint8Array([1,2]).buffer',
  'new ArrayBuffer(0)',
  'new ArrayBuffer(120)',
  'new DataView(new ArrayBuffer(4), 1, 2)',
  'Object.assign(new Uint8Array(2), {a: 1})',
  'new (class Foo extends Uint8Array {})(2)',
  'new Uint8Array(new ArrayBuffer(8), 2, 3)',
  'Math',
  'JSON',
  'Reflect',
  'globalThis.Atomics || 1',
  'new Proxy({a: 1}, {})',
  'new Proxy([1, 2], {})',
  '(function(){ return arguments })(1, 2)',
  '(function*(){})()',
  'Object.getPrototypeOf(function*(){})',
  'Symbol.prototype',
  'Object.prototype',
  'Array.prototype',
  'Map.prototype',
  'Date.prototype',
  'RegExp.prototype',
  "(() => { const e = new Error('boom'); delete e.stack; return e; })()",
  "(() => { const e = new TypeError('bad'); e.stack = undefined; return e; })()",
  "(() => { const e = new RangeError('r'); delete e.stack; e.code = 'X'; return e; })()",
  "(() => { const e = new Error('m', { cause: 'c' }); delete e.stack; return e; })()",
  "(() => { const c = new Error('inner'); delete c.stack; const e = new Error('outer', { cause: c }); delete e.stack; return e; })()",
  "(() => { const e = new AggregateError([1, 'x'], 'agg'); delete e.stack; return e; })()",
  "(() => { class MyError extends Error {}; const e = new MyError('mine'); delete e.stack; return e; })()",
  "(() => { class MyError extends Error { constructor(m){ super(m); this.name = 'MyError'; } }; const e = new MyError('mine'); delete e.stack; return e; })()",
  "(() => { const e = new Error('x'); e.stack = 'Error: x\\n    at foo (file.js:1:1)\\n    at bar (file.js:2:2)'; return e; })()",
  "(() => { const e = new Error('x'); e.stack = 'custom stack'; return e; })()",
  "(() => { const e = new Error('x'); e.stack = 'Error: x\\n    at foo (file.js:1:1)'; e.extra = { deep: { er: 1 } }; return { e }; })()",
  "(() => { const e = new Error(''); delete e.stack; return e; })()",
  "(() => { const e = new Error('x'); delete e.stack; e.name = 'Custom'; return e; })()",
  "(() => { const e = new Error('msg'); delete e.stack; return [e, { e }]; })()",
  "(() => { const c = new Error('c'); c.stack = 'Error: c\\n    at a (x:1:1)\\n    at b (x:2:2)\\n    at c (x:3:3)\\n    at d (x:4:4)\\n    at e (x:5:5)'; const e = new Error('e', { cause: c }); e.stack = 'Error: e\\n    at z (x:0:0)\\n    at a (x:1:1)\\n    at b (x:2:2)\\n    at c (x:3:3)\\n    at d (x:4:4)\\n    at e (x:5:5)'; return e; })()",
  "({ a: [1, 2, 3], b: 'text', c: { d: null, e: undefined }, f: () => 1, g: new Date(0), h: /re/, i: new Map([[1, { x: 1 }]]) })",
  "Array.from({length: 5}, (_, i) => ({ id: i, tags: ['a', 'b'], meta: { created: new Date(i), n: i * 2 } }))",
  "{ longKeyNameNumberOne: 'value one', longKeyNameNumberTwo: 'value two', longKeyNameNumberThree: 3 }",
  "[['a', 1], ['b', 2], ['c', 3], ['d', 4], ['e', 5], ['f', 6], ['g', 7]]",
  "Array.from({length: 12}, (_, i) => 'item-' + i + (i % 3 ? '' : '-long-suffix'))",
  'Array.from({length: 8}, () => ({}))',
  'Array.from({length: 8}, (_, i) => [i])',
  "{ 'key\\nwith newline': 1, [Symbol('sym\\'q')]: 2 }",
  "new Map([['x'.repeat(50), 'y'.repeat(50)]])",
];

describe('inspect: same output as Node util.inspect', () => {
  it.each(TABLE)('%s', (expr) => {
    expect(realm.inspect(expr)).toBe(nodeInspect(expr));
  });

  const OPTION_SETS = [
    '{ depth: 0 }',
    '{ depth: 1 }',
    '{ depth: Infinity }',
    '{ depth: null }',
    '{ compact: false }',
    '{ compact: true }',
    '{ compact: 1 }',
    '{ breakLength: 40 }',
    '{ breakLength: Infinity }',
    '{ sorted: true }',
    '{ maxArrayLength: 2 }',
    '{ maxArrayLength: 0 }',
    '{ maxStringLength: 5 }',
    '{ depth: 4, compact: 2, breakLength: 60, maxArrayLength: 10, maxStringLength: 20 }',
  ];
  for (const options of OPTION_SETS) {
    it(`the whole table with ${options}`, () => {
      const diffs: string[] = [];
      for (const expr of TABLE) {
        const actual = realm.inspect(expr, options);
        const expected = nodeInspect(expr, options);
        if (actual !== expected)
          diffs.push(`${expr}\n  realm: ${JSON.stringify(actual)}\n  node:  ${JSON.stringify(expected)}`);
      }
      expect(diffs).toEqual([]);
    });
  }
});

describe('inspect: the cases of the brief, explicitly', () => {
  const cases: [string, string][] = [
    ['2', '2'],
    ['-0', '-0'],
    ['10n', '10n'],
    ["'s'", "'s'"],
    [`"it's"`, `"it's"`],
    ['undefined', 'undefined'],
    ['null', 'null'],
    ["Symbol('x')", 'Symbol(x)'],
    ["{ a: 1, 'b-c': 2, [Symbol('s')]: 3 }", "{ a: 1, 'b-c': 2, [Symbol(s)]: 3 }"],
    ['[1, 2, 3]', '[ 1, 2, 3 ]'],
    ['[, , 3]', '[ <2 empty items>, 3 ]'],
    ['{ a: { b: { c: { d: 1 } } } }', '{ a: { b: { c: [Object] } } }'],
    ['{ a: { b: { c: [1] } } }', '{ a: { b: { c: [Array] } } }'],
    [
      '(() => { class Foo { constructor() { this.x = 1; } }; return { a: { b: { c: new Foo() } } }; })()',
      '{ a: { b: { c: [Foo] } } }',
    ],
    ['function f() {}', '[Function: f]'],
    ['(() => function () {})()', '[Function (anonymous)]'],
    ['class C {}', '[class C]'],
    ['(() => { class C {}; return class D extends C {}; })()', '[class D extends C]'],
    ['async function f() {}', '[AsyncFunction: f]'],
    ['function* g() {}', '[GeneratorFunction: g]'],
    ['async function* g() {}', '[AsyncGeneratorFunction: g]'],
    ['Object.assign(function f() {}, { a: 1 })', '[Function: f] { a: 1 }'],
    ["new Map([['a', 1]])", "Map(1) { 'a' => 1 }"],
    ['new Set([1, 2])', 'Set(2) { 1, 2 }'],
    ['(() => { const a = {}; a.self = a; return a; })()', '<ref *1> { self: [Circular *1] }'],
    ["new Date('2020-01-01T00:00:00.000Z')", '2020-01-01T00:00:00.000Z'],
    ['new Date(NaN)', 'Invalid Date'],
    ['/a/g', '/a/g'],
    ["(() => { const e = new TypeError('msg'); delete e.stack; return e; })()", '[TypeError: msg]'],
    ["(() => { const e = new Error('msg'); delete e.stack; e.code = 'X'; return e; })()", "[Error: msg] { code: 'X' }"],
    [
      "(() => { const e = new Error('m', { cause: 'c' }); delete e.stack; return e; })()",
      "[Error: m] { [cause]: 'c' }",
    ],
    [
      "(() => { const e = new AggregateError([1], 'agg'); delete e.stack; return e; })()",
      '[AggregateError: agg] { [errors]: [ 1 ] }',
    ],
    ['new (class Foo { constructor() { this.a = 1; } })()', 'Foo { a: 1 }'],
    ['Object.assign(Object.create(null), { a: 1 })', '[Object: null prototype] { a: 1 }'],
    ['new Uint8Array([1, 2, 3])', 'Uint8Array(3) [ 1, 2, 3 ]'],
    ['new Uint8Array([1, 2]).buffer', 'ArrayBuffer { [Uint8Contents]: <01 02>, byteLength: 2 }'],
    [
      'new DataView(new ArrayBuffer(1))',
      'DataView {\n  byteLength: 1,\n  byteOffset: 0,\n  buffer: ArrayBuffer { [Uint8Contents]: <00>, byteLength: 1 }\n}',
    ],
    ['new Number(3)', '[Number: 3]'],
    ["new String('x')", "[String: 'x']"],
    ['Promise.resolve(1)', 'Promise { <unknown> }'],
    ['new WeakMap()', 'WeakMap { <items unknown> }'],
    ['new WeakSet()', 'WeakSet { <items unknown> }'],
    [
      '({ get a() { return 1; }, set b(v) {}, get c() { return 1; }, set c(v) {} })',
      '{ a: [Getter], b: [Setter], c: [Getter/Setter] }',
    ],
    ["Object.defineProperty({}, Symbol.toStringTag, { value: 'foo' })", 'Object [foo] {}'],
    ['Array.from({ length: 101 }, (_, i) => i).length', '101'],
    ["'x'.repeat(10001).length", '10001'],
  ];
  it.each(cases)('%s', (expr, expected) => {
    expect(realm.inspect(expr)).toBe(expected);
  });

  it('limits arrays and strings like Node', () => {
    expect(realm.inspect('Array.from({ length: 101 }, () => 0)')).toMatch(/\.\.\. 1 more item\n\]$/);
    expect(realm.inspect('Array.from({ length: 103 }, () => 0)')).toMatch(/\.\.\. 3 more items\n\]$/);
    expect(realm.inspect("'x'.repeat(10002)")).toMatch(/'\.\.\. 2 more characters$/);
  });
});

describe('inspect: realm-only behaviour', () => {
  it('renders promise state when the caller knows it (promiseState option)', () => {
    const p = 'Promise.resolve(1)';
    expect(realm.inspect(p, "{ promiseState: () => ({ status: 'pending' }) }")).toBe('Promise { <pending> }');
    expect(realm.inspect(p, "{ promiseState: () => ({ status: 'fulfilled', value: { a: [1] } }) }")).toBe(
      'Promise { { a: [ 1 ] } }',
    );
    expect(realm.inspect(p, "{ promiseState: () => ({ status: 'rejected', value: 'boom' }) }")).toBe(
      "Promise { <rejected> 'boom' }",
    );
    expect(realm.inspect(p, '{ promiseState: () => undefined }')).toBe('Promise { <unknown> }');
  });

  it('formats errors with real stacks exactly as Node does for the same realm value', () => {
    const exprs = [
      "new Error('boom')",
      "new TypeError('bad')",
      "Object.assign(new RangeError('r'), { code: 'E_R', info: { n: 1 } })",
      "new Error('outer', { cause: new Error('inner') })",
      "new AggregateError([new Error('a'), 'b'], 'many')",
      "(() => { class MyError extends Error {}; return new MyError('mine'); })()",
      "{ nested: { error: new Error('deep') } }",
      "[new Error('in array')]",
    ];
    for (const expr of exprs) {
      realm.run(`globalThis.__sameValue = (${expr});`);
      expect(realm.inspect('__sameValue')).toBe(util.inspect(realm.run('__sameValue')));
    }
  });

  it('never calls getters, toString, toJSON or Symbol.toStringTag getters', () => {
    const result = realm.run(`(() => {
      const calls = [];
      class Tagged { get [Symbol.toStringTag]() { calls.push('tag'); return 'T'; } }
      const value = {
        get a() { calls.push('a'); return 1; },
        toString() { calls.push('toString'); return 'x'; },
        toJSON() { calls.push('toJSON'); return 1; },
        nested: Object.defineProperty([], 0, { get() { calls.push('index'); return 1; }, enumerable: true }),
        tagged: new Tagged(),
        error: Object.defineProperties(new Error('e'), {
          message: { get() { calls.push('message'); return 'm'; } },
          name: { get() { calls.push('name'); return 'n'; } },
          stack: { get() { calls.push('stack'); return 's'; } },
        }),
      };
      calls.length = 0; // V8 itself read name/message while the accessors were being defined
      const text = __vmgateHarness.inspector.inspect(value, { depth: 5 });
      return JSON.stringify({ calls, text });
    })()`) as string;
    const { calls, text } = JSON.parse(result) as { calls: string[]; text: string };
    expect(calls).toEqual([]);
    expect(text).toContain('a: [Getter]');
    expect(text).toContain('nested: [ [Getter] ]');
  });

  it('renders a throwing Proxy as [inspection threw] and never throws itself', () => {
    const hostile =
      "new Proxy({}, { ownKeys() { throw new Error('no'); }, getPrototypeOf() { throw new Error('no'); } })";
    expect(realm.inspect(hostile)).toBe('[inspection threw]');
    expect(realm.inspect(`{ ok: 1, bad: ${hostile}, after: 2 }`)).toBe('{ ok: 1, bad: [inspection threw], after: 2 }');
    expect(realm.inspect(`[1, ${hostile}, 3]`)).toBe('[ 1, [inspection threw], 3 ]');
    expect(realm.inspect(`new Map([[${hostile}, 1]])`)).toBe('Map(1) { [inspection threw] => 1 }');
    // A throw value that is itself hostile does not matter: it is never touched.
    expect(realm.inspect('new Proxy({}, { ownKeys() { throw new Proxy({}, { get() { throw 1; } }); } })')).toBe(
      '[inspection threw]',
    );
  });

  it('survives stack exhaustion on absurdly deep data', () => {
    const text = realm.inspect(
      '(() => { let v = {}; for (let i = 0; i < 20000; i++) v = { v }; return v; })()',
      '{ depth: Infinity }',
    );
    expect(text).toContain('[inspection threw]');
  });

  it('formats proxies through their traps (they cannot be detected inside the realm)', () => {
    expect(realm.inspect('new Proxy({ a: 1 }, {})')).toBe('{ a: 1 }');
    expect(
      realm.inspect(
        "new Proxy({ a: 1 }, { ownKeys: () => ['a', 'b'], getOwnPropertyDescriptor: (t, k) => ({ value: k, enumerable: true, configurable: true }) })",
      ),
    ).toBe("{ a: 'a', b: 'b' }");
  });

  it('keeps working when user code replaces prototype methods and globals', () => {
    const sabotaged = createRealmHarness();
    // Values made before the sabotage; the factories are created lazily, after it.
    sabotaged.run(`globalThis.__values = [
      { a: [1, 2, { b: 'x' }], m: new Map([[1, new Set([2])]]), d: new Date(0), r: /x/g, e: Object.assign(new Error('e'), { code: 1 }) },
      Array.from({ length: 30 }, (_, i) => 'item ' + i),
      new Uint8Array([1, 2, 3]),
    ];`);
    const before = sabotaged.run("__values.map((v) => __vmgateHarness.inspector.inspect(v)).join('\\n')") as string;
    sabotaged.run(`(() => {
      const boom = function () { throw new Error('sabotaged'); };
      const targets = [Array.prototype, String.prototype, Object.prototype, Map.prototype, Set.prototype, RegExp.prototype, Number.prototype, Symbol.prototype, Date.prototype, Error.prototype];
      for (let t = 0; t < targets.length; t++) {
        const P = targets[t];
        const keys = Reflect.ownKeys(P);
        for (let i = 0; i < keys.length; i++) {
          const d = Object.getOwnPropertyDescriptor(P, keys[i]);
          if (keys[i] !== 'constructor' && d.configurable && typeof d.value === 'function') {
            Object.defineProperty(P, keys[i], { __proto__: null, value: boom, writable: true, configurable: true });
          }
        }
      }
      JSON.stringify = boom;
      Object.keys = boom;
      Object.getOwnPropertyDescriptor = boom;
      globalThis.String = boom;
      globalThis.Number = boom;
      globalThis.Map = boom;
      globalThis.RegExp = boom;
      globalThis.Array = boom;
    })()`);
    const after = sabotaged.run(`(() => {
      const out = [];
      for (let i = 0; i < 3; i++) out[i] = __vmgateHarness.inspector.inspect(__values[i]);
      return out[0] + '\\n' + out[1] + '\\n' + out[2];
    })()`) as string;
    expect(after).toBe(before);
  });
});

describe('formatLogArgs: same output as Node util.format', () => {
  const ARGS = [
    "'hello'",
    "'a', 'b'",
    '1, 2',
    "'%s', 'x'",
    "'%s', 1",
    "'%s', -0",
    "'%s', 10n",
    "'%s', { a: 1 }",
    "'%s', [1, [2, [3]]]",
    "'%s', { a: { b: { c: 1 } } }",
    "'%s', null",
    "'%s', undefined",
    "'%s', Symbol('s')",
    "'%s', function f() {}",
    "'%s', new (class A { toString() { return 'custom'; } })()",
    "'%s', new Date(0)",
    "'%s', new (class B {})()",
    "'%s', Object.create(null)",
    "'%s:%s', 'a'",
    "'%d', '42'",
    "'%d', 1.5",
    "'%d', 10n",
    "'%d', {}",
    "'%d', Symbol()",
    "'%i', 42.9",
    "'%i', '0x10'",
    "'%i', 10n",
    "'%f', '1.5x'",
    "'%f', Symbol()",
    "'%j', { a: [1, 'x'] }",
    "'%j', (() => { const a = {}; a.a = a; return a; })()",
    "'%j', undefined",
    "'%o', [1, 2]",
    "'%o', { a: { b: { c: { d: { e: 1 } } } } }",
    "'%O', { a: { b: { c: { d: 1 } } } }",
    "'%c styled', 'color: red'",
    "'100%%', 1",
    "'%% %s', 'x'",
    "'%x %s', 'y'",
    "'%s %s', 'only'",
    "'%', 1",
    "'a%', 1",
    "'%s', 'x', 'extra', 3",
    "{ a: 1 }, 'str', 2",
    "1, '2', [3]",
    "'%s', \"it's\"",
    "'x', \"it's\"",
    "'%s'",
    "'%d'",
    '',
    'undefined',
    'null, undefined',
    "'%s', new Map([[1, 2]])",
    "'%s', [function () {}]",
    "'%s', Object.assign(Object.create({ toString() { return 'proto'; } }), { a: 1 })",
  ];
  it.each(ARGS)('format(%s)', (args) => {
    const expected = (vm.runInThisContext(`(util) => util.format(${args})`) as (u: typeof util) => string)(util);
    expect(realm.format(args)).toBe(expected);
  });

  it('does not throw on throwing conversions', () => {
    expect(realm.format("'%s', { toString() { throw new Error('x'); } }")).toBe('[inspection threw]');
    expect(realm.format("'%d', { valueOf() { throw new Error('x'); } }")).toBe('[inspection threw]');
    expect(realm.format("'%j', 1n")).toBe('[inspection threw]');
    expect(realm.format("'a', { b: 1 }, 'c'")).toBe('a { b: 1 } c');
  });
});
