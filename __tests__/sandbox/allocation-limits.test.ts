import { TestSession } from '../helpers/engine';

/**
 * sandbox/realm/allocation-limits.js: per-session bounds on ArrayBuffers (they
 * live outside the V8 heap) and on strings made in one call, without changing
 * how the wrapped constructors behave.
 */

describe('allocation limits in a session realm', () => {
  test.each([
    ['new ArrayBuffer(8e9)', /Array buffer allocation of 7629\.4 MiB refused/],
    ['new Uint8Array(3e8)', /Array buffer allocation of 286\.1 MiB refused/],
    ['new Float64Array(5e7)', /refused/],
    ['new ArrayBuffer(8, { maxByteLength: 1e10 })', /refused/],
    ['new Uint8Array({ length: 1e9 })', /refused/],
    ['Uint8Array.from({ length: 4e8 })', /refused/],
    ['new (Object.getPrototypeOf(new Uint8Array(1)).constructor)(1e9)', /refused/],
    ['new (new Uint8Array(1).buffer.constructor)(1e10)', /refused/],
    ['Reflect.construct(Uint16Array, [2e8])', /refused/],
    ['"x".repeat(2 ** 28)', /repeat refused: the result would be 268435456 characters/],
    ['"ab".padStart(2 ** 27)', /padStart refused/],
    ['"ab".padEnd(2 ** 27, "-")', /padEnd refused/],
  ])('%s is refused with a RangeError', async (code, message) => {
    const s = new TestSession();
    const reply = await s.eval(code);
    expect(reply.code).toBe('UNCAUGHT');
    // A message wider than 80 columns puts `Uncaught:` on a line of its own, as in the Node REPL.
    expect(reply.text).toMatch(/^Uncaught(:\n| )RangeError: /);
    expect(reply.text).toMatch(message);
  });

  test('the buffers a session holds count toward its bound', async () => {
    const s = new TestSession();
    expect(
      (await s.eval('const keep = []; for (let i = 0; i < 20; i++) keep.push(new Uint8Array(10e6)); keep.length')).text,
    ).toBe('20');
    // 200 MB held: another 100 MB would pass the 256 MiB bound.
    expect((await s.eval('new Uint8Array(100e6)')).text).toMatch(
      /refused: this session's ArrayBuffers would hold more than 256 MiB/,
    );
  });

  test.each([
    ['new Uint8Array([1, 2, 3])', 'Uint8Array(3) [ 1, 2, 3 ]'],
    ['new Uint8Array(new Set([4, 5]))', 'Uint8Array(2) [ 4, 5 ]'],
    ['new Uint8Array({ length: 2, 0: 7, 1: 8 })', 'Uint8Array(2) [ 7, 8 ]'],
    ['new Int16Array(new Uint8Array([1, 2]))', 'Int16Array(2) [ 1, 2 ]'],
    ['new Uint8Array(new ArrayBuffer(8), 2, 3).length', '3'],
    ['Uint8Array.from([1, 2, 3]).map((v) => v * 2)', 'Uint8Array(3) [ 2, 4, 6 ]'],
    ['Uint8Array.of(1, 2).filter((v) => v > 1)', 'Uint8Array(1) [ 2 ]'],
    ['new Uint8Array(4).constructor === Uint8Array', 'true'],
    ['new ArrayBuffer(4).constructor === ArrayBuffer', 'true'],
    ['new Uint8Array(4) instanceof Uint8Array', 'true'],
    ['Object.getPrototypeOf(Uint8Array) === Object.getPrototypeOf(Int8Array)', 'true'],
    [
      '[Uint8Array.name, Uint8Array.length, Uint8Array.BYTES_PER_ELEMENT, ArrayBuffer.length]',
      "[ 'Uint8Array', 3, 1, 1 ]",
    ],
    ['ArrayBuffer.isView(new DataView(new ArrayBuffer(2)))', 'true'],
    [
      'class X extends Uint8Array {}; const x = new X(2); [x instanceof X, x instanceof Uint8Array, x.length]',
      '[ true, true, 2 ]',
    ],
    ['new ArrayBuffer(4, { maxByteLength: 16 }).maxByteLength', '16'],
    ['new Uint8Array(8).buffer.slice(2).byteLength', '6'],
    ['"ab".repeat(3) + "x".padStart(3, "-") + "y".padEnd(2, "+")', "'ababab--xy+'"],
  ])('%s behaves as before', async (code, text) => {
    const s = new TestSession();
    expect((await s.eval(code)).text).toBe(text);
  });

  test.each([
    ['Uint8Array(2)', /TypeError: Constructor Uint8Array requires 'new'/],
    ['String.prototype.repeat.call(null, 2)', /TypeError: String.prototype.repeat called on null or undefined/],
    ['"x".repeat(-1)', /RangeError/],
  ])('%s throws as the intrinsic would', async (code, message) => {
    const s = new TestSession();
    expect((await s.eval(code)).text).toMatch(message);
  });

  test('species paths to the intrinsic constructors are counted too', async () => {
    const s = new TestSession();
    await s.eval('const b = new Uint8Array(200e6); b.constructor = undefined');
    expect((await s.eval('b.slice()')).text).toMatch(/refused/);
    expect((await s.eval('b.map((v) => v)')).text).toMatch(/refused/);
    expect((await s.eval('const ab = b.buffer; ab.constructor = undefined; ab.slice(0)')).text).toMatch(/refused/);
  });

  test('copies made by toReversed, toSorted and with are counted', async () => {
    const s = new TestSession();
    await s.eval('const b = new Uint8Array(200e6)');
    for (const code of ['b.toReversed()', 'b.toSorted()', 'b.with(0, 1)']) {
      expect((await s.eval(code)).text).toMatch(/refused/);
    }
    expect(await s.text('new Uint8Array([3, 1, 2]).toSorted().with(0, 9).toReversed()')).toBe(
      'Uint8Array(3) [ 3, 2, 9 ]',
    );
  });

  test('a replaced array iterator cannot slip an uncounted maxByteLength into a buffer', async () => {
    const s = new TestSession();
    expect(
      await s.text(`const saved = Array.prototype[Symbol.iterator];
        Array.prototype[Symbol.iterator] = function* () { yield { maxByteLength: 2 ** 31 }; };
        let b;
        try { b = new ArrayBuffer(8); } finally { Array.prototype[Symbol.iterator] = saved; }
        [b.resizable, b.maxByteLength]`),
    ).toBe('[ false, 8 ]');
  });

  test('user code never gets a FinalizationRegistry', async () => {
    const s = new TestSession();
    expect((await s.eval('typeof FinalizationRegistry')).text).toBe("'undefined'");
  });
});
