import vm from 'node:vm';
import { bundleRealmModules, REALM_EXPORTS, realmEntrySource, realmFunctionSource } from '../../common/realm-bundle';

/**
 * A context built like a session realm (null-prototype global object, no code
 * generation from strings, `afterEvaluate` microtasks) with the realm-side
 * inspector and value codec installed under a private global name, so tests
 * can evaluate code in the realm and format or encode it *inside* the realm.
 * Only strings come back to the host from the helpers below.
 */

const HARNESS_GLOBAL = '__vmgateHarness';
const ENTRY = realmEntrySource({
  createBase64: './base64.js',
  createInspector: './inspect/index.js',
  createValueCodec: './value-codec/index.js',
});

let script: vm.Script | undefined;

function getScript(): vm.Script {
  if (script === undefined) {
    const r = REALM_EXPORTS;
    const fn = realmFunctionSource(
      bundleRealmModules(ENTRY),
      `return { inspector: ${r}.createInspector(), codec: ${r}.createValueCodec(), base64: ${r}.createBase64() };`,
    );
    script = new vm.Script(
      `Object.defineProperty(globalThis, ${JSON.stringify(HARNESS_GLOBAL)}, { value: ${fn}() });`,
      { filename: 'vmgate:test/realm-harness.js' },
    );
  }
  return script;
}

export interface RealmHarness {
  readonly context: vm.Context;
  /** Runs code in the realm and returns its completion value (tests only: may be a realm object). */
  run(code: string): unknown;
  /** `inspect(<expr>, <optionsExpr>)` run inside the realm. */
  inspect(expr: string, optionsExpr?: string): string;
  /** `formatLogArgs([<argsExpr>])` run inside the realm. */
  format(argsExpr: string): string;
  /** `codec.encode(<expr>, <limitsExpr>)` run inside the realm. */
  encode(expr: string, limitsExpr?: string): string;
  /** Decodes `text` inside the realm, then runs `check` (an expression over `v`) there; returns its result. */
  decodeAndCheck(text: string, check: string): unknown;
  /** Decodes `text` inside the realm and returns the realm's inspection of the result. */
  decodeAndInspect(text: string): string;
}

export function createRealmHarness(): RealmHarness {
  const context = vm.createContext(Object.create(null), {
    codeGeneration: { strings: false, wasm: false },
    microtaskMode: 'afterEvaluate',
  });
  getScript().runInContext(context);
  const h = HARNESS_GLOBAL;
  const run = (code: string): unknown => vm.runInContext(code, context, { timeout: 10_000 });
  return {
    context,
    run,
    inspect: (expr, optionsExpr = 'undefined') => run(`${h}.inspector.inspect((${expr}), ${optionsExpr})`) as string,
    format: (argsExpr) => run(`${h}.inspector.formatLogArgs([${argsExpr}])`) as string,
    encode: (expr, limitsExpr = 'undefined') => run(`${h}.codec.encode((${expr}), ${limitsExpr})`) as string,
    decodeAndCheck: (text, check) => run(`((v) => (${check}))(${h}.codec.decode(${JSON.stringify(text)}))`),
    decodeAndInspect: (text) => run(`${h}.inspector.inspect(${h}.codec.decode(${JSON.stringify(text)}))`) as string,
  };
}
