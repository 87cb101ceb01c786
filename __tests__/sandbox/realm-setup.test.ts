import vm from 'node:vm';
import { bundleRealmModules, REALM_EXPORTS, realmEntrySource, realmFunctionSource } from '../../common/realm-bundle';
import { TestSession } from '../helpers/engine';

/**
 * What the realm bootstrap leaves for later, and why that is safe. Repointing
 * a prototype's `constructor` costs O(live realms) on Node 20 (see
 * sandbox/realm/error-policy.js), so realm creation does none of it: the error
 * prototypes are repointed when the realm is first entered, before any user
 * code; the ArrayBuffer / typed-array wrappers are built on first need. Each
 * test below starts from a fresh session, so the case it names is the first
 * thing that happens in the realm.
 */

const ERRORS: Array<[string, string]> = [
  ['TypeError', 'null.x'],
  ['RangeError', 'new Array(-1)'],
  ['ReferenceError', 'notDeclaredAnywhere'],
  ['SyntaxError', 'JSON.parse("{")'],
  ['URIError', 'decodeURIComponent("%")'],
  ['EvalError', 'eval("1")'],
  ['Error', 'throw new Error("x")'],
];

describe('error constructors are repointed before any user code runs', () => {
  test.each(ERRORS)('a %s raised by V8 in the first eval leads to the global wrapper', async (name, code) => {
    const s = new TestSession();
    const text = await s.text(
      `let e; try { ${code} } catch (caught) { e = caught }
       [e instanceof ${name}, e.constructor === ${name}, ${name}.prototype.constructor === ${name}]`,
    );
    expect(text).toBe('[ true, true, true ]');
  });

  test('AggregateError from Promise.any', async () => {
    const s = new TestSession();
    expect(
      await s.text(
        'await Promise.any([]).catch((e) => [e instanceof AggregateError, e.constructor === AggregateError])',
      ),
    ).toBe('[ true, true ]');
  });

  test('errors made through `.constructor` still get a stack', async () => {
    const s = new TestSession();
    expect(await s.text('let e; try { null.x } catch (c) { e = new c.constructor("y") } e.stack')).toMatch(
      /^'TypeError: y\\n {4}at REPL1:/,
    );
  });
});

describe('ArrayBuffer and typed-array wrappers are built on first need', () => {
  test('until first read a typed-array global is an accessor; then the usual data property', async () => {
    const s = new TestSession();
    expect(await s.text("typeof Object.getOwnPropertyDescriptor(globalThis, 'Float64Array').get")).toBe("'function'");
    expect(
      await s.text(`const F = Float64Array; const d = Object.getOwnPropertyDescriptor(globalThis, 'Float64Array');
        [d.value === F, d.writable, d.enumerable, d.configurable, new F(1).constructor === F, F.name]`),
    ).toBe("[ true, true, false, true, true, 'Float64Array' ]");
  });

  test('typed arrays handed out by realm code lead to the counting wrappers', async () => {
    const s = new TestSession();
    // Neither Uint8Array nor ArrayBuffer is named before these objects exist.
    await s.eval("globalThis.bytes = new TextEncoder().encode('abc')");
    expect(await s.eval('new bytes.constructor(1e9)')).toMatchObject({ text: expect.stringMatching(/refused/) });
    expect(await s.eval('new bytes.buffer.constructor(1e10)')).toMatchObject({
      text: expect.stringMatching(/refused/),
    });
    expect(await s.text('[bytes.constructor === Uint8Array, bytes.buffer.constructor === ArrayBuffer]')).toBe(
      '[ true, true ]',
    );
  });

  test('a global the user replaced before reading it is left alone, and realm objects still count', async () => {
    const s = new TestSession();
    await s.eval('globalThis.Uint8Array = 1; globalThis.ArrayBuffer = 2');
    expect(await s.text("const b = new TextEncoder().encode('a'); [Uint8Array, ArrayBuffer, b.constructor.name]")).toBe(
      "[ 1, 2, 'Uint8Array' ]",
    );
    expect((await s.eval('new b.constructor(1e9)')).text).toMatch(/refused/);
  });

  test('structuredClone of a typed array', async () => {
    const s = new TestSession();
    expect(
      await s.text(
        'const c = structuredClone(new Int16Array([1, 2])); [c.constructor === Int16Array, c.buffer.constructor === ArrayBuffer, c[1]]',
      ),
    ).toBe('[ true, true, 2 ]');
  });

  test('%TypedArray%, reachable from any wrapper, cannot construct', async () => {
    const s = new TestSession();
    expect((await s.eval('new (Object.getPrototypeOf(Uint8Array).prototype.constructor)(8)')).text).toMatch(
      /^Uncaught TypeError: Abstract class TypedArray/,
    );
  });

  test('the value codec announces every bytes kind it decodes (database rows go through it)', () => {
    const context = vm.createContext(Object.create(null), { codeGeneration: { strings: false, wasm: false } });
    const factory = vm.runInContext(
      realmFunctionSource(
        bundleRealmModules(realmEntrySource({ createValueCodecWith: './value-codec/index.js' })),
        `const seen = []; return { codec: ${REALM_EXPORTS}.createValueCodecWith((kind) => seen.push(kind)), seen };`,
      ),
      context,
    ) as (host: unknown) => { codec: { decode(text: string): unknown }; seen: string[] };
    const { codec, seen } = factory(undefined);
    for (const kind of ['Uint8Array', 'ArrayBuffer', 'DataView', 'Float64Array']) {
      codec.decode(JSON.stringify({ $type: 'bytes', kind, value: 'AAAAAAAA8D8=' }));
    }
    expect([...seen]).toEqual(['Uint8Array', 'ArrayBuffer', 'DataView', 'Float64Array']);
  });
});
