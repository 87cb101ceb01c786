// Realm-side source. Bounds on what one session can allocate cheaply.
//
// V8's heap limit (and, with executors, the process's memory bound) catch a
// session that fills the heap, but only by ending the whole process. Two
// kinds of allocation deserve a per-session bound of their own:
//
// - ArrayBuffers (and the typed arrays that create them) live *outside* the
//   V8 heap: `new ArrayBuffer(8e9)` is one call, the heap limit never sees it.
//   Every ArrayBuffer a session creates through the global constructors is
//   counted while it is alive; beyond `maxBufferBytes` in total the
//   allocation throws a RangeError in the session, and nothing else happens.
// - A few string builtins turn a tiny input into a huge string in one call
//   (`'x'.repeat(2 ** 29)`); their results are capped at `maxStringLength`.
//
// The live count goes down when the garbage collector frees a buffer: a
// FinalizationRegistry created here, whose callback is trusted code that only
// subtracts a number (it runs outside any timed entry, which is why user code
// never gets a FinalizationRegistry: bootstrap.js deletes the global after
// this file captured it). Its callbacks run after the entry that freed the
// buffers; where `cleanupSome` exists (executors) they are also run on demand,
// so an eval that churns through many short-lived buffers is not refused. In
// a process without it (the in-process mode), buffers freed during an eval
// count until the eval ends.
//
// The global constructors become thin wrappers (as the error constructors
// are, see error-policy.js): same prototypes, so `instanceof`, `.constructor`,
// subclassing, `Symbol.species` and the inspector behave as before, and every
// `constructor` property that led to an intrinsic now leads to its wrapper.
// Realm code captured the intrinsics earlier (primordials.js) and is not
// counted: its allocations are bounded by other limits.

const IntrinsicFinalizationRegistry = typeof FinalizationRegistry === 'function' ? FinalizationRegistry : undefined;
const FinalizationRegistryPrototypeRegister =
  IntrinsicFinalizationRegistry !== undefined
    ? uncurryThis(IntrinsicFinalizationRegistry.prototype.register)
    : undefined;
const ArrayPrototypeValuesIntrinsic = Array.prototype[Symbol.iterator];
/** V8's `--typed-array-max-size-in-heap` default. */
const IN_HEAP_TYPED_ARRAY_BYTES = 64;
// Present when the process runs with --harmony-weak-refs-with-cleanup-some
// (executors do): credits buffers the collector freed during the current
// entry, whose callbacks would otherwise wait for the entry to end.
const FinalizationRegistryPrototypeCleanupSome =
  IntrinsicFinalizationRegistry !== undefined &&
  typeof IntrinsicFinalizationRegistry.prototype.cleanupSome === 'function'
    ? uncurryThis(IntrinsicFinalizationRegistry.prototype.cleanupSome)
    : undefined;
const StringPrototypeRepeatIntrinsic = String.prototype.repeat;
const StringPrototypePadStartIntrinsic = String.prototype.padStart;
const StringPrototypePadEndIntrinsic = String.prototype.padEnd;

const DEFAULT_ALLOCATION_LIMITS = ObjectFreeze({
  maxBufferBytes: 256 * 1024 * 1024,
  maxStringLength: 64 * 1024 * 1024,
});

function installAllocationLimits(global, limits) {
  const maxBufferBytes =
    limits !== undefined && typeof limits.maxBufferBytes === 'number'
      ? limits.maxBufferBytes
      : DEFAULT_ALLOCATION_LIMITS.maxBufferBytes;
  const maxStringLength =
    limits !== undefined && typeof limits.maxStringLength === 'number'
      ? limits.maxStringLength
      : DEFAULT_ALLOCATION_LIMITS.maxStringLength;
  // The wrapper installed by error-policy.js: errors thrown here carry the user's frames.
  const RangeErrorWrapper = global.RangeError;
  const TypeErrorWrapper = global.TypeError;
  const MiB = (n) => `${MathRound((n / (1024 * 1024)) * 10) / 10} MiB`;

  let live = 0;
  const registry =
    IntrinsicFinalizationRegistry !== undefined
      ? new IntrinsicFinalizationRegistry((bytes) => {
          live -= bytes;
        })
      : undefined;

  /** Throws before an allocation of `bytes` that would take the session past its bound. */
  const reserve = (bytes) => {
    if (!(bytes > 0)) return;
    if (live + bytes > maxBufferBytes && FinalizationRegistryPrototypeCleanupSome !== undefined) {
      FinalizationRegistryPrototypeCleanupSome(registry);
    }
    if (live + bytes > maxBufferBytes) {
      throw new RangeErrorWrapper(
        `Array buffer allocation of ${MiB(bytes)} refused: this session's ArrayBuffers would hold more than ${MiB(maxBufferBytes)} (${MiB(live)} in use)`,
      );
    }
  };
  const charged = new SafeWeakSet();
  const charge = (buffer, bytes) => {
    if (!(bytes > 0) || registry === undefined || WeakSetPrototypeHas(charged, buffer)) return;
    WeakSetPrototypeAdd(charged, buffer);
    live += bytes;
    FinalizationRegistryPrototypeRegister(registry, buffer, bytes);
  };
  // Small typed arrays live inside the V8 heap (reading `.buffer` would move
  // them out): only larger ones are counted, by their buffer.
  const chargeView = (array, bytes) => {
    if (bytes > IN_HEAP_TYPED_ARRAY_BYTES) charge(TypedArrayPrototypeGetBuffer(array), bytes);
  };

  // ToIndex-like conversion done once, here: the intrinsic then receives a
  // number and never calls user code (valueOf) a second time.
  const toLength = (value) => {
    if (value === undefined) return 0;
    const n = MathTrunc(+value);
    return NumberIsNaN(n) ? 0 : n;
  };

  const wrap = (name, Intrinsic, construct) => {
    const Wrapper = {
      [name]: function (...args) {
        if (new.target === undefined) throw new TypeErrorWrapper(`Constructor ${name} requires 'new'`);
        return construct(args, new.target === Wrapper ? Intrinsic : new.target);
      },
    }[name];
    ObjectDefineProperty(Wrapper, 'prototype', { value: Intrinsic.prototype, writable: false });
    ObjectDefineProperty(Wrapper, 'length', { value: Intrinsic.length });
    ObjectSetPrototypeOf(Wrapper, ObjectGetPrototypeOf(Intrinsic));
    for (const key of ReflectOwnKeys(Intrinsic)) {
      if (key === 'prototype' || key === 'length' || key === 'name') continue;
      ObjectDefineProperty(Wrapper, key, ObjectGetOwnPropertyDescriptor(Intrinsic, key));
    }
    ObjectDefineProperty(Intrinsic.prototype, 'constructor', { value: Wrapper, writable: true, configurable: true });
    ObjectDefineProperty(global, name, { value: Wrapper, writable: true, enumerable: false, configurable: true });
    return Wrapper;
  };

  // ---- ArrayBuffer -----------------------------------------------------------

  const ArrayBufferWrapper = wrap('ArrayBuffer', ArrayBufferCtor, (args, newTarget) => {
    const length = toLength(args[0]);
    const options = args[1];
    let bytes = length;
    let rest = [];
    if (options !== null && typeof options === 'object') {
      // Resizable: the whole maximum is what the buffer may come to hold.
      const max = options.maxByteLength;
      if (max !== undefined) {
        const maxByteLength = toLength(max);
        bytes = MathMax(length, maxByteLength);
        rest = [{ maxByteLength }];
      }
    }
    reserve(bytes);
    const buffer = ReflectConstruct(ArrayBufferCtor, [length, ...rest], newTarget);
    charge(buffer, bytes);
    return buffer;
  });
  // `ArrayBuffer[Symbol.species]` is an accessor returning `this`: copied above, so species lookups land on the wrapper.
  void ArrayBufferWrapper;

  // ---- typed arrays ----------------------------------------------------------

  for (const name of ObjectKeys(TypedArrayCtors)) {
    const Intrinsic = TypedArrayCtors[name];
    const bytesPerElement = Intrinsic.BYTES_PER_ELEMENT;
    wrap(name, Intrinsic, (args, newTarget) => {
      const source = args[0];
      if (source === null || (typeof source !== 'object' && typeof source !== 'function')) {
        // new Uint8Array(length)
        const length = toLength(source);
        reserve(length * bytesPerElement);
        const array = ReflectConstruct(Intrinsic, [length], newTarget);
        chargeView(array, length * bytesPerElement);
        return array;
      }
      if (isArrayBuffer(source)) {
        // A view on an existing buffer: nothing is allocated.
        return ReflectConstruct(Intrinsic, args, newTarget);
      }
      // A copy of a typed array, an iterable or an array-like. Its length is
      // settled here, once; the intrinsic then gets that length and the
      // values are copied with %TypedArray%.prototype.set (which neither
      // iterates nor reads a length again).
      let list;
      let length;
      if (isTypedArray(source)) {
        list = source;
        length = TypedArrayPrototypeGetLength(source);
      } else {
        const iterator = source[SymbolIterator];
        if (iterator !== undefined && iterator !== null) {
          // Arrays with the intrinsic iterator are read in place; other
          // iterables (Sets, generators, user iterators) are collected first.
          list = ArrayIsArray(source) && iterator === ArrayPrototypeValuesIntrinsic ? source : ArrayFrom(source);
          length = list.length;
        } else {
          length = toLength(source.length);
          reserve(length * bytesPerElement);
          list = [];
          for (let i = 0; i < length; i++) list[i] = source[i];
        }
      }
      reserve(length * bytesPerElement);
      const array = ReflectConstruct(Intrinsic, [length], newTarget);
      if (length > 0) TypedArrayPrototypeSet(array, list);
      chargeView(array, length * bytesPerElement);
      return array;
    });
  }

  // Methods that allocate through a species constructor: with `constructor`
  // set to undefined, the spec falls back to the *intrinsic* constructor,
  // which would bypass the count. The result is counted here instead (once:
  // a result made by a wrapper is already counted).
  const speciesMethod = (target, name, sizeOf) => {
    const intrinsic = target[name];
    const wrapped = {
      [name]: function (...args) {
        reserve(sizeOf(this));
        const result = ReflectApply(intrinsic, this, args);
        if (isArrayBuffer(result)) charge(result, ArrayBufferPrototypeGetByteLength(result));
        else if (isTypedArray(result)) chargeView(result, TypedArrayPrototypeGetByteLength(result));
        return result;
      },
    }[name];
    ObjectDefineProperty(wrapped, 'length', { value: intrinsic.length });
    ObjectDefineProperty(target, name, { value: wrapped, writable: true, enumerable: false, configurable: true });
  };
  speciesMethod(ArrayBufferCtor.prototype, 'slice', (buffer) => ArrayBufferPrototypeGetByteLength(buffer));
  for (const name of ['slice', 'map', 'filter']) {
    speciesMethod(TypedArrayPrototype, name, (array) => TypedArrayPrototypeGetByteLength(array));
  }

  // ---- strings ---------------------------------------------------------------

  const StringPrototype = String.prototype;
  const tooLong = (method, length) =>
    new RangeErrorWrapper(
      `String.prototype.${method} refused: the result would be ${length} characters long (at most ${maxStringLength} in a session)`,
    );
  const thisString = (value, method) => {
    if (value === null || value === undefined) {
      throw new TypeErrorWrapper(`String.prototype.${method} called on null or undefined`);
    }
    return `${value}`;
  };
  const method = (name, length, fn) => {
    const wrapped = { [name]: fn }[name];
    ObjectDefineProperty(wrapped, 'length', { value: length });
    ObjectDefineProperty(StringPrototype, name, {
      value: wrapped,
      writable: true,
      enumerable: false,
      configurable: true,
    });
  };
  method('repeat', 1, function (count) {
    const s = thisString(this, 'repeat');
    const n = MathTrunc(+count);
    if (s.length > 0 && n > 0 && s.length * n > maxStringLength) throw tooLong('repeat', s.length * n);
    return FunctionPrototypeCall(StringPrototypeRepeatIntrinsic, s, NumberIsNaN(n) ? 0 : n);
  });
  for (const name of ['padStart', 'padEnd']) {
    const intrinsic = name === 'padStart' ? StringPrototypePadStartIntrinsic : StringPrototypePadEndIntrinsic;
    method(name, 1, function (maxLength, fillString) {
      const s = thisString(this, name);
      const n = MathTrunc(+maxLength);
      if (n > s.length && n > maxStringLength) throw tooLong(name, n);
      return FunctionPrototypeCall(intrinsic, s, NumberIsNaN(n) ? 0 : n, fillString);
    });
  }
}
