import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import vm from 'node:vm';
import { writeLargeSharedState } from '../../bench/lib/shared-state';
import { loadSharedState, type SharedState, SharedStateError, transformSharedModule } from '../../shared-state/load';
import { SharedStateStore } from '../../shared-state/store';

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'vmgate-shared-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

let counter = 0;
function write(ext: string, content: string | Buffer, name = `state-${++counter}`): string {
  const file = path.join(dir, `${name}${ext}`);
  writeFileSync(file, content);
  return file;
}

/** A session-like realm, as the gateway builds them: null-prototype sandbox, no codegen, afterEvaluate, `shared` injected. */
function session(globals: Record<string, unknown>): vm.Context {
  const sandbox = Object.create(null) as Record<string, unknown>;
  Object.assign(sandbox, globals);
  return vm.createContext(sandbox, {
    codeGeneration: { strings: false, wasm: false },
    microtaskMode: 'afterEvaluate',
  });
}

/** Runs code in the session; the code must evaluate to a primitive (use JSON.stringify for structure). */
function run(context: vm.Context, code: string, timeout = 20_000): unknown {
  return vm.runInContext(code, context, { timeout });
}

function runJson(context: vm.Context, code: string): unknown {
  const text = run(context, `JSON.stringify((() => { 'use strict'; ${code} })())`);
  expect(typeof text).toBe('string');
  return JSON.parse(text as string);
}

function expectLoadError(file: string, code: string, pattern: RegExp, options = {}): SharedStateError {
  let caught: unknown;
  try {
    loadSharedState(file, options);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(SharedStateError);
  const err = caught as SharedStateError;
  expect(err.code).toBe(code);
  expect(err.message).toMatch(pattern);
  expect(err.message).toContain(path.basename(file));
  expect(err.message).not.toMatch(/[\r\n]/);
  return err;
}

describe('loading JSON', () => {
  it('parses in the shared realm and exposes the value to sessions', () => {
    const text = JSON.stringify({ rates: { EUR: 1, USD: 1.08 }, items: [{ id: 1 }, { id: 2 }], s: 'é' });
    const file = write('.json', text);
    const state = loadSharedState(file);

    expect(state.format).toBe('json');
    expect(state.file).toBe(path.resolve(file));
    expect(state.bytes).toBe(Buffer.byteLength(text));
    expect(state.version).toBe(createHash('sha256').update(text).digest('hex').slice(0, 16));
    expect(state.loadedAt).toBeInstanceOf(Date);
    expect(Object.isFrozen(state)).toBe(true);

    const ctx = session({ shared: state.value });
    expect(runJson(ctx, 'return shared')).toEqual(JSON.parse(text));
    // Born in the shared realm, not in the session's: a different Object.prototype.
    expect(runJson(ctx, 'return Object.getPrototypeOf(shared) === Object.prototype')).toBe(false);
    expect(runJson(ctx, 'return [Object.isFrozen(shared), Object.isFrozen(shared.items[1])]')).toEqual([true, true]);
  });

  it('accepts primitives, a BOM, and a __proto__ key as plain data', () => {
    expect(runJson(session({ shared: loadSharedState(write('.json', '42')).value }), 'return shared')).toBe(42);
    const bom = loadSharedState(write('.json', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('[1]')])));
    expect(runJson(session({ shared: bom.value }), 'return shared')).toEqual([1]);
    const proto = loadSharedState(write('.json', '{"__proto__":{"polluted":true}}'));
    expect(
      runJson(
        session({ shared: proto.value }),
        'return [Object.keys(shared), shared.polluted, Object.getPrototypeOf(shared).polluted, Object.isFrozen(shared.__proto__)]',
      ),
    ).toEqual([['__proto__'], null, null, true]);
  });

  it('gives a new version when the content changes, the same one when it does not', () => {
    const a = loadSharedState(write('.json', '{"a":1}'));
    const b = loadSharedState(write('.json', '{"a":2}'));
    const c = loadSharedState(write('.json', '{"a":1}'));
    expect(a.version).toMatch(/^[0-9a-f]{16}$/);
    expect(b.version).not.toBe(a.version);
    expect(c.version).toBe(a.version);
    expect(c.value).not.toBe(a.value); // each load is its own realm
  });

  it('loads the bundled example files', () => {
    const json = loadSharedState(path.join(__dirname, '../../examples/shared-state.json'));
    expect(runJson(session({ shared: json.value }), 'return shared.products.length > 0')).toBe(true);
    const mjs = loadSharedState(path.join(__dirname, '../../examples/shared-state.mjs'));
    const ctx = session({ shared: mjs.value });
    expect(
      runJson(
        ctx,
        `return [shared.convert(108.42, 'USD', 'EUR'), shared.findProduct('MS-201').name,
          shared.priceIn('KB-101', 'JPY'), shared.search('mouse').length, shared.findProduct('nope') === undefined]`,
      ),
    ).toEqual([100, 'Wireless mouse', { amount: 14406, currency: 'JPY' }, 2, true]);
    expect(
      runJson(ctx, `try { shared.convert(1, 'XXX', 'EUR') } catch (e) { return e.name + ': ' + e.message }`),
    ).toMatch(/^RangeError: unknown currency XXX/);
  });

  it('loads a generated benchmark file', () => {
    const file = path.join(dir, 'large.json');
    const info = writeLargeSharedState(file, 0.25);
    expect(info.records).toBeGreaterThan(100);
    expect(Math.abs(info.bytes - 0.25 * 1024 * 1024)).toBeLessThan(2048);
    const state = loadSharedState(file);
    expect(state.bytes).toBe(info.bytes);
    const ctx = session({ shared: state.value });
    expect(
      runJson(
        ctx,
        `const p = shared.products; return [p.length, typeof p[0].price.amount, Object.isFrozen(p[p.length - 1].tags)]`,
      ),
    ).toEqual([info.records, 'number', true]);
  });
});

describe('loading modules', () => {
  it('uses the default export, with pure helper functions', () => {
    const file = write(
      '.mjs',
      `const rates = { EUR: 1, USD: 2 };
       export default {
         rates,
         convert(amount, from, to) { return (amount / rates[from]) * rates[to]; },
         anon: function () {},
       };`,
    );
    const state = loadSharedState(file);
    expect(state.format).toBe('module');
    const ctx = session({ shared: state.value });
    expect(runJson(ctx, `return [shared.convert(3, 'EUR', 'USD'), shared.rates, Object.keys(shared)]`)).toEqual([
      6,
      { EUR: 1, USD: 2 },
      ['rates', 'convert', 'anon'],
    ]);
  });

  it('builds a namespace of named exports for .js files', () => {
    const file = write(
      '.js',
      `#!/usr/bin/env node
       export const b = 2, { c, d: [e = 5] } = { c: 3, d: [] };
       export let a = 1;
       export function twice(x) { return 2 * x; }
       export class Point { constructor(x) { this.x = x; } }
       const hidden = 'h';
       const renamed = 'r';
       export { renamed as alias, hidden as "with space" };
       a = 10; // exports are read after evaluation`,
    );
    const ctx = session({ shared: loadSharedState(file).value });
    expect(
      runJson(
        ctx,
        `return [Object.keys(shared), shared.a, shared.b, shared.c, shared.e, shared.twice(4), new shared.Point(7).x,
          shared.alias, shared['with space'], Object.getPrototypeOf(shared), Object.prototype.toString.call(shared)]`,
      ),
    ).toEqual([
      ['Point', 'a', 'alias', 'b', 'c', 'e', 'twice', 'with space'],
      10,
      2,
      3,
      5,
      8,
      7,
      'r',
      'h',
      null,
      '[object Module]',
    ]);
  });

  it('supports every form of default export and gives anonymous ones the name "default"', () => {
    const cases: Array<[string, string, unknown]> = [
      ['export default function () { return 1; }', 'return [shared(), shared.name]', [1, 'default']],
      ['export default function named() { return 2; }', 'return [shared(), shared.name]', [2, 'named']],
      ['export default class { static v = 3; }', 'return [shared.v, shared.name]', [3, 'default']],
      ['export default (1, 2);', 'return shared', 2],
      ['export default /* c\n */ [4]\n;const x = 1', 'return shared', [4]],
      ['const x = 5; export { x as default }; export const y = 6;', 'return shared', 5],
      ['export default () => 7', 'return [shared(), shared.name]', [7, 'default']],
    ];
    for (const [source, probe, expected] of cases) {
      const ctx = session({ shared: loadSharedState(write('.mjs', source)).value });
      expect([source, runJson(ctx, probe)]).toEqual([source, expected]);
    }
  });

  it('runs without host access or code generation', () => {
    const file = write(
      '.mjs',
      `let codegen;
       try { Function('return 1'); codegen = 'allowed'; } catch (e) { codegen = e.name; }
       export default {
         globals: ['process', 'require', 'module', 'Buffer', 'SharedArrayBuffer', 'Atomics', 'WebAssembly',
                   'FinalizationRegistry', 'console', 'lockdown'].filter((n) => n in globalThis),
         thisAtTop: typeof this,
         codegen,
         stack: new Error('x').stack,
         stackTraceLimit: Error.stackTraceLimit,
         frozenIntrinsics: Object.isFrozen(Array.prototype) && Object.isFrozen(Object),
       };`,
    );
    const ctx = session({ shared: loadSharedState(file).value });
    expect(runJson(ctx, 'return shared')).toEqual({
      globals: [],
      thisAtTop: 'undefined',
      codegen: 'EvalError',
      frozenIntrinsics: true,
    });
  });

  it('keeps line numbers for errors thrown while evaluating', () => {
    const file = write('.mjs', `const a = 1;\n\nexport const b = 2;\nfunction f() { null.x; }\n\nf();\n`);
    expectLoadError(
      file,
      'SHARED_STATE_INVALID',
      /evaluation failed at line 6: TypeError: Cannot read properties of null/,
    );
  });

  it('rejects values whose state freezing cannot protect, naming where they are', () => {
    const cases: Array<[string, RegExp]> = [
      ['export default { index: { byId: new Map() } }', /a Map is reachable at exported value\.index\.byId/],
      ['export const s = new Set([1])', /a Set is reachable at exported value\.s/],
      ['export default [new Date(0)]', /a Date is reachable at exported value\[0\]/],
      ['export default { bytes: new Uint8Array(4) }', /a typed array is reachable/],
      ['export default { buf: new ArrayBuffer(4) }', /an ArrayBuffer is reachable/],
      ['export default { async load() {} }', /an async function is reachable at exported value\.load/],
      ['export default { async *gen() {} }', /an async generator function is reachable/],
      ['export default { p: Promise.resolve(1) }', /a Promise is reachable/],
      ['export default { it: [1, 2].values() }', /an iterator is reachable/],
      ['export default { g: (function* () { yield 1; })() }', /a generator object is reachable/],
      ['export default { w: new WeakMap() }', /a WeakMap is reachable/],
      [
        'class C {} C.prototype.cache = new Map(); export default new C()',
        /a Map is reachable at .*\[\[Prototype\]\]\.cache/,
      ],
      ['export default { get x() { return 1; }, set x(v) {}, y: { get z() { return new Map(); } } }', /^(?!)/],
    ];
    for (const [source, pattern] of cases) {
      const file = write('.mjs', source);
      if (pattern.source === '^(?!)') {
        // getters are not run: only what is reachable without calling code is checked
        expect(() => loadSharedState(file)).not.toThrow();
        continue;
      }
      expectLoadError(file, 'SHARED_STATE_INVALID', pattern);
    }
    // Private Maps in a closure are fine, and so are sync generators.
    const ok = write(
      '.mjs',
      `const byId = new Map([[1, 'a']]);
       export default { find: (id) => byId.get(id), *range(n) { for (let i = 0; i < n; i++) yield i; } };`,
    );
    expect(
      runJson(session({ shared: loadSharedState(ok).value }), 'return [shared.find(1), [...shared.range(3)]]'),
    ).toEqual(['a', [0, 1, 2]]);
  });
});

describe('forbidden module syntax', () => {
  const cases: Array<[string, RegExp]> = [
    ["import fs from 'node:fs';\nexport default 1", /:1:1: import declarations are not allowed/],
    ["export default 1;\n  import { x } from './x.mjs'", /:2:3: import declarations are not allowed/],
    ["export default function f() { return import('node:fs'); }", /:1:38: dynamic import\(\) is not allowed/],
    ['export default { url: import.meta.url }', /:1:23: import\.meta is not allowed/],
    ["export * from './other.mjs'", /:1:1: re-exporting from another module is not allowed/],
    ["export { x } from './other.mjs'", /re-exporting from another module is not allowed/],
    ['const x = await 1; export default x', /:1:11: top-level await is not allowed/],
    ['for await (const x of []) {} export default 1', /top-level for await is not allowed/],
    ['const __vmgate_shared = 1; export default 1', /identifiers starting with __vmgate are reserved/],
    ['let a = 1, b = 2; export default a <!--b\n', /HTML-like comments/],
    ['let a = 2; a\n-->0\nexport default a', /:2:3: syntax error/],
    ['export default {\n  a: 1,\n  b: ,\n}', /:3:6: syntax error: Unexpected token/],
  ];
  it.each(cases)('rejects %j', (source, pattern) => {
    expectLoadError(write('.mjs', source), 'SHARED_STATE_INVALID', pattern);
  });

  it('allows await and async code inside functions that are not exported', () => {
    const file = write('.mjs', 'async function f() { await null; }\nvoid f;\nexport default 1');
    expect(() =>
      transformSharedModule('async function f() { await null; for await (const x of []) {} }', 'x.mjs'),
    ).not.toThrow();
    expect(runJson(session({ shared: loadSharedState(file).value }), 'return shared')).toBe(1);
  });

  it('hints at ES module syntax for CommonJS files', () => {
    expectLoadError(write('.js', 'module.exports = { a: 1 };'), 'SHARED_STATE_INVALID', /uses? ES module syntax/);
  });
});

describe('load errors', () => {
  it('reports unreadable files', () => {
    const missing = path.join(dir, 'missing.json');
    expectLoadError(missing, 'SHARED_STATE_UNREADABLE', /cannot read shared state: ENOENT/);
    const directory = path.join(dir, 'a-directory.json');
    mkdirSync(directory);
    expectLoadError(directory, 'SHARED_STATE_UNREADABLE', /cannot read shared state: EISDIR/);
  });

  it('reports invalid JSON with a position when JSON.parse gives one', () => {
    expectLoadError(write('.json', '[\n1,\n2'), 'SHARED_STATE_INVALID', /\.json(:\d+:\d+)?: invalid JSON: SyntaxError/);
    const err = expectLoadError(write('.json', '{"a": [1, 2}'), 'SHARED_STATE_INVALID', /invalid JSON/);
    expect(err.message).toMatch(/\.json:1:12: invalid JSON/);
    expectLoadError(
      write('.json', ''),
      'SHARED_STATE_INVALID',
      /invalid JSON: SyntaxError: Unexpected end of JSON input/,
    );
  });

  it('reports invalid UTF-8, unknown extensions, throws and timeouts', () => {
    expectLoadError(write('.json', Buffer.from([0x22, 0xff, 0x22])), 'SHARED_STATE_INVALID', /not valid UTF-8/);
    expectLoadError(write('.txt', '{}'), 'SHARED_STATE_INVALID', /unsupported shared state file type '\.txt'/);
    expect(loadSharedState(write('.txt', '{}'), { format: 'json' }).format).toBe('json');
    expectLoadError(write('.mjs', 'throw new RangeError("nope")'), 'SHARED_STATE_INVALID', /line 1: RangeError: nope/);
    expectLoadError(write('.mjs', 'throw 42'), 'SHARED_STATE_INVALID', /evaluation failed at line 1: uncaught 42/);
    expectLoadError(
      write('.mjs', 'throw { get message() { throw new Error("getter"); } }'),
      'SHARED_STATE_INVALID',
      /could not be described/,
    );
    expectLoadError(write('.mjs', 'for (;;) {}'), 'SHARED_STATE_INVALID', /timed out after 300 ms/, { timeoutMs: 300 });
    expectLoadError(
      write('.mjs', 'export default { get x() { for (;;) {} } }; throw { get message() { for (;;) {} } };'),
      'SHARED_STATE_INVALID',
      /timed out/,
      { timeoutMs: 300 },
    );
  });
});

describe('SharedStateStore', () => {
  it('reloads: new version current, event with (next, previous), old sessions keep theirs', () => {
    const file = write('.json', '{"v":1}');
    const store = SharedStateStore.load(file);
    expect(store.file).toBe(path.resolve(file));
    const first = store.current;
    const oldSession = session({ shared: first.value });

    const events: Array<[SharedState, SharedState]> = [];
    store.on('reload', (next, previous) => events.push([next, previous]));

    // Unchanged bytes: nothing to do.
    expect(store.reload()).toBe(first);
    expect(events).toHaveLength(0);

    writeFileSync(file, '{"v":2}');
    const second = store.reload();
    expect(store.current).toBe(second);
    expect(second.version).not.toBe(first.version);
    expect(events).toEqual([[second, first]]);
    expect(runJson(oldSession, 'return shared.v')).toBe(1);
    expect(runJson(session({ shared: store.current.value }), 'return shared.v')).toBe(2);

    // Forced reload of the same bytes: a new realm, a new value.
    const third = store.reload({ force: true });
    expect(third).not.toBe(second);
    expect(third.version).toBe(second.version);
    expect(events).toHaveLength(2);
  });

  it('keeps the current version when a reload fails', () => {
    const file = write('.mjs', 'export default { v: 1 }');
    const store = SharedStateStore.load(file);
    const before = store.current;
    const onReload = jest.fn();
    store.on('reload', onReload);

    writeFileSync(file, 'import x from "y"; export default x');
    expect(() => store.reload()).toThrow(expect.objectContaining({ code: 'SHARED_STATE_INVALID' }));
    unlinkSync(file);
    expect(() => store.reload()).toThrow(expect.objectContaining({ code: 'SHARED_STATE_UNREADABLE' }));
    expect(store.current).toBe(before);
    expect(onReload).not.toHaveBeenCalled();

    writeFileSync(file, 'export default { v: 3 }');
    expect(runJson(session({ shared: store.reload().value }), 'return shared.v')).toBe(3);
    expect(onReload).toHaveBeenCalledTimes(1);
  });

  it('propagates load errors from SharedStateStore.load', () => {
    expect(() => SharedStateStore.load(path.join(dir, 'nope.json'))).toThrow(SharedStateError);
  });
});

// ---------------------------------------------------------------------------
// The realm boundary.

/**
 * Session-side harness: at every stack depth from the deepest reachable one
 * up, call shared helpers that throw (a `throw`, a V8 TypeError, a stack
 * overflow inside shared code), read `.stack` of what was caught there and of
 * errors created earlier, and keep every caught value (including the
 * session's own overflow errors). Then classify each: an object of the
 * session or the shared realm is fine; anything else came from the host.
 */
const STACK_DEPTH_HARNESS = `
'use strict';
const sharedFunction = Object.getPrototypeOf(shared.boom).constructor;
const sharedObjectPrototype = Object.getPrototypeOf(Object.getPrototypeOf(shared.boom));
const N = 200000;
const caught = new Array(N).fill(undefined);
let slot = 0;
const early = [];
for (let i = 0; i < 64; i++) { try { shared.boom(); } catch (e) { early.push(e); } }
let maxDepth = -1;
function attempt(d) {
  try { attempt(d + 1); } catch (e) { if (maxDepth < 0) maxDepth = d; if (slot < N) caught[slot++] = e; }
  if (slot < N - 8) {
    try { shared.boom(); } catch (e) { caught[slot++] = e; try { void e.stack; } catch (e2) { caught[slot++] = e2; } }
    try { shared.bad(); } catch (e) { caught[slot++] = e; try { void e.stack; } catch (e2) { caught[slot++] = e2; } }
    if (maxDepth - d < 400) {
      try { shared.deep(1e7); } catch (e) { caught[slot++] = e; try { void e.stack; } catch (e2) { caught[slot++] = e2; } }
    }
    try { void early[d & 63].stack; } catch (e2) { caught[slot++] = e2; }
  }
}
attempt(0);
let foreign = 0;
const stackTypes = [];
const names = [];
for (let i = 0; i < slot; i++) {
  const c = caught[i];
  let ok = false;
  if (c !== null && typeof c === 'object') {
    let top = c;
    for (let p = Object.getPrototypeOf(c); p !== null; p = Object.getPrototypeOf(p)) top = p;
    const F = c.constructor.constructor;
    ok = (top === Object.prototype || top === sharedObjectPrototype) && (F === Function || F === sharedFunction);
    if (top === sharedObjectPrototype) {
      const t = typeof c.stack;
      if (!stackTypes.includes(t)) stackTypes.push(t);
    }
    const name = (top === sharedObjectPrototype ? 'shared ' : top === Object.prototype ? 'session ' : 'foreign ') + c.name;
    if (!names.includes(name)) names.push(name);
  }
  if (!ok) foreign++;
}
JSON.stringify({ maxDepth, slot, foreign, stackTypes, names: names.sort() });
`;

const HELPERS_SOURCE = `{
  boom() { throw new TypeError('boom'); },
  bad(x) { return x.y.z; },
  deep(n) { return n > 0 ? this.deep(n - 1) + 1 : 0; },
}`;

describe('realm boundary: stack capture', () => {
  it('errors from shared helpers never surface host objects at any stack depth', () => {
    const state = loadSharedState(write('.mjs', `export default ${HELPERS_SOURCE}`));
    const result = JSON.parse(run(session({ shared: state.value }), STACK_DEPTH_HARNESS, 120_000) as string);
    expect(result.maxDepth).toBeGreaterThan(1000);
    expect(result.slot).toBeGreaterThan(result.maxDepth);
    expect(result.foreign).toBe(0);
    // Nothing is captured in the shared realm, so nothing is ever formatted by the host.
    expect(result.stackTypes).toEqual(['undefined']);
    expect(result.names).toEqual(expect.arrayContaining(['shared TypeError', 'shared RangeError']));
  });

  // Control for the harness: the same helpers in a realm *without* the
  // stack-capture lock do leak host RangeErrors on Node 20 (verified there).
  // If a later Node fixes its formatter, this control may stop reproducing.
  (process.versions.node.startsWith('20.') ? it : it.skip)('control: an unprotected realm leaks host errors', () => {
    const plain = vm.createContext(Object.create(null), {
      codeGeneration: { strings: false, wasm: false },
      microtaskMode: 'afterEvaluate',
    });
    const helpers = vm.runInContext(`'use strict'; Object.freeze(${HELPERS_SOURCE})`, plain);
    const result = JSON.parse(run(session({ shared: helpers }), STACK_DEPTH_HARNESS, 120_000) as string);
    expect(result.foreign).toBeGreaterThan(0);
  });
});

const IMMUTABLE_SOURCE = `
function helper(x) { return x * 2; }
class Point { constructor(x) { this.x = x; } norm() { return Math.abs(this.x); } }
export default {
  n: 1,
  label: 'orig',
  nested: { a: [1, 2], deeper: { flag: true } },
  list: [1, 2, 3],
  fn(x) { return x + 1; },
  helper,
  Point,
  origin: new Point(-3),
  get computed() { return 42; },
  [Symbol.for('vmgate.test')]: { tagged: true },
};`;

/**
 * Fingerprint of everything reachable from `shared` (own keys of every kind,
 * accessors, prototypes, so the shared realm's intrinsics too), computed
 * without running any getter; also counts objects that are not frozen.
 */
const FINGERPRINT = `
  const seen = new Set([shared]);
  const queue = [shared];
  const parts = [];
  let unfrozen = 0;
  const visit = (v) => { if (((typeof v === 'object' && v !== null) || typeof v === 'function') && !seen.has(v)) { seen.add(v); queue.push(v); } };
  const show = (v) => (typeof v === 'object' && v !== null) || typeof v === 'function' ? typeof v : typeof v === 'symbol' ? v.toString() : typeof v + ':' + String(v);
  for (let i = 0; i < queue.length; i++) {
    const o = queue[i];
    if (!Object.isFrozen(o)) unfrozen++;
    const keys = Reflect.ownKeys(o);
    parts.push(i + ':' + keys.map((k) => {
      const d = Object.getOwnPropertyDescriptor(o, k);
      const key = typeof k === 'symbol' ? k.toString() : k;
      if ('value' in d) { visit(d.value); return key + '=' + show(d.value); }
      visit(d.get); visit(d.set);
      return key + '=accessor';
    }).join(','));
    visit(Object.getPrototypeOf(o));
  }
  return { objects: queue.length, unfrozen, hash: parts.join('|') };
`;

const ATTACKS = [
  'shared.n = 2',
  'shared.added = 1',
  'delete shared.n',
  'shared.nested.a[0] = 9',
  'shared.nested.deeper.flag = false',
  "Object.defineProperty(shared, 'n', { value: 5 })",
  "Object.defineProperty(shared, 'z', { value: 5 })",
  "Object.defineProperty(shared, 'computed', { get() { return 0; } })",
  'Object.setPrototypeOf(shared, null)',
  'Object.setPrototypeOf(shared, {})',
  'shared.__proto__ = { evil: 1 }',
  'Object.getPrototypeOf(shared).x = 1',
  "Object.getPrototypeOf(shared).toString = () => 'pwned'",
  "Object.defineProperty(Object.getPrototypeOf(shared), 'hasOwnProperty', { value: () => true })",
  "Object.getPrototypeOf(shared).__defineGetter__('x', () => 1)",
  'Object.setPrototypeOf(Object.getPrototypeOf(shared), {})',
  'shared.constructor.prototype.x = 1',
  'shared.constructor.keys = () => []',
  'shared.constructor.x = 1',
  'shared.list.push(4)',
  'shared.list.pop()',
  'shared.list.length = 0',
  'shared.list.sort((a, b) => b - a)',
  'shared.list.reverse()',
  'shared.list.fill(0)',
  'shared.list.splice(0, 1)',
  'shared.list.copyWithin(0, 1)',
  'shared.list.unshift(0)',
  'Object.getPrototypeOf(shared.list).push = function () {}',
  'Object.getPrototypeOf(shared.list).polluted = 1',
  'Object.getPrototypeOf(shared.list)[Symbol.iterator] = function* () {}',
  'shared.list.constructor.from = null',
  'shared.list.constructor.prototype.map = null',
  'shared.fn.x = 1',
  "shared.fn.name = 'renamed'",
  "Object.defineProperty(shared.fn, 'name', { value: 'renamed' })",
  'delete shared.fn.length',
  'shared.helper.prototype.x = 1',
  'shared.helper.prototype.constructor = null',
  'shared.Point.prototype.norm = () => 0',
  'shared.Point.staticThing = 1',
  'shared.origin.x = 5',
  'Object.getPrototypeOf(shared.fn).call = null',
  'shared.fn.constructor.prototype.x = 1',
  'Object.getPrototypeOf(Object.getPrototypeOf(shared.fn)).x = 1',
  "shared[Symbol.for('vmgate.test')].tagged = false",
  'shared[Symbol.iterator] = function* () {}',
  "Object.getOwnPropertyDescriptor(shared, 'computed').get.x = 1",
  "try { shared.list.map(1); } catch (e) { Object.getPrototypeOf(e).message = 'x'; e.constructor.prototype.x = 1; }",
  "try { shared.list.map(1); } catch (e) { Object.getPrototypeOf(Object.getPrototypeOf(e)).toString = () => 'x'; }",
  'try { shared.list.map(1); } catch (e) { e.constructor.captureStackTrace = null; }',
  "try { shared.list.map(1); } catch (e) { e.constructor.stackTraceLimit = 50; if (typeof e.constructor.stackTraceLimit === 'number') return; throw 0; }",
  'Object.getPrototypeOf(shared.nested.a).constructor.prototype.includes = () => true',
];

describe('realm boundary: immutability', () => {
  it('every attempt to change shared state from a session fails and is invisible to other sessions', () => {
    const state = loadSharedState(write('.mjs', IMMUTABLE_SOURCE));
    const attacker = session({ shared: state.value });
    const observer = session({ shared: state.value });

    const before = runJson(observer, FINGERPRINT) as { objects: number; unfrozen: number; hash: string };
    expect(before.objects).toBeGreaterThan(100); // the walk reaches the shared realm's intrinsics
    expect(before.unfrozen).toBe(0);

    const outcomes = ATTACKS.map((attack) => [
      attack,
      run(attacker, `(() => { 'use strict'; try { ${attack}; return 'succeeded'; } catch (e) { return 'threw'; } })()`),
    ]);
    expect(outcomes.filter(([, outcome]) => outcome !== 'threw')).toEqual([]);

    // Sloppy-mode attempts fail silently; they must not succeed either.
    for (const attack of ATTACKS) run(attacker, `(function () { try { ${attack}; } catch (e) {} })()`);

    expect(runJson(observer, FINGERPRINT)).toEqual(before);
    expect(runJson(attacker, FINGERPRINT)).toEqual(before);
    expect(
      runJson(
        observer,
        `return [shared.n, shared.list, shared.nested.a, shared.fn(1), shared.helper(2), new shared.Point(-4).norm(),
          shared.origin.norm(), shared.computed, 'x' in shared, [].concat(shared.list).length]`,
      ),
    ).toEqual([1, [1, 2, 3], [1, 2], 2, 4, 4, 3, 42, false, 3]);
  });

  it('the shared realm cannot generate code, and its errors are sandbox objects', () => {
    const state = loadSharedState(write('.mjs', IMMUTABLE_SOURCE));
    const ctx = session({ shared: state.value });
    const result = runJson(
      ctx,
      `const sharedFunction = Object.getPrototypeOf(shared.fn).constructor;
       const attempts = [
         () => shared.fn.constructor('return 1'),
         () => new shared.fn.constructor('return 1'),
         () => Reflect.construct(shared.constructor.constructor, ['return 1']),
         () => shared.Point.constructor('return this')(),
         () => Object.getPrototypeOf(shared.list).map.constructor('return globalThis')(),
       ];
       return attempts.map((attempt) => {
         try { attempt(); return 'no error'; } catch (e) {
           const F = e.constructor.constructor;
           return e.name + (F === Function ? ' (session)' : F === sharedFunction ? ' (shared)' : ' (FOREIGN)');
         }
       });`,
    );
    expect(result).toEqual(Array(5).fill('EvalError (shared)'));
  });

  it('two sessions see the very same objects', () => {
    const state = loadSharedState(write('.mjs', IMMUTABLE_SOURCE));
    const a = session({ shared: state.value });
    // The host passes an opaque reference from one session to another, never looking inside.
    const nestedSeenByA = run(a, 'shared.nested');
    const b = session({ shared: state.value, fromA: nestedSeenByA });
    expect(runJson(b, 'return [fromA === shared.nested, Object.getPrototypeOf(shared) === Object.prototype]')).toEqual([
      true,
      false,
    ]);
  });
});
