import { openSession, type TestSession } from '../helpers/engine';
import { groups } from './repl-parity/cases';

/**
 * The REPL compatibility suite: every case of repl-parity/cases.ts through a
 * session, its printed output compared with the Node REPL's (or, for a
 * deliberate difference, with what the case says a session prints).
 */

/** What a text-mode client sees for one input: its console lines, then the result or error. */
async function printed(session: TestSession, input: string): Promise<string> {
  const reply = await session.eval(input);
  return [...reply.logs.map((log) => log.text), reply.text].join('\n');
}

const frames = (text: string) => text.replace(/REPL\d+/g, 'REPL*');

describe.each(groups)('REPL parity: $name ($from)', ({ cases }) => {
  test('prints what the Node REPL prints, or the listed difference', async () => {
    const session = openSession();
    const mismatches: string[] = [];
    for (const [input, node, difference] of cases) {
      const actual = frames(await printed(session, input));
      const expected = frames(difference ? difference.vmgate : node);
      if (actual !== expected) {
        mismatches.push(
          `${JSON.stringify(input)}\n  expected ${JSON.stringify(expected)}\n  printed  ${JSON.stringify(actual)}`,
        );
      }
    }
    expect(mismatches).toEqual([]);
  });
});

test('every deliberate difference is a real one, with its reason', () => {
  for (const { cases } of groups) {
    for (const [input, node, difference] of cases) {
      if (!difference) continue;
      expect({ input, differs: difference.vmgate !== node, why: difference.why.length > 10 }).toEqual({
        input,
        differs: true,
        why: true,
      });
    }
  }
});
