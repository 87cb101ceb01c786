import fc from 'fast-check';
import { jsonStringBytes } from '../../protocol/wire-bytes';
import { capEngineOutput, capJsonString } from '../../sandbox/frame-cap';

describe('wire bytes and frame caps', () => {
  test('jsonStringBytes is exactly the UTF-8 size of JSON.stringify', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        expect(jsonStringBytes(text)).toBe(Buffer.byteLength(JSON.stringify(text)));
      }),
    );
    expect(jsonStringBytes('\u0001')).toBe(8);
  });

  test('a cut string fits its bytes, keeps no half surrogate pair and says what it left out', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 400 }), fc.integer({ min: 100, max: 800 }), (text, max) => {
        const cut = capJsonString(text, max);
        if (cut === text) return;
        expect(jsonStringBytes(cut)).toBeLessThanOrEqual(max);
        expect(cut).toMatch(/… \[truncated: \d+ of \d+ characters not shown\]$/);
        const kept = cut.slice(0, cut.lastIndexOf('… [truncated'));
        expect(text.startsWith(kept)).toBe(true);
      }),
    );
  });

  test('an error frame keeps its code and loses only what does not fit', () => {
    const capped = capEngineOutput(
      {
        type: 'error',
        ref: 1,
        error: { code: 'UNCAUGHT', message: 'm'.repeat(100_000), name: 'Error', value: `"${'v'.repeat(100_000)}"` },
      },
      16 * 1024,
    );
    expect(capped).toMatchObject({
      error: { code: 'UNCAUGHT', name: 'Error', value: '{"$type":"truncated","reason":"size"}' },
    });
    expect(JSON.stringify(capped).length).toBeLessThan(16 * 1024);
  });
});
