// Realm-side source. Completion candidates (docs/protocol.md, "complete"),
// computed from property descriptors only: no getter, setter, Proxy trap or
// other user function ever runs while they are gathered.
//
// - Proxies are refused: the realm's `Proxy` is replaced, before any user
//   code runs, by a wrapper that records every proxy it creates, so one is
//   recognised without touching it (any operation on a proxy may run a trap).
// - A path (`a.b.c`) is followed through data properties only. The only
//   accessors followed are the realm's own: lazily built globals (`console`,
//   `URL`, ...; `db` and `sql` once built), `_`, `_error` and `const` REPL bindings,
//   registered as trusted below.
// - Prototype chains are walked to a fixed depth and the names gathered are
//   capped; the host runs the whole thing as a timed entry, so a huge object
//   costs at most that entry's budget.

import {
  ArrayPrototypeJoin,
  ArrayPrototypePush,
  ArrayPrototypeSort,
  FunctionPrototypeCall,
  isObjectLike,
  JSONParse,
  JSONStringify,
  ObjectCreate,
  ObjectDefineProperty,
  ObjectFreeze,
  ObjectGetOwnPropertyDescriptor,
  ObjectGetOwnPropertyNames,
  ObjectGetPrototypeOf,
  ObjectPrototypeHasOwnProperty,
  ObjectSetPrototypeOf,
  ReflectConstruct,
  RegExpPrototypeExec,
  SafeSet,
  SafeWeakSet,
  SetPrototypeAdd,
  SetPrototypeHas,
  StringPrototypeStartsWith,
  WeakSetPrototypeAdd,
  WeakSetPrototypeHas,
} from './primordials.js';

const completionProxies = new SafeWeakSet();
const trustedGetters = new SafeWeakSet();
const COMPLETION_MAX_DEPTH = 64;
const COMPLETION_MAX_NAMES = 1000;
/** Longer names are left out (they would make the answer huge, and nobody types them). */
const COMPLETION_MAX_NAME_LENGTH = 256;
const IDENTIFIER = /^[\p{ID_Start}$_][\p{ID_Continue}$\u200c\u200d]*$/u;

/** Replaces the global `Proxy` by a recording wrapper (same behaviour, no `prototype`, not callable). */
export function installProxyRegistry(global) {
  const Intrinsic = global.Proxy;
  const revocable = Intrinsic.revocable;
  const note = (proxy) => {
    WeakSetPrototypeAdd(completionProxies, proxy);
    return proxy;
  };
  const methods = {
    revocable(target, handler) {
      const result = revocable(target, handler);
      note(result.proxy);
      return result;
    },
  };
  ObjectDefineProperty(Intrinsic, 'revocable', { value: methods.revocable, writable: true, configurable: true });
  const handler = ObjectCreate(null);
  handler.construct = (target, args, newTarget) => note(ReflectConstruct(target, args, newTarget));
  ObjectDefineProperty(global, 'Proxy', {
    value: new Intrinsic(Intrinsic, ObjectFreeze(handler)),
    writable: true,
    enumerable: false,
    configurable: true,
  });
}

/** A realm-made accessor that completion may call (it runs trusted code only). */
export function trustGetter(getter) {
  WeakSetPrototypeAdd(trustedGetters, getter);
  return getter;
}

/**
 * The value of `name` on `value` (own, else inherited), when it is a data
 * property or a trusted accessor; `undefined` found nothing usable.
 */
function readDataProperty(value, name) {
  let holder = isObjectLike(value) ? value : primitivePrototype(value);
  for (let depth = 0; depth < COMPLETION_MAX_DEPTH && holder !== null && holder !== undefined; depth++) {
    if (WeakSetPrototypeHas(completionProxies, holder)) return undefined;
    const desc = ObjectGetOwnPropertyDescriptor(holder, name);
    if (desc !== undefined) {
      if (ObjectPrototypeHasOwnProperty(desc, 'value')) return { value: desc.value };
      if (typeof desc.get === 'function' && WeakSetPrototypeHas(trustedGetters, desc.get)) {
        return { value: FunctionPrototypeCall(desc.get, value) };
      }
      return undefined;
    }
    holder = ObjectGetPrototypeOf(holder);
  }
  return undefined;
}

/** The intrinsic prototype a primitive's properties come from (none for null and undefined). */
function primitivePrototype(value) {
  if (value === null || value === undefined) return null;
  return ObjectGetPrototypeOf(value);
}

/** An array no user code can reach through its prototype (an index setter on Array.prototype...). */
function bareArray() {
  const array = [];
  ObjectSetPrototypeOf(array, null);
  return array;
}

/**
 * Identifier names on `value` and its prototypes starting with `prefix`, own
 * first, each level sorted, as the JSON text the host expects. Built by hand:
 * JSON.stringify would look up a user's `toJSON`.
 */
function gatherNames(value, prefix, skip) {
  const seen = new SafeSet();
  const names = bareArray();
  let truncated = false;
  let holder = isObjectLike(value) ? value : primitivePrototype(value);
  for (let depth = 0; depth < COMPLETION_MAX_DEPTH && holder !== null && holder !== undefined; depth++) {
    if (WeakSetPrototypeHas(completionProxies, holder)) break;
    const own = ObjectGetOwnPropertyNames(holder);
    const level = bareArray();
    for (let i = 0; i < own.length; i++) {
      const name = own[i];
      if (name.length > COMPLETION_MAX_NAME_LENGTH || SetPrototypeHas(seen, name)) continue;
      SetPrototypeAdd(seen, name);
      if (!StringPrototypeStartsWith(name, prefix) || RegExpPrototypeExec(IDENTIFIER, name) === null) continue;
      if (skip !== undefined && SetPrototypeHas(skip, name)) continue;
      if (names.length + level.length >= COMPLETION_MAX_NAMES) {
        truncated = true;
        break;
      }
      ArrayPrototypePush(level, name);
    }
    ArrayPrototypeSort(level);
    for (let i = 0; i < level.length; i++) ArrayPrototypePush(names, level[i]);
    if (truncated) break;
    holder = ObjectGetPrototypeOf(holder);
  }
  for (let i = 0; i < names.length; i++) names[i] = JSONStringify(names[i]);
  return `{"names":[${ArrayPrototypeJoin(names, ',')}],"truncated":${truncated}}`;
}

const NO_NAMES = '{"names":[],"truncated":false}';

/**
 * Answers one request (JSON text from the host): `{path, prefix}` where
 * `path` is the dotted path of identifiers before the last dot (empty for a
 * bare identifier: globals and REPL bindings). Returns JSON text.
 */
export function createCompleter(global, hidden) {
  // Built on a completion entry, after user code ran: no iteration protocol (a replaced Array iterator).
  const skip = new SafeSet();
  for (let i = 0; i < hidden.length; i++) SetPrototypeAdd(skip, hidden[i]);
  return function complete(requestJson) {
    const request = JSONParse(requestJson);
    const path = request.path;
    const prefix = request.prefix;
    if (path.length === 0) return gatherNames(global, prefix, skip);
    let value = global;
    for (let i = 0; i < path.length; i++) {
      if (i === 0 && SetPrototypeHas(skip, path[i])) return NO_NAMES;
      const found = readDataProperty(value, path[i]);
      if (found === undefined) return NO_NAMES;
      value = found.value;
    }
    if (value === null || value === undefined) return NO_NAMES;
    return gatherNames(value, prefix, undefined);
  };
}
