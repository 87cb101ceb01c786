import fc from 'fast-check';
import { formatEngineOutput, parseClientFrame } from '../../gateway/json-mode';

describe('JSON-mode frame parser', () => {
  test('never throws, and every rejection is a BAD_REQUEST', () => {
    const frames = fc.oneof(
      fc.string(),
      fc.json(),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc
        .record(
          {
            op: fc.oneof(
              fc.constantFrom('eval', 'commit', 'rollback', 'interrupt', 'ping'),
              fc.string(),
              fc.anything(),
            ),
            id: fc.oneof(fc.string(), fc.integer(), fc.double(), fc.anything()),
            code: fc.oneof(fc.string(), fc.anything()),
            timeoutMs: fc.oneof(fc.double(), fc.anything()),
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
          expect(['eval', 'commit', 'rollback', 'interrupt', 'ping']).toContain(parsed.op.op);
        }
      }),
      { numRuns: 2000 },
    );
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
