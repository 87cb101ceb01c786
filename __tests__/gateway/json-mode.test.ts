import fc from 'fast-check';
import { formatEngineOutput, parseClientFrame } from '../../gateway/json-mode';
import { CLIENT_OPS } from '../../protocol/messages';

describe('JSON-mode frame parser', () => {
  test('never throws, and every rejection is a BAD_REQUEST', () => {
    const frames = fc.oneof(
      fc.string(),
      fc.json(),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc
        .record(
          {
            op: fc.oneof(fc.constantFrom(...CLIENT_OPS), fc.string(), fc.anything()),
            id: fc.oneof(fc.string(), fc.integer(), fc.double(), fc.anything()),
            code: fc.oneof(fc.string(), fc.anything()),
            timeoutMs: fc.oneof(fc.double(), fc.anything()),
            cursor: fc.oneof(fc.integer({ min: -2, max: 40 }), fc.double(), fc.anything()),
          },
          { requiredKeys: [] },
        )
        .map((o) => {
          try {
            return JSON.stringify(o) ?? '';
          } catch {
            return '';
          }
        }),
    );
    fc.assert(
      fc.property(frames, (text) => {
        const parsed = parseClientFrame(text);
        if (!parsed.ok) {
          expect(parsed.error.code).toBe('BAD_REQUEST');
          expect(parsed.id === null || typeof parsed.id === 'string' || typeof parsed.id === 'number').toBe(true);
        } else {
          expect(CLIENT_OPS).toContain(parsed.op.op);
          if (parsed.op.op === 'complete') {
            const { code, cursor } = parsed.op;
            expect(Number.isInteger(cursor) && (cursor as number) >= 0 && (cursor as number) <= code.length).toBe(true);
          }
        }
      }),
      { numRuns: 2000 },
    );
  });

  test('completions frames', () => {
    const frame = formatEngineOutput(
      { type: 'completions', ref: 1, from: 7, to: 9, candidates: ['currencies', 'a"b'], truncated: false },
      'c1',
    );
    expect(JSON.parse(frame as string)).toEqual({
      type: 'completions',
      id: 'c1',
      from: 7,
      to: 9,
      candidates: ['currencies', 'a"b'],
      truncated: false,
    });
    expect(parseClientFrame('{"op":"complete","id":1,"code":"ab"}')).toEqual({
      ok: true,
      op: { op: 'complete', id: 1, code: 'ab', cursor: 2 },
    });
  });

  test('the formatted frames are valid JSON with the spliced value', () => {
    const frame = formatEngineOutput(
      {
        type: 'result',
        ref: 1,
        value: '{"a":[1,{"$type":"undefined"}]}',
        text: '{ a: [ 1, undefined ] }',
        stats: { ms: 1, cpuMs: 1, dbMs: 0, queries: 0, transactionMs: 0 },
      },
      'x',
    );
    expect(JSON.parse(frame as string)).toEqual({
      type: 'result',
      id: 'x',
      value: { a: [1, { $type: 'undefined' }] },
      text: '{ a: [ 1, undefined ] }',
      stats: { ms: 1, cpuMs: 1, dbMs: 0, queries: 0, transactionMs: 0 },
    });
    const error = formatEngineOutput(
      { type: 'error', ref: 1, error: { code: 'UNCAUGHT', message: 'm', value: '1' } },
      2,
    );
    expect(JSON.parse(error as string)).toEqual({
      type: 'error',
      id: 2,
      error: { code: 'UNCAUGHT', message: 'm', value: 1 },
    });
  });
});
