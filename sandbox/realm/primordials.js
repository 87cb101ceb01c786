// Realm-side source (runs inside each session realm, never in the host).
//
// Intrinsics captured once, when the realm is created and before any user code
// runs, so trusted realm code keeps working after user code replaces
// `Array.prototype.push` or `JSON.stringify` in its own realm. Every realm
// module imports what it uses from here; the bundle runs this module first, in
// each realm (common/realm-bundle.ts).

/**
 * `uncurryThis(Array.prototype.push)(list, x)` calls the captured `push` on `list`.
 * @type {<T, A extends any[], R>(fn: (this: T, ...args: A) => R) => (self: T, ...args: A) => R}
 */
export const uncurryThis = Function.prototype.bind.bind(Function.prototype.call);

export const ObjectCreate = Object.create;
export const ObjectDefineProperty = Object.defineProperty;
export const ObjectFreeze = Object.freeze;
export const ObjectPreventExtensions = Object.preventExtensions;
export const ObjectIsFrozen = Object.isFrozen;
export const ObjectKeys = Object.keys;
export const ObjectGetPrototypeOf = Object.getPrototypeOf;
export const ObjectSetPrototypeOf = Object.setPrototypeOf;
export const ObjectGetOwnPropertyNames = Object.getOwnPropertyNames;
export const ObjectGetOwnPropertySymbols = Object.getOwnPropertySymbols;
export const ObjectGetOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;

/**
 * The getter of an accessor every realm has (`Map.prototype.size`…).
 * @param {object} proto
 * @param {PropertyKey} key
 * @returns {(this: any) => any}
 */
function getterOf(proto, key) {
  const desc = /** @type {PropertyDescriptor} */ (ObjectGetOwnPropertyDescriptor(proto, key));
  return /** @type {(this: any) => any} */ (desc.get);
}
export const ObjectIs = Object.is;
export const ObjectPrototype = Object.prototype;
export const ObjectPrototypeHasOwnProperty = uncurryThis(Object.prototype.hasOwnProperty);
export const ObjectPrototypeToString = uncurryThis(Object.prototype.toString);
export const ObjectPrototypePropertyIsEnumerable = uncurryThis(Object.prototype.propertyIsEnumerable);
export const ReflectApply = Reflect.apply;
export const ReflectConstruct = Reflect.construct;
export const ReflectOwnKeys = Reflect.ownKeys;

export const FunctionPrototypeToString = uncurryThis(Function.prototype.toString);
export const FunctionPrototypeCall = uncurryThis(Function.prototype.call);

export const ArrayIsArray = Array.isArray;
export const ArrayFrom = Array.from;
export const ArrayPrototypePush = uncurryThis(Array.prototype.push);
export const ArrayPrototypePop = uncurryThis(Array.prototype.pop);
export const ArrayPrototypeJoin = uncurryThis(Array.prototype.join);
export const ArrayPrototypeSlice = uncurryThis(Array.prototype.slice);
// Overloaded methods: typed by the overload realm code uses (uncurryThis would keep the last).
/** @type {(self: any[], start: number, deleteCount?: number, ...items: any[]) => any[]} */
export const ArrayPrototypeSplice = uncurryThis(/** @type {any} */ (Array.prototype.splice));
export const ArrayPrototypeIndexOf = uncurryThis(Array.prototype.indexOf);
export const ArrayPrototypeIncludes = uncurryThis(Array.prototype.includes);
export const ArrayPrototypeMap = uncurryThis(Array.prototype.map);
export const ArrayPrototypeFilter = uncurryThis(Array.prototype.filter);
export const ArrayPrototypeForEach = uncurryThis(Array.prototype.forEach);
export const ArrayPrototypeSort = uncurryThis(Array.prototype.sort);
/** @type {(self: any[], reducer: (result: any, item: any, index: number, array: any[]) => any, initial?: any) => any} */
export const ArrayPrototypeReduce = uncurryThis(/** @type {any} */ (Array.prototype.reduce));
export const ArrayPrototypeSome = uncurryThis(Array.prototype.some);
export const ArrayPrototypeConcat = uncurryThis(Array.prototype.concat);

export const StringFromCharCode = String.fromCharCode;
export const StringFromCodePoint = String.fromCodePoint;
export const StringPrototypeSlice = uncurryThis(String.prototype.slice);
export const StringPrototypeIndexOf = uncurryThis(String.prototype.indexOf);
export const StringPrototypeIncludes = uncurryThis(String.prototype.includes);
export const StringPrototypeStartsWith = uncurryThis(String.prototype.startsWith);
export const StringPrototypeEndsWith = uncurryThis(String.prototype.endsWith);
/** @type {(self: string, separator: string | RegExp, limit?: number) => string[]} */
export const StringPrototypeSplit = uncurryThis(/** @type {any} */ (String.prototype.split));
/** @type {(self: string, pattern: string | RegExp, replacement: string | ((match: string, ...args: any[]) => string)) => string} */
export const StringPrototypeReplace = uncurryThis(/** @type {any} */ (String.prototype.replace));
/** @type {(self: string, pattern: string | RegExp, replacement: string | ((match: string, ...args: any[]) => string)) => string} */
export const StringPrototypeReplaceAll = uncurryThis(/** @type {any} */ (String.prototype.replaceAll));
export const StringPrototypeRepeat = uncurryThis(String.prototype.repeat);
export const StringPrototypePadStart = uncurryThis(String.prototype.padStart);
export const StringPrototypePadEnd = uncurryThis(String.prototype.padEnd);
export const StringPrototypeTrim = uncurryThis(String.prototype.trim);
export const StringPrototypeToLowerCase = uncurryThis(String.prototype.toLowerCase);
export const StringPrototypeToUpperCase = uncurryThis(String.prototype.toUpperCase);
export const StringPrototypeCharCodeAt = uncurryThis(String.prototype.charCodeAt);
export const StringPrototypeCodePointAt = uncurryThis(String.prototype.codePointAt);
export const StringPrototypeValueOf = uncurryThis(String.prototype.valueOf);
const RegExpPrototype = RegExp.prototype;
export const RegExpPrototypeExec = uncurryThis(RegExp.prototype.exec);
export const RegExpPrototypeTest = uncurryThis(RegExp.prototype.test);

export const NumberIsNaN = Number.isNaN;
export const NumberIsFinite = Number.isFinite;
export const NumberIsSafeInteger = Number.isSafeInteger;
export const NumberParseInt = Number.parseInt;
export const NumberParseFloat = Number.parseFloat;
export const NumberPrototypeToString = uncurryThis(Number.prototype.toString);
export const NumberPrototypeValueOf = uncurryThis(Number.prototype.valueOf);
export const BooleanPrototypeValueOf = uncurryThis(Boolean.prototype.valueOf);
export const BigIntPrototypeValueOf = uncurryThis(BigInt.prototype.valueOf);
export const SymbolPrototypeToString = uncurryThis(Symbol.prototype.toString);
export const SymbolPrototypeValueOf = uncurryThis(Symbol.prototype.valueOf);
export const SymbolPrototypeGetDescription = uncurryThis(getterOf(Symbol.prototype, 'description'));
export const SymbolIterator = Symbol.iterator;
export const SymbolToStringTag = Symbol.toStringTag;

export const MathFloor = Math.floor;
export const MathMin = Math.min;
export const MathMax = Math.max;
export const MathRound = Math.round;
export const MathTrunc = Math.trunc;
export const JSONStringify = JSON.stringify;
export const JSONParse = JSON.parse;
export const DatePrototypeGetTime = uncurryThis(Date.prototype.getTime);
export const DatePrototypeToISOString = uncurryThis(Date.prototype.toISOString);
export const DatePrototypeToString = uncurryThis(Date.prototype.toString);

export const MapPrototypeGet = uncurryThis(Map.prototype.get);
export const MapPrototypeSet = uncurryThis(Map.prototype.set);
export const MapPrototypeHas = uncurryThis(Map.prototype.has);
export const MapPrototypeDelete = uncurryThis(Map.prototype.delete);
export const MapPrototypeEntries = uncurryThis(Map.prototype.entries);
export const MapPrototypeGetSize = uncurryThis(getterOf(Map.prototype, 'size'));
export const SetPrototypeAdd = uncurryThis(Set.prototype.add);
export const SetPrototypeHas = uncurryThis(Set.prototype.has);
export const SetPrototypeValues = uncurryThis(Set.prototype.values);
export const SetPrototypeGetSize = uncurryThis(getterOf(Set.prototype, 'size'));
export const WeakMapPrototypeGet = uncurryThis(WeakMap.prototype.get);
export const WeakMapPrototypeSet = uncurryThis(WeakMap.prototype.set);
const WeakMapPrototypeHas = uncurryThis(WeakMap.prototype.has);
export const WeakSetPrototypeAdd = uncurryThis(WeakSet.prototype.add);
export const WeakSetPrototypeHas = uncurryThis(WeakSet.prototype.has);
export const MapIteratorPrototype = ObjectGetPrototypeOf(MapPrototypeEntries(new Map()));
export const SetIteratorPrototype = ObjectGetPrototypeOf(SetPrototypeValues(new Set()));
export const MapIteratorPrototypeNext = uncurryThis(MapIteratorPrototype.next);
export const SetIteratorPrototypeNext = uncurryThis(SetIteratorPrototype.next);
/** The values of a Map or Set iterator, read with the captured `next` (user code may replace the prototype's). */
function iteratorValues(iterator, next) {
  const out = [];
  for (let step = next(iterator); !step.done; step = next(iterator)) ArrayPrototypePush(out, step.value);
  return out;
}
export const mapEntries = (map) => iteratorValues(MapPrototypeEntries(map), MapIteratorPrototypeNext);
export const setValues = (set) => iteratorValues(SetPrototypeValues(set), SetIteratorPrototypeNext);

export const PromiseCtor = Promise;
export const PromiseResolve = Promise.resolve.bind(Promise);
export const PromisePrototypeThen = uncurryThis(Promise.prototype.then);

export const ArrayBufferCtor = ArrayBuffer;
export const ArrayBufferPrototypeGetByteLength = uncurryThis(getterOf(ArrayBuffer.prototype, 'byteLength'));
export const ArrayBufferPrototypeSlice = uncurryThis(ArrayBuffer.prototype.slice);
export const TypedArrayPrototype = ObjectGetPrototypeOf(Uint8Array.prototype);
export const TypedArrayPrototypeGetSymbolToStringTag = uncurryThis(getterOf(TypedArrayPrototype, Symbol.toStringTag));
export const TypedArrayPrototypeGetLength = uncurryThis(getterOf(TypedArrayPrototype, 'length'));
export const TypedArrayPrototypeGetBuffer = uncurryThis(getterOf(TypedArrayPrototype, 'buffer'));
export const TypedArrayPrototypeGetByteOffset = uncurryThis(getterOf(TypedArrayPrototype, 'byteOffset'));
export const TypedArrayPrototypeGetByteLength = uncurryThis(getterOf(TypedArrayPrototype, 'byteLength'));
export const TypedArrayPrototypeSubarray = uncurryThis(TypedArrayPrototype.subarray);
export const TypedArrayPrototypeSet = uncurryThis(TypedArrayPrototype.set);
export const DataViewPrototypeGetBuffer = uncurryThis(getterOf(DataView.prototype, 'buffer'));
export const DataViewPrototypeGetByteOffset = uncurryThis(getterOf(DataView.prototype, 'byteOffset'));
export const DataViewPrototypeGetByteLength = uncurryThis(getterOf(DataView.prototype, 'byteLength'));
export const Uint8ArrayCtor = Uint8Array;

export const SafeMap = Map;
export const SafeSet = Set;
export const SafeWeakMap = WeakMap;
export const SafeWeakSet = WeakSet;

export const isObjectLike = (v) => (typeof v === 'object' && v !== null) || typeof v === 'function';
/** Whether a property descriptor (one of this realm's) is an accessor's. */
export const isAccessor = (desc) => ObjectPrototypeHasOwnProperty(desc, 'get');

// Brand checks that do not run user code (no getters, no Symbol.toStringTag):
// each calls an intrinsic that throws on the wrong receiver.
export function isBranded(check, value) {
  try {
    check(value);
    return true;
  } catch {
    return false;
  }
}
export const isMap = (v) => isBranded(MapPrototypeGetSize, v);
export const isSet = (v) => isBranded(SetPrototypeGetSize, v);
export const isDate = (v) => isBranded(DatePrototypeGetTime, v);
export const isRegExp = (v) => {
  // RegExp has no side-effect-free brand getter; `source` on the prototype throws for non-RegExps.
  try {
    regExpSourceGetter(v);
    return v !== RegExpPrototype;
  } catch {
    return false;
  }
};
export const regExpSourceGetter = uncurryThis(getterOf(RegExp.prototype, 'source'));
export const isArrayBuffer = (v) => isBranded(ArrayBufferPrototypeGetByteLength, v);
export const isTypedArray = (v) => TypedArrayPrototypeGetSymbolToStringTag(v) !== undefined;
export const isDataView = (v) => isBranded(DataViewPrototypeGetByteLength, v);
export const isWeakMap = (v) => isBranded(WeakMapPrototypeHas, v);
export const isWeakSet = (v) => isBranded(WeakSetPrototypeHas, v);
const PromisePrototype = Promise.prototype;
export const isPromise = (v) => {
  // No brand check for promises is free of side effects; walk the prototype chain.
  let proto = v;
  for (let i = 0; i < 100 && proto !== null && (typeof proto === 'object' || typeof proto === 'function'); i++) {
    proto = ObjectGetPrototypeOf(proto);
    if (proto === PromisePrototype) return true;
  }
  return false;
};
export const isBoxedPrimitive = (v) =>
  isBranded(NumberPrototypeValueOf, v) ||
  isBranded(StringPrototypeValueOf, v) ||
  isBranded(BooleanPrototypeValueOf, v) ||
  isBranded(BigIntPrototypeValueOf, v) ||
  isBranded(SymbolPrototypeValueOf, v);
/** The primitive inside a boxed primitive (isBoxedPrimitive), without calling a replaceable `valueOf`. */
export function unboxPrimitive(v) {
  if (isBranded(NumberPrototypeValueOf, v)) return NumberPrototypeValueOf(v);
  if (isBranded(StringPrototypeValueOf, v)) return StringPrototypeValueOf(v);
  if (isBranded(BooleanPrototypeValueOf, v)) return BooleanPrototypeValueOf(v);
  if (isBranded(BigIntPrototypeValueOf, v)) return BigIntPrototypeValueOf(v);
  return SymbolPrototypeValueOf(v);
}

// ---- Added for inspect/, base64.js and value-codec/ (captured before user code runs).
export const FunctionPrototype = Function.prototype;
const ErrorPrototype = Error.prototype;
export const StringPrototypeNormalize = uncurryThis(String.prototype.normalize);
export const ErrorCtor = Error;
export const TypeErrorCtor = TypeError;
export const RangeErrorCtor = RangeError;
export const SyntaxErrorCtor = SyntaxError;
export const ReferenceErrorCtor = ReferenceError;
export const EvalErrorCtor = EvalError;
export const URIErrorCtor = URIError;
export const AggregateErrorPrototype = typeof AggregateError === 'function' ? AggregateError.prototype : undefined;
export const ObjectCtor = Object;
export const BigIntCtor = BigInt;
export const DateCtor = Date;
export const RegExpCtor = RegExp;
export const DataViewCtor = DataView;
export const NumberNaN = Number.NaN;
export const NumberPOSITIVE_INFINITY = Number.POSITIVE_INFINITY;
export const NumberNEGATIVE_INFINITY = Number.NEGATIVE_INFINITY;
// Typed array constructors by their Symbol.toStringTag name (null prototype, frozen).
export const TypedArrayCtors = ObjectFreeze({
  __proto__: null,
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
  ...(typeof Float16Array === 'function' ? { Float16Array } : {}),
});
export const TypedArrayPrototypeSymbolToStringTagGetter = getterOf(TypedArrayPrototype, Symbol.toStringTag);
export const SymbolToPrimitive = Symbol.toPrimitive;
export const AsyncFunctionPrototype = ObjectGetPrototypeOf(async function () {});
export const GeneratorFunctionPrototype = ObjectGetPrototypeOf(function* () {});
export const AsyncGeneratorFunctionPrototype = ObjectGetPrototypeOf(async function* () {});
// RegExp flags read through the intrinsic getters, in the order of `RegExp.prototype.flags`.
export const RegExpFlagGetters = ObjectFreeze(
  ArrayPrototypeFilter(
    [
      ['d', 'hasIndices'],
      ['g', 'global'],
      ['i', 'ignoreCase'],
      ['m', 'multiline'],
      ['s', 'dotAll'],
      ['u', 'unicode'],
      ['v', 'unicodeSets'],
      ['y', 'sticky'],
    ],
    (pair) => {
      const desc = ObjectGetOwnPropertyDescriptor(RegExp.prototype, pair[1]);
      if (desc === undefined || typeof desc.get !== 'function') return false;
      pair[1] = uncurryThis(desc.get);
      return true;
    },
  ),
);
const WeakRefPrototypeDeref = typeof WeakRef === 'function' ? uncurryThis(WeakRef.prototype.deref) : undefined;
export const isWeakRef = (v) => WeakRefPrototypeDeref !== undefined && isBranded(WeakRefPrototypeDeref, v);
export const isError = (v) => {
  // Same approach as isPromise: an Error.prototype of this realm on the chain (no user code runs).
  let proto = v;
  for (let i = 0; i < 100 && proto !== null && (typeof proto === 'object' || typeof proto === 'function'); i++) {
    proto = ObjectGetPrototypeOf(proto);
    if (proto === ErrorPrototype) return true;
  }
  return false;
};
export const MathSqrt = Math.sqrt;
export const NumberCtor = Number;
// Kept for the files that use this name; isRegExp no longer reads the global at call time either.
export const isRegExpObject = isRegExp;
export const ArrayPrototype = Array.prototype;
// Annex B lookups: tell accessors from data properties without allocating a descriptor.
export const ObjectPrototypeLookupGetter = uncurryThis(Object.prototype.__lookupGetter__);
export const ObjectPrototypeLookupSetter = uncurryThis(Object.prototype.__lookupSetter__);
