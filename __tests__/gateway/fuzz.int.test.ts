import fc from 'fast-check';
import { connect, startTestGateway } from '../helpers/gateway';

describe('frame fuzzing against a running gateway', () => {
  test('no input crashes the server or leaves a request without its terminal frame', async () => {
    const gateway = await startTestGateway({ session: { defaultTimeoutMs: 200 } });
    const client = await connect(gateway);
    await client.next();
    const op = fc.record(
      {
        op: fc.oneof(fc.constantFrom('eval', 'commit', 'rollback', 'interrupt', 'ping'), fc.string({ maxLength: 8 })),
        code: fc.oneof(
          fc.string({ maxLength: 40 }),
          fc.constantFrom('1', 'null.x', 'await 1', '{', 'console.log(1)'),
          fc.integer(),
        ),
        timeoutMs: fc.oneof(fc.integer({ min: -5, max: 300 }), fc.constant(undefined)),
      },
      { requiredKeys: ['op'] },
    );
    const garbage = fc.oneof(fc.string({ maxLength: 60 }), fc.json({ maxDepth: 2 }));
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(op, garbage), { minLength: 1, maxLength: 6 }), async (batch) => {
        const ids: string[] = [];
        for (const item of batch) {
          if (typeof item === 'string') client.send(item);
          else {
            const id = `f${++n}`;
            ids.push(id);
            client.send({ ...item, id });
          }
        }
        const seen = new Map<string, number>();
        const marker = `m${++n}`;
        client.send({ op: 'ping', id: marker });
        for (;;) {
          const frame = await client.next(10_000);
          if (frame.type === 'log') continue;
          if (frame.id === marker) break;
          if (typeof frame.id === 'string') seen.set(frame.id, (seen.get(frame.id) ?? 0) + 1);
        }
        // A ping overtakes queued evals, so wait for the evals still running.
        for (const id of ids) {
          while (!seen.has(id)) {
            const frame = await client.next(10_000);
            if (frame.type !== 'log' && typeof frame.id === 'string') seen.set(frame.id, (seen.get(frame.id) ?? 0) + 1);
          }
        }
        for (const id of ids) expect(seen.get(id)).toBe(1);
      }),
      { numRuns: 60 },
    );
    expect(gateway.sessions.size).toBe(1);
  }, 60_000);
});
