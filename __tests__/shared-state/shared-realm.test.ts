import vm from 'node:vm';
import { MODULE_PROGRESS_MARKER, SharedRealm, SharedRealmError } from '../../shared-state/shared-realm';

/** `value` of the shared realm, read from a session-like realm as a JSON string. */
function readInSession(value: unknown): unknown {
  const sandbox = Object.create(null) as Record<string, unknown>;
  sandbox.shared = value;
  const context = vm.createContext(sandbox, { codeGeneration: { strings: false, wasm: false } });
  return JSON.parse(vm.runInContext('JSON.stringify(shared)', context) as string);
}

function evaluate(body: string, returnStatement: string, lines: number[] = []): unknown {
  return SharedRealm.create().evaluateModule(body, returnStatement, lines, 'test.mjs');
}

describe('SharedRealm: data crosses as data', () => {
  test('a module body is compiled as a function body: it cannot close its function early', () => {
    const closeEarly = () => evaluate('}); globalThis.escaped = 1; (function () {', 'return [true, 1, []];');
    expect(closeEarly).toThrow(SharedRealmError);
    expect(closeEarly).toThrow(/syntax error/);
  });

  test('the body runs strict, as a module does', () => {
    expect(() => evaluate('undeclared = 1;', 'return [true, 1, []];')).toThrow(/is not defined/);
  });

  test('a throw names the line of the last statement whose marker ran (the lines are handed over as data)', () => {
    const body = `${MODULE_PROGRESS_MARKER}const a = 1;\n\n${MODULE_PROGRESS_MARKER}null.x;`;
    expect(() => evaluate(body, 'return [true, a, []];', [1, 3])).toThrow(
      /^evaluation failed at line 3: TypeError: Cannot read properties of null/,
    );
    expect(() => evaluate('null.x;', 'return [true, 1, []];', [1])).toThrow(/^evaluation failed: TypeError/);
  });

  test('the inputs are gone from the realm before the module body runs', () => {
    const value = evaluate(
      '',
      'return [true, [typeof globalThis.__vmgate_input, typeof globalThis.__vmgate_module, typeof lockdown], []];',
    );
    expect(readInSession(value)).toEqual(['undefined', 'undefined', 'undefined']);
  });

  test('JSON text crosses as a string and is parsed and frozen in the realm', () => {
    const value = SharedRealm.create().parseJson('{"a":[1,{"b":2}]}');
    expect(readInSession(value)).toEqual({ a: [1, { b: 2 }] });
    expect(() => SharedRealm.create().parseJson('{')).toThrow(/^invalid JSON: SyntaxError/);
  });
});
