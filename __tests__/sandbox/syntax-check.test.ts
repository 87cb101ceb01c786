import vm from 'node:vm';
import { transformInput } from '../../sandbox/repl-transform';
import { checkSyntax } from '../../sandbox/syntax-check';

/** V8's own message for the text compiled as a script, or undefined when it compiles. */
function scriptMessage(code: string): string | undefined {
  try {
    new vm.Script(code);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

function transformMessage(code: string): string | undefined {
  try {
    transformInput(code);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

describe('syntax check: inputs that await', () => {
  test('an input fine as an async body is compiled as a script only when the parser refuses it', () => {
    const verdict = checkSyntax('await db.insertInto("t").values({ i: 1 }).execute()');
    expect(verdict.kind).toBe('async');
    if (verdict.kind !== 'async') return;
    // Asked for, the script compile still reports V8's complaint.
    expect(verdict.scriptError()?.message).toBe(scriptMessage('await db.insertInto("t").values({ i: 1 }).execute()'));
  });

  test('an input that also compiles as a script has no script error', () => {
    const verdict = checkSyntax('var await = 1; await');
    expect(verdict.kind === 'ok' || (verdict.kind === 'async' && verdict.scriptError() === undefined)).toBe(true);
  });

  test("fine for V8 only as an async function body: the script's complaint stands", () => {
    const code = 'await 1; return 2';
    expect(transformMessage(code)).toBe(scriptMessage(code));
  });

  test('refused by both compiles: the error V8 reports', () => {
    expect(checkSyntax('await (').kind).toBe('error');
    expect(checkSyntax('let await = 1; await 1').kind).toBe('error');
    expect(transformMessage('await 1 +')).toBe('Unexpected end of input');
  });
});
