import fc from 'fast-check';
import { createRealmHarness, type RealmHarness } from '../../helpers/realm-harness';

// sandbox/realm/base64.js, run inside a realm built like a session realm.
// Node's Buffer is the reference for the encoding.

let realm: RealmHarness;
const B64 = '__vmgateHarness.base64';

beforeAll(() => {
  realm = createRealmHarness();
});

function encodeInRealm(bytes: Uint8Array): string {
  return realm.run(`${B64}.encode(new Uint8Array([${Array.from(bytes).join(',')}]))`) as string;
}

/** Decodes inside the realm; returns the bytes as a hex string, or `throws:<Name>` with the realm error class. */
function decodeInRealm(text: string): string {
  return realm.run(`(() => {
    try {
      const bytes = ${B64}.decode(${JSON.stringify(text)});
      let hex = '';
      for (let i = 0; i < bytes.length; i++) hex += bytes[i].toString(16).padStart(2, '0');
      return (bytes instanceof Uint8Array ? '' : 'not-a-realm-Uint8Array:') + hex;
    } catch (e) {
      return 'throws:' + (e instanceof TypeError ? 'TypeError' : 'other') + ':' + e.message;
    }
  })()`) as string;
}

describe('base64 (realm)', () => {
  it('encodes like Buffer for the RFC 4648 test vectors', () => {
    const vectors: [string, string][] = [
      ['', ''],
      ['f', 'Zg=='],
      ['fo', 'Zm8='],
      ['foo', 'Zm9v'],
      ['foob', 'Zm9vYg=='],
      ['fooba', 'Zm9vYmE='],
      ['foobar', 'Zm9vYmFy'],
    ];
    for (const [plain, encoded] of vectors) {
      expect(encodeInRealm(Buffer.from(plain))).toBe(encoded);
      expect(decodeInRealm(encoded)).toBe(Buffer.from(plain).toString('hex'));
    }
  });

  it('round-trips arbitrary bytes and matches Buffer', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const encoded = encodeInRealm(bytes);
        expect(encoded).toBe(Buffer.from(bytes).toString('base64'));
        expect(decodeInRealm(encoded)).toBe(Buffer.from(bytes).toString('hex'));
      }),
      { numRuns: 200 },
    );
  });

  it('encodes a view with a byte offset (only the view bytes)', () => {
    const text = realm.run(`${B64}.encode(new Uint8Array([9, 1, 2, 3, 9]).subarray(1, 4))`);
    expect(text).toBe(Buffer.from([1, 2, 3]).toString('base64'));
  });

  it('handles large inputs quickly (chunked String.fromCharCode)', () => {
    const result = realm.run(`(() => {
      const bytes = new Uint8Array(3 * 1024 * 1024 + 1);
      for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7) & 255;
      const t0 = Date.now();
      const text = ${B64}.encode(bytes);
      const back = ${B64}.decode(text);
      let same = back.length === bytes.length;
      for (let i = 0; same && i < bytes.length; i += 4099) same = back[i] === bytes[i];
      return { ms: Date.now() - t0, length: text.length, same, tail: text.slice(-8) };
    })()`) as { ms: number; length: number; same: boolean; tail: string };
    const reference = Buffer.alloc(3 * 1024 * 1024 + 1);
    for (let i = 0; i < reference.length; i++) reference[i] = (i * 7) & 255;
    const expected = reference.toString('base64');
    expect(result.length).toBe(expected.length);
    expect(result.tail).toBe(expected.slice(-8));
    expect(result.same).toBe(true);
    expect(result.ms).toBeLessThan(2000);
  });

  it('accepts missing padding and ASCII whitespace (forgiving base64, as atob)', () => {
    expect(decodeInRealm('Zg')).toBe('66');
    expect(decodeInRealm('Zm8')).toBe('666f');
    expect(decodeInRealm(' Zm 9v\nYg==\t')).toBe('666f6f62');
    expect(decodeInRealm('')).toBe('');
  });

  it('ignores non-zero trailing bits like atob', () => {
    expect(decodeInRealm('Zh==')).toBe(Buffer.from(atob('Zh=='), 'latin1').toString('hex'));
  });

  it('rejects invalid input with a realm TypeError', () => {
    for (const bad of ['Z', 'Zg=', 'Zg===', '=Zg=', 'Zm9v!', 'Zm9v-_', 'Zg==Zg==', 'Zm9vYg=a', 'é', 'Zm9\u0000']) {
      expect(decodeInRealm(bad)).toMatch(/^throws:TypeError:base64\.decode/);
    }
    expect(realm.run(`(() => { try { ${B64}.decode(42); } catch (e) { return e instanceof TypeError; } })()`)).toBe(
      true,
    );
    expect(realm.run(`(() => { try { ${B64}.encode([1, 2]); } catch (e) { return e instanceof TypeError; } })()`)).toBe(
      true,
    );
  });

  it('matches atob on what atob accepts and rejects', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'AZaz09+/= \n'.split('')), maxLength: 12 }), (text) => {
        let expected: string;
        try {
          expected = Buffer.from(atob(text), 'latin1').toString('hex');
        } catch {
          expected = 'throws';
        }
        const actual = decodeInRealm(text);
        expect(actual.startsWith('throws:TypeError') ? 'throws' : actual).toBe(expected);
      }),
      { numRuns: 300 },
    );
  });
});
