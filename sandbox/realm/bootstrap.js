// Realm-side source: the session realm's entry point. Runs once per realm, before any user
// code: removes what a realm must not have, installs the console and the
// convenience globals, and publishes `__vmgate`, the only entry points the
// host's scripts call (`r` run an input, `p` pump host events, `c` complete,
// `d`/`k`/`g`/`v` REPL bindings).

import { installAllocationLimits } from './allocation-limits.js';
import { createCompleter, installProxyRegistry, trustGetter } from './completion.js';
import { createConsole } from './console.js';
import { createDatabase } from './database.js';
import { describeError, installErrorPolicy, isErrorLike, ownStack } from './error-policy.js';
import { createHostBridge } from './host-bridge.js';
import {
  ArrayIsArray,
  ArrayPrototypeFilter,
  ArrayPrototypeForEach,
  ArrayPrototypeJoin,
  ArrayPrototypePush,
  isPromise,
  JSONParse,
  JSONStringify,
  MapPrototypeDelete,
  MapPrototypeGet,
  MapPrototypeSet,
  NumberIsFinite,
  ObjectCreate,
  ObjectDefineProperty,
  ObjectFreeze,
  ObjectGetOwnPropertyDescriptor,
  ObjectIs,
  ObjectKeys,
  ObjectPreventExtensions,
  ObjectPrototype,
  PromiseCtor,
  PromisePrototypeThen,
  PromiseResolve,
  ReflectApply,
  RegExpPrototypeExec,
  SafeMap,
  SafeWeakSet,
  StringPrototypeEndsWith,
  StringPrototypeSlice,
  StringPrototypeSplit,
  StringPrototypeStartsWith,
  StringPrototypeTrim,
  WeakSetPrototypeAdd,
  WeakSetPrototypeHas,
} from './primordials.js';
import { createTimers } from './timers.js';
import { createUrlClasses } from './url.js';
import { createCrypto, createLatin1Base64, createStructuredClone, createTextCodecs } from './web-globals.js';

/**
 * Prepares this realm for a session (sandbox/realm.ts calls it once, before any user code).
 * @param {import('../host-api').HostApi} host
 * @param {string} configJson `{ maxLogLine, inspectDepth, encodeLimits, allocationLimits? }` (JSON text)
 * @param {unknown} shared the shared state's root (shared-state/), if any
 * @param {() => {
 *   createInspector: typeof import('./inspect/index.js').createInspector,
 *   createValueCodecWith: typeof import('./value-codec/index.js').createValueCodecWith,
 * }} loadDeferred runs the inspector's and the value codec's modules in this realm
 *   (common/realm-bundle.ts), on the first value rendered or encoded
 */
export function bootstrap(host, configJson, shared, loadDeferred) {
  const global = globalThis;
  const config = JSONParse(configJson);
  const bridge = createHostBridge(host);

  // docs/design.md §1 rule 4. FinalizationRegistry callbacks would run as host
  // tasks, outside any timed entry. V8's own `console` goes to the inspector.
  const removed = ['SharedArrayBuffer', 'Atomics', 'WebAssembly', 'FinalizationRegistry', 'console'];
  for (let i = 0; i < removed.length; i++) delete global[removed[i]];
  // Every proxy is recorded as it is made, so completion can refuse one without touching it (completion.js).
  installProxyRegistry(global);
  // Returns the O(live realms) part of the policy, run on the first entry (error-policy.js).
  const armErrors = installErrorPolicy(global, bridge.stack);
  // ArrayBuffers and a few string builtins: per-session bounds (allocation-limits.js).
  const exposeBuffer = installAllocationLimits(global, config.allocationLimits);
  // Node builds property descriptors for this realm's global object as plain
  // objects of this realm; an inherited `get`/`set`/`value` on Object.prototype
  // makes them invalid and V8 aborts the whole process (a fatal error, not an
  // exception). No new property may be added to Object.prototype.
  ObjectPreventExtensions(ObjectPrototype);

  let deferred;
  const deferredPart = () => {
    deferred ??= loadDeferred();
    return deferred;
  };
  let inspector;
  let codec;
  const getInspector = () => {
    inspector ??= deferredPart().createInspector();
    return inspector;
  };
  const getCodec = () => {
    codec ??= deferredPart().createValueCodecWith(exposeBuffer);
    return codec;
  };
  const renderOptions = { depth: config.inspectDepth };
  const encodeLimits = config.encodeLimits;

  // Primitives that render and encode the same everywhere skip the full
  // inspector and codec (the common `1 + 1` result).
  const render = (value) => {
    if (typeof value === 'number') return ObjectIs(value, -0) ? '-0' : `${value}`;
    if (typeof value === 'boolean' || value === null || value === undefined) return `${value}`;
    try {
      return getInspector().inspect(value, renderOptions);
    } catch {
      return '[value could not be rendered]';
    }
  };
  const encode = (value) => {
    if (typeof value === 'boolean' || value === null || (NumberIsFinite(value) && !ObjectIs(value, -0))) {
      return `${value}`;
    }
    try {
      return getCodec().encode(value, encodeLimits);
    } catch {
      return '{"$type":"truncated","reason":"error"}';
    }
  };

  // `Uncaught <Name>: <message>` for errors (as docs/design.md §2 and the Node
  // REPL print them), `Uncaught <rendering>` for any other thrown value.
  const describeThrown = (error) => {
    if (isErrorLike(error)) {
      const stack = ownStack(error);
      const head = describeError(error);
      const frames = stack === undefined ? '' : stackFrames(stack);
      return {
        name: errorName(error),
        message: errorMessage(error),
        text: inspectError(error, head) ?? head + frames,
        stack,
      };
    }
    return { name: '', message: render(error), text: render(error), stack: undefined };
  };

  // As the Node REPL prints a thrown error: inspected (stack, then own
  // properties and cause), one-line brackets dropped (`[Error: x]`). Only
  // when that text starts with the error's own name and message: a stack
  // captured under another name would print the wrong class.
  const inspectError = (error, head) => {
    try {
      let text = getInspector().inspect(error, renderOptions);
      if (StringPrototypeStartsWith(text, '[') && StringPrototypeEndsWith(text, ']'))
        text = StringPrototypeSlice(text, 1, -1);
      return StringPrototypeStartsWith(text, head) ? text : undefined;
    } catch {
      return undefined;
    }
  };

  // Errors raised by the database layer carry a wire code (DB_ERROR, ...).
  const dbErrors = new SafeWeakSet();
  const errorDetails = (error) => {
    if (!WeakSetPrototypeHas(dbErrors, error)) return undefined;
    const details = { code: error.code };
    const keys = ['errno', 'sqlState', 'sqlMessage', 'statement', 'hint'];
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      const desc = ObjectGetOwnPropertyDescriptor(error, key);
      if (desc !== undefined && (typeof desc.value === 'string' || typeof desc.value === 'number'))
        details[key] = desc.value;
    }
    return JSONStringify(details);
  };

  // An error thrown by a timer callback is uncaught too: it becomes `_error`.
  const reportUncaught = (error) => {
    rememberError(error);
    const { text } = describeThrown(error);
    bridge.log('error', uncaughtText(text));
  };

  const timers = createTimers(bridge, reportUncaught);

  const define = (name, value) =>
    ObjectDefineProperty(global, name, { value, writable: true, enumerable: false, configurable: true });
  const timerNames = ObjectKeys(timers.globals);
  for (let i = 0; i < timerNames.length; i++) define(timerNames[i], timers.globals[timerNames[i]]);

  // Heavier globals are built on first use, so an idle session pays nothing.
  // Completion may call these getters (completion.js): at once when the
  // factory is realm code written with captured intrinsics, only once built
  // when it runs library code (Kysely), which calls whatever builtins the
  // user has replaced by then.
  const lazy = (names, factory, ownCode = true) => {
    let built;
    // Our getters, read back before any user code runs (a user may replace them later).
    let ours;
    ArrayPrototypeForEach(names, (name) => {
      ObjectDefineProperty(global, name, {
        get() {
          if (built === undefined) {
            built = factory();
            if (ours !== undefined) for (let i = 0; i < ours.length; i++) trustGetter(ours[i]);
          }
          define(name, built[name]);
          return built[name];
        },
        set(value) {
          define(name, value);
        },
        enumerable: false,
        configurable: true,
      });
      const get = /** @type {PropertyDescriptor} */ (ObjectGetOwnPropertyDescriptor(global, name)).get;
      if (ownCode) trustGetter(get);
      else {
        ours ??= [];
        ArrayPrototypePush(ours, get);
      }
    });
  };
  lazy(['TextEncoder', 'TextDecoder'], () => createTextCodecs(exposeBuffer));
  lazy(['URL', 'URLSearchParams'], () => createUrlClasses(bridge, config.urlFields));
  lazy(['structuredClone'], () => ({ structuredClone: createStructuredClone() }));
  lazy(['atob', 'btoa'], createLatin1Base64);
  lazy(['crypto'], () => ({ crypto: createCrypto(bridge) }));
  lazy(['performance'], () => ({ performance: { now: () => bridge.now(), timeOrigin: 0 } }));
  lazy(['console'], () => ({ console: createConsole(bridge.log, getInspector, bridge.now, config.maxLogLine) }));

  // `db` and `sql`: Kysely runs in this realm, loaded on first use (the host
  // usually preloads it in its own timed entry when the input mentions them).
  const modules = ObjectCreate(null);
  let expectingModule = false;
  const loadModule = (name) => {
    if (modules[name] === undefined) {
      expectingModule = true;
      try {
        bridge.load(name);
      } finally {
        expectingModule = false;
      }
      if (modules[name] === undefined) throw new Error(`${name} could not be loaded in this session`);
    }
    return modules[name];
  };
  lazy(['db', 'sql'], () => createDatabase(loadModule('kysely'), callHost, getCodec(), dbErrors), false);

  if (shared !== undefined) {
    ObjectDefineProperty(global, 'shared', { value: shared, writable: false, enumerable: true, configurable: false });
  }

  // ---- `_` and `_error`, as in the Node REPL ------------------------------
  // The last result and the last thrown value. Assigning either yourself
  // turns its update off for the rest of the session (said once); declaring
  // it (`let _`) replaces the accessor, which has the same effect.
  const last = { value: undefined, error: undefined, valueSet: false, errorSet: false };
  const recallable = (name, key, flag) =>
    ObjectDefineProperty(global, name, {
      get: trustGetter(() => last[key]), // completion may follow it: reads an own data property only
      set: (value) => {
        last[key] = value;
        if (!last[flag]) {
          last[flag] = true;
          bridge.log('info', `Expression assignment to ${name} now disabled.`);
        }
      },
      enumerable: false,
      configurable: true,
    });
  recallable('_', 'value', 'valueSet');
  recallable('_error', 'error', 'errorSet');
  const rememberValue = (value) => {
    if (!last.valueSet) last.value = value;
  };
  const rememberError = (error) => {
    if (!last.errorSet) last.error = error;
  };

  // ---- entries from the host --------------------------------------------

  const settleResult = (evalId, value) => {
    bridge.settle(evalId, 'result', render(value), encode(value));
  };
  const settleError = (evalId, error) => {
    const { name, message, text, stack } = describeThrown(error);
    bridge.settle(evalId, 'error', text, encode(error), name, message, stack, errorDetails(error));
  };

  /**
   * A promise result is rendered with its state when it is already settled:
   * a reaction on a settled promise runs one microtask later, so the state is
   * known by the time the second job runs (all inside the same timed entry).
   */
  const settlePromiseResult = (evalId, promise) => {
    const state = { status: 'pending', value: undefined };
    PromisePrototypeThen(
      promise,
      (v) => {
        state.status = 'fulfilled';
        state.value = v;
      },
      (e) => {
        state.status = 'rejected';
        state.value = e;
      },
    );
    PromisePrototypeThen(PromiseResolve(), () => {
      try {
        const text = getInspector().inspect(promise, {
          ...renderOptions,
          promiseState: (p) => (p === promise ? state : undefined),
        });
        bridge.settle(evalId, 'result', text, encode(promise));
      } catch {
        settleResult(evalId, promise);
      }
    });
  };

  const finish = (evalId, value) => {
    rememberValue(value);
    if (isPromise(value)) settlePromiseResult(evalId, value);
    else settleResult(evalId, value);
  };
  const fail = (evalId, error) => {
    rememberError(error);
    settleError(evalId, error);
  };

  // Called by every input script (repl-transform.ts); the host says which eval is running.
  function run(fn, isAsync) {
    const evalId = bridge.evalId();
    if (typeof evalId !== 'number' || typeof fn !== 'function') return;
    let value;
    try {
      value = fn();
    } catch (error) {
      fail(evalId, error);
      return;
    }
    if (!isAsync) {
      finish(evalId, value);
      return;
    }
    // An async input resolves to its completion value in a one-element box
    // (an array of this realm, made by the input script itself).
    PromisePrototypeThen(
      value,
      (box) => finish(evalId, ArrayIsArray(box) ? box[0] : undefined),
      (e) => fail(evalId, e),
    );
  }

  let pumping = false;
  const calls = new SafeMap();

  function pump() {
    if (pumping) return;
    pumping = true;
    try {
      const batch = bridge.take();
      if (typeof batch !== 'string' || batch === '') return;
      const events = JSONParse(batch);
      for (let i = 0; i < events.length; i++) {
        const event = events[i];
        if (event[0] === 't') timers.fire(event[1]);
        else if (event[0] === 'c') settleCall(event[1], event[2], event[3]);
        else if (event[0] === 'f') timers.forget(event[1]);
      }
    } finally {
      pumping = false;
    }
  }

  /** Starts an asynchronous host call (e.g. a database statement); the answer arrives through `pump`. */
  function callHost(op, payload) {
    return new PromiseCtor((resolve, reject) => {
      // realm-lint-allow: `bridge` is the realm's own frozen object (host-bridge.js), not a prototype method
      const id = bridge.call(op, payload);
      if (typeof id !== 'number') {
        reject(new Error(`host call ${op} refused`));
        return;
      }
      MapPrototypeSet(calls, id, { resolve, reject });
    });
  }

  function settleCall(id, ok, payload) {
    const pending = MapPrototypeGet(calls, id);
    if (pending === undefined) return;
    MapPrototypeDelete(calls, id);
    if (ok) pending.resolve(payload);
    else pending.reject(payload);
  }

  // ---- REPL bindings (see sandbox/repl-transform.ts) ---------------------

  const alreadyDeclared = (name) => new SyntaxError(`Identifier '${name}' has already been declared`);
  function declare(names, kind) {
    for (let i = 0; i < names.length; i++) {
      const name = names[i];
      if (kind === 'var' && name in global) continue;
      try {
        ObjectDefineProperty(global, name, { value: undefined, writable: true, enumerable: true, configurable: true });
      } catch {
        throw alreadyDeclared(name);
      }
    }
  }
  function publish(name, value) {
    declare([name], 'let');
    global[name] = value;
  }
  // The getters of `const` bindings: a lexical binding, which an Annex B var
  // of the same name must leave alone.
  const constGetters = new SafeWeakSet();
  function makeConst(names) {
    for (let i = 0; i < names.length; i++) {
      const name = names[i];
      const value = global[name];
      const get = () => value;
      WeakSetPrototypeAdd(constGetters, get);
      ObjectDefineProperty(global, name, {
        get: trustGetter(get),
        set: () => {
          throw new TypeError('Assignment to constant variable.');
        },
        enumerable: true,
        configurable: true,
      });
    }
  }

  /**
   * Annex B: a function declared in a block is also assigned to its var
   * binding when reached, unless a `const` holds the name. True when assigned.
   */
  function assignVar(name, value) {
    const desc = ObjectGetOwnPropertyDescriptor(global, name);
    if (desc !== undefined && desc.get !== undefined && WeakSetPrototypeHas(constGetters, desc.get)) return false;
    global[name] = value;
    return true;
  }

  /** Receives a library module from a host-run script (only while one is expected). */
  function acceptModule(module) {
    if (expectingModule || modules.kysely === undefined) modules.kysely = module;
  }

  // ---- completion (see completion.js): never runs user code --------------

  let completer; // built on first use: most sessions never complete
  function complete() {
    const request = bridge.completion();
    if (typeof request !== 'string' || request === '') return;
    let answer;
    try {
      completer ??= createCompleter(global, ['__vmgate']);
      answer = completer(request);
    } catch {
      return; // e.g. a stack overflow on entry: no candidates
    }
    bridge.completed(answer);
  }

  // User code runs only inside `r` (every input script calls it first) and
  // `p` (timers, host answers): each arms the realm before anything else.
  const arming = (entry) =>
    function (...args) {
      armErrors();
      return ReflectApply(entry, undefined, args);
    };
  const api = ObjectFreeze({
    r: arming(run),
    p: arming(pump),
    d: declare,
    k: makeConst,
    g: publish,
    v: assignVar,
    m: acceptModule,
    c: arming(complete),
  });
  ObjectDefineProperty(global, '__vmgate', { value: api, writable: false, enumerable: false, configurable: false });

  // Nothing is returned: the host never holds a realm object.
  return undefined;
}

function errorName(error) {
  try {
    const n = error.name;
    return typeof n === 'string' ? n : 'Error';
  } catch {
    return 'Error';
  }
}

function errorMessage(error) {
  try {
    const m = error.message;
    return typeof m === 'string' ? m : '';
  } catch {
    return '';
  }
}

/** The `    at …` lines of a stack string (the head line is rebuilt from name and message). */
function stackFrames(stack) {
  const lines = StringPrototypeSplit(stack, '\n');
  const frames = ArrayPrototypeFilter(lines, (line) => StringPrototypeStartsWith(StringPrototypeTrim(line), 'at '));
  return frames.length === 0 ? '' : `\n${ArrayPrototypeJoin(frames, '\n')}`;
}

/** `Uncaught` before an error's text, as the Node REPL puts it (the host's rule: sandbox/uncaught.ts). */
function uncaughtText(text) {
  const lines = StringPrototypeSplit(text, '\n');
  for (let i = 0; i < lines.length; i++) {
    if (RegExpPrototypeExec(/^\[?([A-Z][a-z0-9_]*)*Error/, lines[i]) !== null) {
      // The width counts the line's break, as in Node.
      const width = lines[i].length + (i < lines.length - 1 ? 1 : 0);
      lines[i] = width <= 80 ? `Uncaught ${lines[i]}` : `Uncaught:\n${lines[i]}`;
      return ArrayPrototypeJoin(lines, '\n');
    }
  }
  return `Uncaught${lines.length === 1 ? ' ' : ':\n'}${text}`;
}
