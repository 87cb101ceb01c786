import { readFileSync } from 'node:fs';
import { types } from 'node:util';
import vm from 'node:vm';

/**
 * The realm that owns one version of the shared state (docs/design.md §1 rule 5).
 *
 * Every shared value is built inside its own `node:vm` realm and never in the
 * host: JSON is parsed by the realm's own `JSON.parse`, modules are evaluated
 * there. Before any shared-state code runs, the realm is locked down with
 * `ses` (every intrinsic frozen and tamed), powers it has no use for are
 * removed, and V8 stack capture is switched off for good (see PRELUDE).
 *
 * The host only ever holds the result as an opaque reference ({@link
 * SharedValue}); it never calls a realm function directly and never reads a
 * property of a realm object. Every entry is a `runInContext` under a timeout;
 * strings cross into the realm through a property of the (host-owned,
 * null-prototype) sandbox object, and only primitives come back, except the
 * final value, which is handed on unread to the session realms.
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
 * global binding or the wrapper's locals).
 */
export const RESERVED_IDENTIFIER_PREFIX = '__vmgate';

/** Name of the wrapper-local holding an expression `export default`. */
export const MODULE_DEFAULT_LOCAL = '__vmgate_default';

/** Statement the module transform puts before each top-level statement, so a throw can be located. */
export function moduleProgressMarker(line: number): string {
  return `${LOADER}.at(${line | 0});`;
}

/** Global lexical binding (script scope) holding the realm-side loader. */
const LOADER = '__vmgate_shared';
/** Sandbox property through which the host hands a string to the loader (read and deleted at once). */
const INPUT = '__vmgate_input';

const GLOBALS_REMOVED = ['SharedArrayBuffer', 'Atomics', 'WebAssembly', 'FinalizationRegistry', 'console'];

/**
 * Runs first, before `ses`. Removes powers and disables stack capture.
 *
 * V8 decides whether to capture a stack by reading `Error.stackTraceLimit` of
 * the *current realm's intrinsic* `%Error%` with a data-property lookup: an
 * accessor reads as "not a number", so nothing is ever captured, `err.stack`
 * stays `undefined`, and Node's host-side stack formatter is never invoked for
 * an error born here. (On Node 20, formatting a captured stack at a depth the
 * caller chooses can overflow inside that host formatter and throw a host
 * `RangeError` into sandbox code.) The accessor is non-configurable, so
 * neither `ses` (whose `Error.stackTraceLimit` accessors forward to this one
 * only when it reads as a number) nor any later code can turn capture back on.
 *
 * `ses` needs *a* console while it locks down; it gets a powerless one made
 * here, removed again afterwards.
 */
const PRELUDE = `'use strict';
let __vmgate_intrinsicError = Error;
(function () {
  const g = globalThis;
  const removed = ${JSON.stringify(GLOBALS_REMOVED)};
  for (let i = 0; i < removed.length; i++) {
    if (!delete g[removed[i]] || removed[i] in g) throw new TypeError('cannot remove ' + removed[i]);
  }
  const noCapture = {
    get stackTraceLimit() { return undefined; },
    set stackTraceLimit(_ignored) {},
  };
  const d = Object.getOwnPropertyDescriptor(noCapture, 'stackTraceLimit');
  Object.defineProperty(Error, 'stackTraceLimit', { get: d.get, set: d.set, enumerable: false, configurable: false });
  const quiet = { log() {}, info() {}, warn() {}, error() {}, debug() {}, trace() {}, group() {}, groupEnd() {} };
  g.console = Object.freeze(quiet);
})();
`;

/**
 * `lockdown()` options, chosen for a codegen-free vm context with no Node
 * globals:
 * - `errorTaming: 'safe'`: the default; stacks are off anyway (see PRELUDE).
 * - `evalTaming: 'no-eval'`: code generation from strings is disabled for the
 *   context, so ses must not plan on `eval` (its `Function` taming detects
 *   the throwing constructor and leaves it in place).
 * - `consoleTaming: 'unsafe'`: keep the powerless console from PRELUDE as is
 *   (the 'safe' causal console would wrap a console that is removed anyway).
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
 * Runs after `ses`: lock down, verify that stack capture is still off, drop
 * the bootstrap-only globals and define the realm-side loader.
 *
 * The loader lives in a global lexical binding, so later host entries can
 * call it by name; it is hardened, and module source may not name it.
 *
 * The realm's global object itself stays unfrozen: V8 refuses to freeze the
 * global of a vm context ("Cannot freeze"), and the loader needs it as the
 * input channel. Nothing reachable from a shared value leads to it (all code
 * that defines shared functions is strict, so no function hands out the
 * global as `this`), and every intrinsic hanging off it is frozen by lockdown.
 */
const POSTLUDE = `'use strict';
lockdown(${JSON.stringify(LOCKDOWN_OPTIONS)});
const ${LOADER} = (function () {
  const g = globalThis;
  const sesHarden = harden;
  const { freeze, create, defineProperty, getPrototypeOf, getOwnPropertyDescriptor, isFrozen } = Object;
  const { apply, ownKeys } = Reflect;
  const isArray = Array.isArray;
  const parseJson = JSON.parse;
  const stringify = JSON.stringify;
  const symbolToString = Symbol.prototype.toString;
  const SetCtor = Set;
  const MapCtor = Map;
  const setHas = Set.prototype.has;
  const setAdd = Set.prototype.add;
  const mapGet = Map.prototype.get;
  const mapSet = Map.prototype.set;
  const ObjectPrototype = Object.prototype;
  const ArrayPrototype = Array.prototype;
  const FunctionPrototype = Function.prototype;
  const PromisePrototype = Promise.prototype;
  const getter = (o, k) => getOwnPropertyDescriptor(o, k).get;
  const AsyncFunctionPrototype = getPrototypeOf(async function () {});
  const AsyncGeneratorFunctionPrototype = getPrototypeOf(async function* () {});
  const AsyncGeneratorPrototype = AsyncGeneratorFunctionPrototype.prototype;
  const AsyncIteratorPrototype = getPrototypeOf(AsyncGeneratorPrototype);
  const TypedArrayPrototype = getPrototypeOf(Uint8Array.prototype);

  // Internal slots that Object.freeze cannot protect: a frozen Map can still
  // be cleared, a frozen Date reset, a frozen iterator advanced. Each check
  // calls an intrinsic that throws for any other receiver.
  const slotChecks = [
    ['a Map', getter(Map.prototype, 'size'), []],
    ['a Set', getter(Set.prototype, 'size'), []],
    ['a WeakMap', WeakMap.prototype.has, [ObjectPrototype]],
    ['a WeakSet', WeakSet.prototype.has, [ObjectPrototype]],
    ['a WeakRef', WeakRef.prototype.deref, []],
    ['a Date', Date.prototype.getTime, []],
    ['an ArrayBuffer', getter(ArrayBuffer.prototype, 'byteLength'), []],
    ['a DataView', getter(DataView.prototype, 'byteLength'), []],
    ['an iterator', getPrototypeOf([][Symbol.iterator]()).next, []],
    ['an iterator', getPrototypeOf(new Map().entries()).next, []],
    ['an iterator', getPrototypeOf(new Set().values()).next, []],
    ['an iterator', getPrototypeOf(''[Symbol.iterator]()).next, []],
    ['an iterator', getPrototypeOf(/a/g[Symbol.matchAll]('')).next, []],
    ['a generator object', getPrototypeOf(function* () {}).prototype.next, []],
  ];
  const typedArrayTag = getter(TypedArrayPrototype, Symbol.toStringTag);

  // The intrinsic %Error% read by V8 for stackTraceLimit: check that lockdown
  // kept the accessor, then freeze it (it is unreachable from here on).
  const stl = getOwnPropertyDescriptor(__vmgate_intrinsicError, 'stackTraceLimit');
  if (stl === undefined || stl.configurable !== false || typeof stl.get !== 'function' || 'value' in stl) {
    throw new TypeError('stack capture could not be disabled');
  }
  sesHarden(__vmgate_intrinsicError);
  __vmgate_intrinsicError = undefined;
  if (new RangeError('probe').stack !== undefined || isFrozen(ObjectPrototype) !== true) {
    throw new TypeError('shared realm is not locked down');
  }
  const dropped = ['console', 'lockdown', 'repairIntrinsics', 'hardenIntrinsics'];
  for (let i = 0; i < dropped.length; i++) delete g[dropped[i]];

  let pending;
  let line = 0;

  const isObject = (v) => (typeof v === 'object' && v !== null) || typeof v === 'function';

  const clip = (s) => (s.length > 500 ? s.slice(0, 500) + '…' : s);
  const describe = (e) => {
    try {
      if (isObject(e)) {
        const message = e.message;
        if (typeof message === 'string') {
          const name = e.name;
          return clip((typeof name === 'string' && name !== '' ? name + ': ' : '') + message);
        }
      }
      return clip('uncaught ' + (typeof e === 'symbol' ? apply(symbolToString, e, []) : String(e)));
    } catch (_) {
      return 'an exception that could not be described';
    }
  };

  const takeInput = () => {
    const text = g[${JSON.stringify(INPUT)}];
    delete g[${JSON.stringify(INPUT)}];
    if (typeof text !== 'string') throw new TypeError('no input');
    return text;
  };

  // Everything JSON.parse returns is a plain object or array whose prototype
  // is an intrinsic (already frozen by lockdown), with own enumerable data
  // properties only, no sharing and no cycles: freezing each of them is
  // exactly harden(), at a fraction of its cost (no WeakSet of every object).
  const freezeJson = (root) => {
    if (typeof root !== 'object' || root === null) return;
    const stack = [root];
    let n = 1;
    while (n > 0) {
      const o = stack[--n];
      stack[n] = undefined;
      freeze(o);
      if (isArray(o)) {
        for (let i = 0; i < o.length; i++) {
          const v = o[i];
          if (typeof v === 'object' && v !== null) stack[n++] = v;
        }
      } else {
        for (const k in o) {
          const v = o[k];
          if (typeof v === 'object' && v !== null) stack[n++] = v;
        }
      }
    }
  };

  const keyText = (k) => {
    if (typeof k === 'symbol') return '[' + apply(symbolToString, k, []) + ']';
    if (/^(0|[1-9][0-9]*)$/.test(k)) return '[' + k + ']';
    if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(k)) return '.' + k;
    return '[' + stringify(k) + ']';
  };

  const classify = (o) => {
    if (typeof o === 'function') {
      const p = getPrototypeOf(o);
      if (p === AsyncFunctionPrototype) return 'an async function';
      if (p === AsyncGeneratorFunctionPrototype) return 'an async generator function';
      return '';
    }
    const proto = getPrototypeOf(o);
    // Fast path: object and array literals (and the intrinsics themselves).
    if (proto === ObjectPrototype || proto === ArrayPrototype || proto === null || proto === FunctionPrototype) {
      return '';
    }
    if (proto === PromisePrototype) return 'a Promise';
    for (let p = proto; p !== null; p = getPrototypeOf(p)) {
      if (p === AsyncIteratorPrototype && o !== AsyncGeneratorPrototype) return 'an async iterator';
    }
    if (typeof apply(typedArrayTag, o, []) === 'string') return 'a typed array';
    for (let i = 0; i < slotChecks.length; i++) {
      const check = slotChecks[i];
      try {
        apply(check[1], o, check[2]);
        return check[0];
      } catch (_) {
        // not this kind
      }
    }
    return '';
  };

  // Walks everything reachable from the exported value (own properties of
  // every key type, accessors' get/set, prototypes) and names the first
  // object whose mutable state freezing would not protect.
  const checkExported = (root) => {
    if (!isObject(root)) return '';
    const seen = new SetCtor();
    const parents = new MapCtor();
    const queue = [root];
    let tail = 1;
    apply(setAdd, seen, [root]);
    const visit = (v, parent, how) => {
      if (!isObject(v) || apply(setHas, seen, [v])) return;
      apply(setAdd, seen, [v]);
      apply(mapSet, parents, [v, [parent, how]]);
      queue[tail++] = v;
    };
    const pathOf = (o) => {
      let path = '';
      for (let cur = o; cur !== root; ) {
        const link = apply(mapGet, parents, [cur]);
        path = link[1] + path;
        cur = link[0];
      }
      return 'exported value' + path;
    };
    for (let head = 0; head < tail; head++) {
      const o = queue[head];
      queue[head] = undefined;
      const problem = classify(o);
      if (problem !== '') {
        return (
          problem + ' is reachable at ' + pathOf(o) +
          ' (freezing cannot make it immutable, and shared code must be synchronous; ' +
          'use plain objects and arrays, or keep it private in a closure)'
        );
      }
      const keys = ownKeys(o);
      for (let i = 0; i < keys.length; i++) {
        const desc = getOwnPropertyDescriptor(o, keys[i]);
        if (desc === undefined) continue;
        const k = keyText(keys[i]);
        if ('value' in desc) visit(desc.value, o, k);
        else {
          visit(desc.get, o, k + '(getter)');
          visit(desc.set, o, k + '(setter)');
        }
      }
      visit(getPrototypeOf(o), o, '.[[Prototype]]');
    }
    return '';
  };

  const namespace = (entries) => {
    const ns = create(null);
    const sorted = [];
    for (let i = 0; i < entries.length; i++) sorted[i] = entries[i];
    sorted.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    for (let i = 0; i < sorted.length; i++) {
      defineProperty(ns, sorted[i][0], { value: sorted[i][1], enumerable: true, writable: false, configurable: false });
    }
    defineProperty(ns, Symbol.toStringTag, { value: 'Module' });
    return ns;
  };

  return sesHarden({
    json() {
      let value;
      try {
        value = parseJson(takeInput());
      } catch (e) {
        return 'invalid JSON: ' + describe(e);
      }
      try {
        freezeJson(value);
      } catch (e) {
        return 'could not freeze the parsed value: ' + describe(e);
      }
      pending = value;
      return '';
    },
    module(body) {
      line = 0;
      let result;
      try {
        result = body();
      } catch (e) {
        return 'evaluation failed' + (line > 0 ? ' at line ' + line : '') + ': ' + describe(e);
      }
      try {
        const value = result[0] ? result[1] : namespace(result[2]);
        const problem = checkExported(value);
        if (problem !== '') return problem;
        sesHarden(value);
        pending = value;
        return '';
      } catch (e) {
        return 'could not harden the exported value: ' + describe(e);
      }
    },
    at(n) {
      line = n;
    },
    take() {
      const value = pending;
      pending = undefined;
      return value;
    },
  });
})();
`;

const MODULE_PREFIX = `${LOADER}.module(function () {'use strict';`;
const MODULE_SUFFIX = '\n})';

let cachedSesScript: vm.Script | undefined;

function sesScript(): vm.Script {
  if (cachedSesScript === undefined) {
    const file = require.resolve('ses');
    cachedSesScript = new vm.Script(readFileSync(file, 'utf8'), { filename: file });
  }
  return cachedSesScript;
}

let cachedBootstrap: { prelude: vm.Script; postlude: vm.Script } | undefined;

function bootstrapScripts(): { prelude: vm.Script; postlude: vm.Script } {
  cachedBootstrap ??= {
    prelude: new vm.Script(PRELUDE, { filename: 'vmgate:shared-realm-prelude' }),
    postlude: new vm.Script(POSTLUDE, { filename: 'vmgate:shared-realm-loader' }),
  };
  return cachedBootstrap;
}

const TAKE = new vm.Script(`${LOADER}.take()`, { filename: 'vmgate:shared-realm-take' });
const LOAD_JSON = new vm.Script(`${LOADER}.json()`, { filename: 'vmgate:shared-realm-json' });

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
    const { prelude, postlude } = bootstrapScripts();
    realm.#run(prelude, 'setup');
    realm.#run(sesScript(), 'setup');
    realm.#run(postlude, 'setup');
    return realm;
  }

  /** Parses `text` with the realm's own `JSON.parse` and deep-freezes the result. */
  parseJson(text: string): SharedValue {
    this.#claim();
    this.#sandbox[INPUT] = text;
    try {
      this.#expectOk(this.#run(LOAD_JSON, 'invalid'));
    } finally {
      delete this.#sandbox[INPUT];
    }
    return this.#run(TAKE, 'setup') as SharedValue;
  }

  /**
   * Evaluates a module body already transformed by `load.ts` into plain
   * statements (imports rejected, exports turned into locals) followed by
   * `returnStatement`, which returns `[hasDefault, defaultValue, [[name, value], …]]`.
   * The body runs strict, as a module would, inside a function of this realm.
   */
  evaluateModule(body: string, returnStatement: string, filename: string): SharedValue {
    this.#claim();
    let script: vm.Script;
    try {
      script = new vm.Script(`${MODULE_PREFIX}${body}\n;${returnStatement}${MODULE_SUFFIX}`, {
        filename,
        columnOffset: -MODULE_PREFIX.length,
      });
    } catch (err) {
      // Compilation happens in the host realm: this is a host SyntaxError.
      throw new SharedRealmError(`syntax error: ${dataProperty(err, 'message') ?? 'unknown'}`, 'invalid');
    }
    this.#expectOk(this.#run(script, 'invalid'));
    return this.#run(TAKE, 'setup') as SharedValue;
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
