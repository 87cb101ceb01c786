// @ts-check
// Run by SharedRealm.create (shared-state/shared-realm.ts) after lockdown.js,
// once per shared realm, before any shared-state code. Defines the realm-side
// loader `__vmgate_shared`, which the entry scripts (parse-json.js,
// evaluate-module.js, take.js) and the progress markers of a transformed
// module call by name.
//
// The loader lives in a global lexical binding, so later host entries can
// call it by name; it is hardened, and module source may not name it
// (identifiers starting with `__vmgate` are reserved). It captures what it
// uses from the global object now: that object stays unfrozen (V8 refuses to
// freeze the global of a vm context, and it is the host's input channel), so
// shared-state code could replace `globalThis.Object` before the loader's
// checks run. Nothing reachable from a shared value leads to the global (all
// code that defines shared functions is strict, so no function hands out the
// global as `this`), and every intrinsic hanging off it is frozen by lockdown.
//
// Inputs arrive as properties of the host-owned sandbox object, read and
// deleted at once: `__vmgate_input` (a string) and `__vmgate_module` (the
// module body, a function the host compiled in this realm). Only primitives
// go back to the host, except the final value (`take()`), which the host
// hands on unread to the session realms.

/**
 * @typedef {object} SharedLoader
 * @property {() => string} json Parses `__vmgate_input` as JSON and deep-freezes it; '' or why not.
 * @property {() => string} module Runs `__vmgate_module`, checks and hardens its exports; '' or why not.
 * @property {() => void} at Progress marker, run before each top-level statement of a module.
 * @property {() => unknown} take The value of the last successful `json()` or `module()`, once.
 */

/** @type {SharedLoader} */
const __vmgate_shared = (() => {
  const g = /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (globalThis));
  const sesHarden = harden;
  const { freeze, create, defineProperty, getPrototypeOf, getOwnPropertyDescriptor } = Object;
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
  /** @type {(o: object, k: PropertyKey) => Function} */
  const getter = (o, k) =>
    /** @type {Function} */ (/** @type {PropertyDescriptor} */ (getOwnPropertyDescriptor(o, k)).get);
  const AsyncFunctionPrototype = getPrototypeOf(async () => {});
  const AsyncGeneratorFunctionPrototype = getPrototypeOf(async function* () {});
  const AsyncGeneratorPrototype = AsyncGeneratorFunctionPrototype.prototype;
  const AsyncIteratorPrototype = getPrototypeOf(AsyncGeneratorPrototype);
  const TypedArrayPrototype = getPrototypeOf(Uint8Array.prototype);

  // Internal slots that Object.freeze cannot protect: a frozen Map can still
  // be cleared, a frozen Date reset, a frozen iterator advanced. Each check
  // calls an intrinsic that throws for any other receiver.
  /** @type {Array<[kind: string, check: Function, args: unknown[]]>} */
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

  /** @type {unknown} */
  let pending;
  /** Progress markers run by the module being evaluated. */
  let statements = 0;

  /** @type {(v: unknown) => v is object} */
  const isObject = (v) => (typeof v === 'object' && v !== null) || typeof v === 'function';

  /** @param {string} s */
  const clip = (s) => (s.length > 500 ? s.slice(0, 500) + '…' : s);
  /** @param {unknown} e */
  const describe = (e) => {
    try {
      if (isObject(e)) {
        const message = /** @type {{ message?: unknown }} */ (e).message;
        if (typeof message === 'string') {
          const name = /** @type {{ name?: unknown }} */ (e).name;
          return clip((typeof name === 'string' && name !== '' ? name + ': ' : '') + message);
        }
      }
      return clip('uncaught ' + (typeof e === 'symbol' ? apply(symbolToString, e, []) : String(e)));
    } catch (_) {
      return 'an exception that could not be described';
    }
  };

  /** @param {string} key */
  const takeInput = (key) => {
    const value = g[key];
    delete g[key];
    return value;
  };

  // Everything JSON.parse returns is a plain object or array whose prototype
  // is an intrinsic (already frozen by lockdown), with own enumerable data
  // properties only, no sharing and no cycles: freezing each of them is
  // exactly harden(), at a fraction of its cost (no WeakSet of every object).
  /** @param {unknown} root */
  const freezeJson = (root) => {
    if (typeof root !== 'object' || root === null) return;
    /** @type {Array<Record<string, unknown> | undefined>} */
    const stack = [/** @type {Record<string, unknown>} */ (root)];
    let n = 1;
    while (n > 0) {
      const o = /** @type {Record<string, unknown>} */ (stack[--n]);
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
          if (typeof v === 'object' && v !== null) stack[n++] = /** @type {Record<string, unknown>} */ (v);
        }
      }
    }
  };

  /** @param {string | symbol} k */
  const keyText = (k) => {
    if (typeof k === 'symbol') return '[' + apply(symbolToString, k, []) + ']';
    if (/^(0|[1-9][0-9]*)$/.test(k)) return '[' + k + ']';
    if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(k)) return '.' + k;
    return '[' + stringify(k) + ']';
  };

  /** @param {object} o */
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
  /** @param {unknown} root */
  const checkExported = (root) => {
    if (!isObject(root)) return '';
    const seen = new SetCtor();
    const parents = new MapCtor();
    /** @type {Array<object | undefined>} */
    const queue = [root];
    let tail = 1;
    apply(setAdd, seen, [root]);
    /** @type {(v: unknown, parent: object, how: string) => void} */
    const visit = (v, parent, how) => {
      if (!isObject(v) || apply(setHas, seen, [v])) return;
      apply(setAdd, seen, [v]);
      apply(mapSet, parents, [v, [parent, how]]);
      queue[tail++] = v;
    };
    /** @param {object} o */
    const pathOf = (o) => {
      let path = '';
      for (let cur = o; cur !== root; ) {
        const link = /** @type {[object, string]} */ (apply(mapGet, parents, [cur]));
        path = link[1] + path;
        cur = link[0];
      }
      return 'exported value' + path;
    };
    for (let head = 0; head < tail; head++) {
      const o = /** @type {object} */ (queue[head]);
      queue[head] = undefined;
      const problem = classify(o);
      if (problem !== '') {
        return (
          problem +
          ' is reachable at ' +
          pathOf(o) +
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

  /** @param {Array<[name: string, value: unknown]>} entries */
  const namespace = (entries) => {
    const ns = create(null);
    /** @type {Array<[name: string, value: unknown]>} */
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
        const text = takeInput('__vmgate_input');
        if (typeof text !== 'string') throw new TypeError('no input');
        value = parseJson(text);
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
    module() {
      // The body returns [hasDefault, defaultValue, [[name, value], …]] (load.ts).
      const body = /** @type {() => [boolean, unknown, Array<[string, unknown]>]} */ (takeInput('__vmgate_module'));
      const linesText = takeInput('__vmgate_input');
      if (typeof body !== 'function' || typeof linesText !== 'string') throw new TypeError('no module');
      // The line of each top-level statement, in order: marker n ran last → lines[n - 1].
      const lines = /** @type {number[]} */ (parseJson(linesText));
      statements = 0;
      let result;
      try {
        result = body();
      } catch (e) {
        const line = statements > 0 ? lines[statements - 1] : 0;
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
    at() {
      statements++;
    },
    take() {
      const value = pending;
      pending = undefined;
      return value;
    },
  });
})();
