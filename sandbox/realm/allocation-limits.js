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
//
// Each wrapper is built when it is first needed: when user code first reads
// its global (`ArrayBuffer`, `Uint8Array`, ...; until then the global is an
// accessor), or when realm code is about to hand user code an object of that
// kind (`exposeBuffer(kind)`, returned). Why: repointing a prototype's
// `constructor` costs O(live realms) on Node 20 (see error-policy.js), and
// most sessions never touch a typed array. It is safe because nothing else
// leads to these prototypes: a typed array or ArrayBuffer can only come from
// its constructor (reached through the global), from a method of an object of
// the same kind, or from realm code; a typed array's wrapper is built after
// the ArrayBuffer one (`.buffer`); %TypedArray% itself cannot construct.

import {
  ArrayBufferCtor,
  ArrayBufferPrototypeGetByteLength,
  ArrayFrom,
  ArrayIsArray,
  ArrayPrototypeForEach,
  FunctionPrototypeCall,
  isArrayBuffer,
  isTypedArray,
  MathMax,
  MathRound,
  MathTrunc,
  NumberIsNaN,
  ObjectCreate,
  ObjectDefineProperty,
  ObjectFreeze,
  ObjectGetOwnPropertyDescriptor,
  ObjectGetPrototypeOf,
  ObjectKeys,
  ObjectSetPrototypeOf,
  ReflectApply,
  ReflectConstruct,
  ReflectOwnKeys,
  SafeWeakSet,
  SymbolIterator,
  TypedArrayCtors,
  TypedArrayPrototype,
  TypedArrayPrototypeGetBuffer,
  TypedArrayPrototypeGetByteLength,
  TypedArrayPrototypeGetLength,
  TypedArrayPrototypeSet,
  uncurryThis,
  WeakSetPrototypeAdd,
  WeakSetPrototypeHas,
} from './primordials.js';

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
// Captured before any user code: the species wrappers below are installed on first need.
const TypedArrayAllocatingMethods = ObjectFreeze({
  __proto__: null,
  slice: TypedArrayPrototype.slice,
  map: TypedArrayPrototype.map,
  filter: TypedArrayPrototype.filter,
  // Change-array-by-copy methods (V8 11+) copy into a new array of the same kind.
  ...(typeof TypedArrayPrototype.toReversed === 'function' ? { toReversed: TypedArrayPrototype.toReversed } : {}),
  ...(typeof TypedArrayPrototype.toSorted === 'function' ? { toSorted: TypedArrayPrototype.toSorted } : {}),
  ...(typeof TypedArrayPrototype.with === 'function' ? { with: TypedArrayPrototype.with } : {}),
});
const ArrayBufferPrototypeSliceIntrinsic = ArrayBuffer.prototype.slice;
const StringPrototypeRepeatIntrinsic = String.prototype.repeat;
const StringPrototypePadStartIntrinsic = String.prototype.padStart;
const StringPrototypePadEndIntrinsic = String.prototype.padEnd;

const DEFAULT_ALLOCATION_LIMITS = ObjectFreeze({
  maxBufferBytes: 256 * 1024 * 1024,
  maxStringLength: 64 * 1024 * 1024,
});

export function installAllocationLimits(global, limits) {
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
  // Made with the first counted buffer.
  let registry;
  let charged;

  /** Throws before an allocation of `bytes` that would take the session past its bound. */
  const reserve = (bytes) => {
    if (!(bytes > 0)) return;
    if (
      live + bytes > maxBufferBytes &&
      registry !== undefined &&
      FinalizationRegistryPrototypeCleanupSome !== undefined
    ) {
      FinalizationRegistryPrototypeCleanupSome(registry);
    }
    if (live + bytes > maxBufferBytes) {
      throw new RangeErrorWrapper(
        `Array buffer allocation of ${MiB(bytes)} refused: this session's ArrayBuffers would hold more than ${MiB(maxBufferBytes)} (${MiB(live)} in use)`,
      );
    }
  };
  const charge = (buffer, bytes) => {
    if (!(bytes > 0) || IntrinsicFinalizationRegistry === undefined) return;
    if (registry === undefined) {
      registry = new IntrinsicFinalizationRegistry((freed) => {
        live -= freed;
      });
      charged = new SafeWeakSet();
    }
    if (WeakSetPrototypeHas(charged, buffer)) return;
    WeakSetPrototypeAdd(charged, buffer);
    live += bytes;
    // Defined whenever IntrinsicFinalizationRegistry is (checked above).
    const register = /** @type {NonNullable<typeof FinalizationRegistryPrototypeRegister>} */ (
      FinalizationRegistryPrototypeRegister
    );
    register(registry, buffer, bytes);
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

  /** Wrappers built so far, by global name. */
  const wrappers = ObjectCreate(null);

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
    const keys = ReflectOwnKeys(Intrinsic);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      if (key === 'prototype' || key === 'length' || key === 'name') continue;
      ObjectDefineProperty(
        Wrapper,
        key,
        /** @type {PropertyDescriptor} */ (ObjectGetOwnPropertyDescriptor(Intrinsic, key)),
      );
    }
    // The O(live realms) write (see the top of this file). Recorded only once
    // done: an entry stopped by its timeout here never handed the wrapper out,
    // and the next need builds it again.
    ObjectDefineProperty(Intrinsic.prototype, 'constructor', { value: Wrapper, writable: true, configurable: true });
    wrappers[name] = Wrapper;
    return Wrapper;
  };

  // Everything below runs inside user entries (wrappers are called by user
  // code, and built on first need), after user code may have replaced
  // iteration methods: no for-of over arrays, no spread. (A spread here once
  // let a hijacked array iterator add a `maxByteLength` that was never counted.)

  // ---- ArrayBuffer -----------------------------------------------------------

  const constructArrayBuffer = (args, newTarget) => {
    const length = toLength(args[0]);
    const options = args[1];
    let bytes = length;
    /** @type {unknown[]} */
    let intrinsicArgs = [length];
    if (options !== null && typeof options === 'object') {
      // Resizable: the whole maximum is what the buffer may come to hold.
      const max = options.maxByteLength;
      if (max !== undefined) {
        const maxByteLength = toLength(max);
        bytes = MathMax(length, maxByteLength);
        intrinsicArgs = [length, { maxByteLength }];
      }
    }
    reserve(bytes);
    const buffer = ReflectConstruct(ArrayBufferCtor, intrinsicArgs, newTarget);
    charge(buffer, bytes);
    return buffer;
  };
  // `ArrayBuffer[Symbol.species]` is an accessor returning `this`: copied by wrap(), so species lookups land on the wrapper.

  // ---- typed arrays ----------------------------------------------------------

  const typedArrayConstructor = (Intrinsic) => {
    const bytesPerElement = Intrinsic.BYTES_PER_ELEMENT;
    return (args, newTarget) => {
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
    };
  };

  // Methods that allocate a new array or buffer. Through a species
  // constructor: with `constructor` set to undefined, the spec falls back to
  // the *intrinsic* constructor, which would bypass the count; toReversed,
  // toSorted and `with` always use the intrinsic one. The result is counted
  // here instead (once: a result made by a wrapper is already counted).
  // Installed with the first wrapper of their kind (nothing reaches these
  // prototypes before); idempotent, since it always wraps the intrinsic.
  const speciesMethod = (target, name, intrinsic, sizeOf) => {
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
  let typedArrayMethodsWrapped = false;

  /** The wrapper of `name` (`ArrayBuffer` or a typed array name), built on first need. */
  const wrapperOf = (name) => {
    const built = wrappers[name];
    if (built !== undefined) return built;
    if (name === 'ArrayBuffer') {
      speciesMethod(ArrayBufferCtor.prototype, 'slice', ArrayBufferPrototypeSliceIntrinsic, (buffer) =>
        ArrayBufferPrototypeGetByteLength(buffer),
      );
      return wrap('ArrayBuffer', ArrayBufferCtor, constructArrayBuffer);
    }
    const Intrinsic = TypedArrayCtors[name];
    if (Intrinsic === undefined) return undefined;
    wrapperOf('ArrayBuffer');
    if (!typedArrayMethodsWrapped) {
      const methods = ObjectKeys(TypedArrayAllocatingMethods);
      for (let i = 0; i < methods.length; i++) {
        speciesMethod(TypedArrayPrototype, methods[i], TypedArrayAllocatingMethods[methods[i]], (array) =>
          TypedArrayPrototypeGetByteLength(array),
        );
      }
      typedArrayMethodsWrapped = true;
    }
    return wrap(name, Intrinsic, typedArrayConstructor(Intrinsic));
  };

  // Until first read, each global is an accessor that builds its wrapper
  // (bootstrap.js makes its lazy globals the same way).
  const defineGlobal = (name, value) =>
    ObjectDefineProperty(global, name, { value, writable: true, enumerable: false, configurable: true });
  const lazyGlobal = (name) => {
    ObjectDefineProperty(global, name, {
      get() {
        const Wrapper = wrapperOf(name);
        defineGlobal(name, Wrapper);
        return Wrapper;
      },
      set(value) {
        defineGlobal(name, value);
      },
      enumerable: false,
      configurable: true,
    });
  };
  lazyGlobal('ArrayBuffer');
  ArrayPrototypeForEach(ObjectKeys(TypedArrayCtors), lazyGlobal);

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
  method(
    'repeat',
    1,
    /** @this {unknown} */ function (count) {
      const s = thisString(this, 'repeat');
      const n = MathTrunc(+count);
      if (s.length > 0 && n > 0 && s.length * n > maxStringLength) throw tooLong('repeat', s.length * n);
      return FunctionPrototypeCall(StringPrototypeRepeatIntrinsic, s, NumberIsNaN(n) ? 0 : n);
    },
  );
  ArrayPrototypeForEach(['padStart', 'padEnd'], (name) => {
    const intrinsic = name === 'padStart' ? StringPrototypePadStartIntrinsic : StringPrototypePadEndIntrinsic;
    method(
      name,
      1,
      /** @this {unknown} */ function (maxLength, fillString) {
        const s = thisString(this, name);
        const n = MathTrunc(+maxLength);
        if (n > s.length && n > maxStringLength) throw tooLong(name, n);
        return FunctionPrototypeCall(intrinsic, s, NumberIsNaN(n) ? 0 : n, fillString);
      },
    );
  });

  /**
   * For realm code, before it hands user code an object of `kind` (a typed
   * array name, `ArrayBuffer` or `DataView`) that it made with an intrinsic:
   * makes that kind's `constructor` lead to its wrapper.
   */
  return function exposeBuffer(kind) {
    wrapperOf(kind === 'DataView' ? 'ArrayBuffer' : kind);
  };
}
