import { readFileSync } from 'node:fs';
import path from 'node:path';
import { types } from 'node:util';
import vm from 'node:vm';
import { findPackageRoot } from '../common/package-root';

/**
 * The realm that owns one version of the shared state (docs/design.md §1 rule 5).
 *
 * Every shared value is built inside its own `node:vm` realm and never in the
 * host: JSON is parsed by the realm's own `JSON.parse`, modules are evaluated
 * there. Before any shared-state code runs, the realm is locked down with
 * `ses` (every intrinsic frozen and tamed), powers it has no use for are
 * removed, and V8 stack capture is switched off for good (realm/prelude.js).
 *
 * The host only ever holds the result as an opaque reference ({@link
 * SharedValue}); it never calls a realm function directly and never reads a
 * property of a realm object. Every entry is a `runInContext` of a script
 * under `realm/` under a timeout; data crosses into the realm through a
 * property of the (host-owned, null-prototype) sandbox object (strings, and
 * the module body compiled in the realm), never by building code, and only
 * primitives come back, except the final value, which is handed on unread to
 * the session realms.
 */

declare const sharedValueBrand: unique symbol;

/** An opaque reference to a deep-frozen value owned by a shared realm. Inject it; never inspect it. */
export type SharedValue = { readonly [sharedValueBrand]: 'SharedValue' };

/** Why the realm refused or failed; `load.ts` turns this into a `SharedStateError`. */
export type SharedRealmFailure = 'setup' | 'invalid' | 'timeout';

export class SharedRealmError extends Error {
  override readonly name = 'SharedRealmError';
  constructor(
    message: string,
    readonly reason: SharedRealmFailure,
  ) {
    super(message);
  }
}

export interface SharedRealmOptions {
  /** CPU budget of each entry into the realm (lockdown, parse + harden, module evaluation). Default 30 s. */
  readonly timeoutMs?: number;
}

export const DEFAULT_SHARED_REALM_TIMEOUT_MS = 30_000;

/**
 * Identifiers starting with this prefix are reserved for the loader; module
 * source that mentions one is rejected (it could otherwise reach the loader's
 * global binding, the sandbox inputs or the locals the transform adds).
 */
export const RESERVED_IDENTIFIER_PREFIX = '__vmgate';

/** Name of the body-local holding an expression `export default`. */
export const MODULE_DEFAULT_LOCAL = '__vmgate_default';

/**
 * Statement the module transform puts before each top-level statement, so a
 * throw can be located: the loader counts the markers that ran, and the host
 * hands it the line of each statement as data ({@link SharedRealm.evaluateModule}).
 * Names the loader's global binding (realm/loader.js).
 */
export const MODULE_PROGRESS_MARKER = '__vmgate_shared.at();';

/** Sandbox property through which the host hands a string to the realm (read and deleted at once). */
const INPUT = '__vmgate_input';
/** Sandbox property through which the host hands the compiled module body to the loader. */
const MODULE_INPUT = '__vmgate_module';

/** Removed by realm/prelude.js before ses runs. */
const GLOBALS_REMOVED = ['SharedArrayBuffer', 'Atomics', 'WebAssembly', 'FinalizationRegistry', 'console'];

/**
 * `lockdown()` options (applied by realm/lockdown.js), chosen for a
 * codegen-free vm context with no Node globals:
 * - `errorTaming: 'safe'`: the default; stacks are off anyway (realm/prelude.js).
 * - `evalTaming: 'no-eval'`: code generation from strings is disabled for the
 *   context, so ses must not plan on `eval` (its `Function` taming detects
 *   the throwing constructor and leaves it in place).
 * - `consoleTaming: 'unsafe'`: keep the powerless console from the prelude as
 *   is (the 'safe' causal console would wrap a console that is removed anyway).
 * - `errorTrapping` / `unhandledRejectionTrapping: 'none'`, `reporting:
 *   'none'`: there is no `process` or `window` here and nobody to report to.
 * - `overrideTaming: 'moderate'` (default): frozen intrinsics stay usable by
 *   ordinary code that assigns e.g. `obj.toString = …` on its own objects.
 * - `regExpTaming: 'safe'`, `localeTaming: 'safe'`, `domainTaming: 'safe'`
 *   (defaults): no `RegExp.prototype.compile`, no legacy `RegExp.$1`
 *   statics (cross-session state otherwise), no locale-dependent methods.
 */
export const LOCKDOWN_OPTIONS = Object.freeze({
  errorTaming: 'safe',
  evalTaming: 'no-eval',
  consoleTaming: 'unsafe',
  errorTrapping: 'none',
  unhandledRejectionTrapping: 'none',
  reporting: 'none',
  overrideTaming: 'moderate',
  stackFiltering: 'concise',
  regExpTaming: 'safe',
  localeTaming: 'safe',
  domainTaming: 'safe',
});

/**
 * Realm-side code: plain scripts under `shared-state/realm/`, read from the
 * source tree (one copy whether the host runs from sources or from `dist/`),
 * once per process, and compiled once. Setup runs prelude → ses → lockdown →
 * loader; the others are entries into the loader.
 */
const REALM_DIR = path.resolve(findPackageRoot(__dirname), 'shared-state', 'realm');

interface RealmScripts {
  readonly prelude: vm.Script;
  readonly ses: vm.Script;
  readonly lockdown: vm.Script;
  readonly loader: vm.Script;
  readonly parseJson: vm.Script;
  readonly evaluateModule: vm.Script;
  readonly take: vm.Script;
}

let cachedScripts: RealmScripts | undefined;

function realmScripts(): RealmScripts {
  if (cachedScripts === undefined) {
    const realmFile = (name: string, filename: string): vm.Script =>
      new vm.Script(readFileSync(path.join(REALM_DIR, `${name}.js`), 'utf8'), { filename });
    const sesFile = require.resolve('ses');
    cachedScripts = {
      prelude: realmFile('prelude', 'vmgate:shared-realm-prelude'),
      ses: new vm.Script(readFileSync(sesFile, 'utf8'), { filename: sesFile }),
      lockdown: realmFile('lockdown', 'vmgate:shared-realm-lockdown'),
      loader: realmFile('loader', 'vmgate:shared-realm-loader'),
      parseJson: realmFile('parse-json', 'vmgate:shared-realm-json'),
      evaluateModule: realmFile('evaluate-module', 'vmgate:shared-realm-module'),
      take: realmFile('take', 'vmgate:shared-realm-take'),
    };
  }
  return cachedScripts;
}

const GLOBALS_REMOVED_JSON = JSON.stringify(GLOBALS_REMOVED);
const LOCKDOWN_OPTIONS_JSON = JSON.stringify(LOCKDOWN_OPTIONS);

/** Makes the module body strict, as a module is; the column offset keeps line 1's columns. */
const STRICT = "'use strict';";

/**
 * One shared realm, holding (at most) one shared value. Create a new realm
 * per load: a realm whose load failed or timed out is simply dropped, and an
 * old version stays alive exactly as long as sessions reference its value.
 */
export class SharedRealm {
  readonly #sandbox: Record<string, unknown>;
  readonly #context: vm.Context;
  readonly #timeoutMs: number;
  #used = false;

  private constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
    // Null prototype: a plain `{}` would be a host object whose
    // `constructor.constructor` is the host's Function.
    this.#sandbox = Object.create(null) as Record<string, unknown>;
    this.#context = vm.createContext(this.#sandbox, {
      codeGeneration: { strings: false, wasm: false },
      microtaskMode: 'afterEvaluate',
      name: 'vmgate shared',
    });
  }

  /** Creates a realm, removes its powers, disables stack capture and locks it down with ses. */
  static create(options: SharedRealmOptions = {}): SharedRealm {
    const timeoutMs = options.timeoutMs ?? DEFAULT_SHARED_REALM_TIMEOUT_MS;
    const realm = new SharedRealm(timeoutMs);
    const scripts = realmScripts();
    realm.#runWithInput(scripts.prelude, GLOBALS_REMOVED_JSON, 'setup');
    realm.#run(scripts.ses, 'setup');
    realm.#runWithInput(scripts.lockdown, LOCKDOWN_OPTIONS_JSON, 'setup');
    realm.#run(scripts.loader, 'setup');
    return realm;
  }

  /** Parses `text` with the realm's own `JSON.parse` and deep-freezes the result. */
  parseJson(text: string): SharedValue {
    this.#claim();
    const scripts = realmScripts();
    this.#expectOk(this.#runWithInput(scripts.parseJson, text, 'invalid'));
    return this.#run(scripts.take, 'setup') as SharedValue;
  }

  /**
   * Evaluates a module body already transformed by `load.ts` into plain
   * statements (imports rejected, exports turned into locals) followed by
   * `returnStatement`, which returns `[hasDefault, defaultValue, [[name, value], …]]`.
   * The body is compiled as a function of this realm and runs strict, as a
   * module would. `statementLines[n]` is the line of the statement after the
   * n-th {@link MODULE_PROGRESS_MARKER}.
   */
  evaluateModule(
    body: string,
    returnStatement: string,
    statementLines: readonly number[],
    filename: string,
  ): SharedValue {
    this.#claim();
    let compiled: unknown;
    try {
      compiled = vm.compileFunction(`${STRICT}${body}\n;${returnStatement}`, [], {
        filename,
        columnOffset: -STRICT.length,
        parsingContext: this.#context,
      });
    } catch (err) {
      // A SyntaxError of the realm (compiled there): read by descriptors only.
      throw new SharedRealmError(`syntax error: ${dataProperty(err, 'message') ?? 'unknown'}`, 'invalid');
    }
    const scripts = realmScripts();
    this.#sandbox[MODULE_INPUT] = compiled;
    try {
      this.#expectOk(this.#runWithInput(scripts.evaluateModule, JSON.stringify(statementLines), 'invalid'));
    } finally {
      delete this.#sandbox[MODULE_INPUT];
    }
    return this.#run(scripts.take, 'setup') as SharedValue;
  }

  #claim(): void {
    if (this.#used) throw new SharedRealmError('a shared realm holds one value; create a new realm per load', 'setup');
    this.#used = true;
  }

  #expectOk(status: unknown): void {
    if (typeof status !== 'string') {
      throw new SharedRealmError('the shared realm loader returned an unexpected value', 'setup');
    }
    if (status !== '') throw new SharedRealmError(status, 'invalid');
  }

  /** Runs `script` with `input` in the sandbox property the realm reads it from (and deletes). */
  #runWithInput(script: vm.Script, input: string, failure: SharedRealmFailure): unknown {
    this.#sandbox[INPUT] = input;
    try {
      return this.#run(script, failure);
    } finally {
      delete this.#sandbox[INPUT];
    }
  }

  #run(script: vm.Script, failure: SharedRealmFailure): unknown {
    try {
      // displayErrors: false, so Node never decorates (reads) a realm error on the way out.
      return script.runInContext(this.#context, {
        timeout: this.#timeoutMs,
        displayErrors: false,
        breakOnSigint: false,
      });
    } catch (err) {
      if (isTimeout(err)) throw new SharedRealmError(`timed out after ${this.#timeoutMs} ms`, 'timeout');
      // Not a timeout: a value escaped the loader's own try/catch (or setup
      // failed). Describe it without running any of its code.
      throw new SharedRealmError(`unexpected exception in the shared realm: ${describeFailure(err)}`, failure);
    }
  }
}

/**
 * Node creates the timeout error in the *current* context, i.e. inside the
 * realm, with a plain own `code` property. Recognise it by that own data
 * property only: no getter or proxy trap of the realm is ever run.
 */
function isTimeout(err: unknown): boolean {
  if (typeof err !== 'object' || err === null || types.isProxy(err) || !types.isNativeError(err)) return false;
  const code = Object.getOwnPropertyDescriptor(err, 'code');
  return code !== undefined && 'value' in code && code.value === 'ERR_SCRIPT_EXECUTION_TIMEOUT';
}

/**
 * A string data property found on `value` or its prototypes, read with
 * property descriptors only: no getter and no proxy trap runs, so this is
 * safe even on an object of the realm (it is used only to describe
 * failures: a compile error, a setup error that escaped the realm).
 */
function dataProperty(value: unknown, key: string): string | undefined {
  for (let p = value; typeof p === 'object' && p !== null; p = Object.getPrototypeOf(p)) {
    if (types.isProxy(p)) return undefined;
    const desc = Object.getOwnPropertyDescriptor(p, key);
    if (desc !== undefined) return 'value' in desc && typeof desc.value === 'string' ? desc.value : undefined;
  }
  return undefined;
}

function describeFailure(err: unknown): string {
  const message = dataProperty(err, 'message');
  if (message === undefined) return 'unknown error';
  const name = dataProperty(err, 'name');
  return name ? `${name}: ${message}` : message;
}
