// Realm-side source. How errors and stacks behave in a session realm.
//
// Why no V8 stack capture: when a captured stack is first read (`err.stack`),
// V8 formats it through Node's host-side callback. Code that reads it at a
// stack depth of its choosing can make that host code overflow, and the
// resulting RangeError is a *host-realm* object thrown into the realm — a
// path to the host `Function` and `process` (vm2's CVE-2023-29199 family;
// reproduced on Node 20 in __tests__/sandbox/host-errors.test.ts). V8 reads
// `stackTraceLimit` from this realm's intrinsic `Error` as a plain data
// property on every error construction; a frozen non-number means "capture
// nothing", so no realm error ever carries a lazily formatted stack.
//
// `Error.prepareStackTrace` is still installed, frozen, as defence in depth:
// if any stack is ever formatted for this realm, Node defers to it and no
// user hook ever sees call sites.

function installErrorPolicy(global) {
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
  lock(IntrinsicError, 'captureStackTrace', function captureStackTrace(target) {
    if (target === null || (typeof target !== 'object' && typeof target !== 'function')) {
      throw new TypeError('Invalid argument');
    }
    ObjectDefineProperty(target, 'stack', {
      value: describeError(target),
      writable: true,
      enumerable: false,
      configurable: true,
    });
  });
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
  lock(global, 'Error', IntrinsicError);
}

/** `Name: message`, read defensively (getters may throw; we are inside a timed entry). */
function describeError(error) {
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
function isErrorLike(value) {
  return value !== null && typeof value === 'object' && ObjectPrototypeToString(value) === '[object Error]';
}

/** An own `stack` data property that is a string, without running getters. */
function ownStack(error) {
  try {
    const desc = ObjectGetOwnPropertyDescriptor(error, 'stack');
    return desc !== undefined && typeof desc.value === 'string' ? desc.value : undefined;
  } catch {
    return undefined;
  }
}
