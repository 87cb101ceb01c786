// Realm-side source. How errors and stacks behave in a session realm.
//
// Why no V8 stack capture: when a captured stack is first read (`err.stack`),
// V8 formats it through Node's host-side callback. Code that reads it at a
// stack depth of its choosing can make that host code overflow, and the
// resulting RangeError is a *host-realm* object thrown into the realm — a
// path to the host `Function` and `process` (vm2's CVE-2023-29199 family;
// reproduced on Node 20, tested in __tests__/sandbox/escape.test.ts). V8 reads
// `stackTraceLimit` from this realm's intrinsic `Error` as a plain data
// property on every error construction; a frozen non-number means "capture
// nothing", so no realm error ever carries a lazily formatted stack.
//
// `Error.prepareStackTrace` is still installed, frozen, as defence in depth:
// if any stack is ever formatted for this realm, Node defers to it and no
// user hook ever sees call sites.
//
// Stacks users see are built another way: the global error constructors are
// thin wrappers over the intrinsic ones, and each new error asks the host for
// the current frames (`captureFrames`: host code captures and formats them in
// the host realm, keeps the user's REPL frames only, and hands back a
// string). So `throw new Error('x')` in a function reports where it was made;
// errors V8 raises itself (`null.x`) carry no stack.
//
// Why `constructor` is repointed late: each intrinsic prototype's own
// `constructor` must lead to the wrapper (errors V8 raises have the intrinsic
// prototypes, and `e.constructor === TypeError` must hold). On Node 20 (V8
// 11.3), writing or deleting a property named `constructor` on any object
// that is some object's prototype walks the list of every live context in the
// process (V8 checks whether the object is some realm's Array.prototype, for
// its @@species protector): done at creation, it made creating the N-th realm
// O(N). Those writes are done by `arm()` (returned), which bootstrap.js runs
// at the start of the realm's first entry, before any user code: a realm that
// is never entered never pays them. (Newer V8 looks at the object's own realm
// only.)

import {
  ArrayPrototypePush,
  ObjectDefineProperty,
  ObjectGetOwnPropertyDescriptor,
  ObjectPrototypeToString,
  ObjectSetPrototypeOf,
  ReflectConstruct,
} from './primordials.js';

const ERROR_NAMES = [
  'Error',
  'EvalError',
  'RangeError',
  'ReferenceError',
  'SyntaxError',
  'TypeError',
  'URIError',
  'AggregateError',
];

export function installErrorPolicy(global, captureFrames) {
  const IntrinsicError = global.Error;
  const lock = (target, key, value) =>
    ObjectDefineProperty(target, key, { value, writable: false, enumerable: false, configurable: false });

  lock(IntrinsicError, 'stackTraceLimit', undefined);
  lock(IntrinsicError, 'prepareStackTrace', function prepareStackTrace(error) {
    try {
      return describeError(error);
    } catch {
      return 'Error';
    }
  });
  // captureStackTrace would capture nothing anyway; replace it with a
  // harmless version so code that relies on it (libraries) keeps working.
  const attachStack = (target) => {
    const frames = captureFrames();
    ObjectDefineProperty(target, 'stack', {
      value:
        typeof frames === 'string' && frames !== '' ? `${describeError(target)}\n${frames}` : describeError(target),
      writable: true,
      enumerable: false,
      configurable: true,
    });
  };
  // A declaration, not a named function expression: the bundler would rename
  // the expression's own name (it shadows the binding) and users see `.name`.
  function captureStackTrace(target) {
    if (target === null || (typeof target !== 'object' && typeof target !== 'function')) {
      throw new TypeError('Invalid argument');
    }
    attachStack(target);
  }
  lock(IntrinsicError, 'captureStackTrace', captureStackTrace);

  // The wrappers: same prototypes (instanceof and .constructor behave as
  // usual), and the wrapper of Error is the [[Prototype]] of the others.
  let ErrorWrapper;
  /** [intrinsic prototype, wrapper] pairs whose `constructor` arm() repoints. */
  const repoint = [];
  for (let i = 0; i < ERROR_NAMES.length; i++) {
    const name = ERROR_NAMES[i];
    const Intrinsic = global[name];
    if (typeof Intrinsic !== 'function') continue;
    const Wrapper = {
      [name]: function (...args) {
        const error = ReflectConstruct(Intrinsic, args, new.target ?? Wrapper);
        try {
          attachStack(error);
        } catch {
          // no stack then
        }
        return error;
      },
    }[name];
    ObjectDefineProperty(Wrapper, 'prototype', { value: Intrinsic.prototype, writable: false });
    ArrayPrototypePush(repoint, [Intrinsic.prototype, Wrapper]);
    ObjectDefineProperty(Wrapper, 'length', { value: Intrinsic.length });
    if (name === 'Error') {
      ErrorWrapper = Wrapper;
      lock(Wrapper, 'stackTraceLimit', undefined);
      lock(Wrapper, 'prepareStackTrace', IntrinsicError.prepareStackTrace);
      lock(Wrapper, 'captureStackTrace', captureStackTrace);
    } else {
      ObjectSetPrototypeOf(Wrapper, /** @type {Function} */ (ErrorWrapper));
    }
    ObjectDefineProperty(global, name, { value: Wrapper, writable: true, enumerable: false, configurable: true });
  }
  // When an entry times out, Node (C++) creates its timeout error in *this*
  // realm and assigns `code` with an ordinary [[Set]]: a user setter named
  // `code` on Error.prototype or Object.prototype would run untimed in host
  // code, and one that throws aborts the process (a failed Maybe::Check).
  // An own, non-configurable data property on %Error.prototype% ends that
  // lookup before it reaches any user accessor.
  ObjectDefineProperty(IntrinsicError.prototype, 'code', {
    value: undefined,
    writable: true,
    enumerable: false,
    configurable: false,
  });
  // The global binding is locked too, so Node's formatter (which looks up
  // `globalThis.Error.prepareStackTrace`) can never land on user code.
  lock(global, 'Error', ErrorWrapper);

  // Runs in the first entry, under its budget. Resumable: an entry stopped by
  // its timeout part-way (before any user code ran) leaves the remaining
  // writes to the next entry, which redoes at most the one interrupted.
  let done = 0;
  return function arm() {
    while (done < repoint.length) {
      const pair = repoint[done];
      ObjectDefineProperty(pair[0], 'constructor', { value: pair[1], writable: true, configurable: true });
      done++;
    }
  };
}

/** `Name: message`, read defensively (getters may throw; we are inside a timed entry). */
export function describeError(error) {
  let name = 'Error';
  let message = '';
  try {
    const n = error.name;
    name = typeof n === 'string' ? n : 'Error';
  } catch {}
  try {
    const m = error.message;
    message = typeof m === 'string' ? m : '';
  } catch {}
  return message === '' ? name : `${name}: ${message}`;
}

/** Errors are objects with [[ErrorData]]; toStringTag can lie, which only affects rendering. */
export function isErrorLike(value) {
  return value !== null && typeof value === 'object' && ObjectPrototypeToString(value) === '[object Error]';
}

/** An own `stack` data property that is a string, without running getters. */
export function ownStack(error) {
  try {
    const desc = ObjectGetOwnPropertyDescriptor(error, 'stack');
    return desc !== undefined && typeof desc.value === 'string' ? desc.value : undefined;
  } catch {
    return undefined;
  }
}
