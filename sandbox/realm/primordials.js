// Realm-side source (runs inside each session realm, never in the host).
//
// Intrinsics captured once, when the realm is created and before any user code
// runs, so trusted realm code keeps working after user code replaces
// `Array.prototype.push` or `JSON.stringify` in its own realm. Every realm file
// is concatenated into one bootstrap function; names defined here are in scope
// for the files that follow.

const uncurryThis = Function.prototype.bind.bind(Function.prototype.call);

const ObjectCreate = Object.create;
const ObjectDefineProperty = Object.defineProperty;
const ObjectFreeze = Object.freeze;
const ObjectPreventExtensions = Object.preventExtensions;
const ObjectIsFrozen = Object.isFrozen;
const ObjectKeys = Object.keys;
const ObjectGetPrototypeOf = Object.getPrototypeOf;
const ObjectSetPrototypeOf = Object.setPrototypeOf;
const ObjectGetOwnPropertyNames = Object.getOwnPropertyNames;
const ObjectGetOwnPropertySymbols = Object.getOwnPropertySymbols;
const ObjectGetOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;
const ObjectIs = Object.is;
const ObjectPrototype = Object.prototype;
const ObjectPrototypeHasOwnProperty = uncurryThis(Object.prototype.hasOwnProperty);
const ObjectPrototypeToString = uncurryThis(Object.prototype.toString);
const ObjectPrototypePropertyIsEnumerable = uncurryThis(Object.prototype.propertyIsEnumerable);
const ReflectApply = Reflect.apply;
const ReflectConstruct = Reflect.construct;
const ReflectOwnKeys = Reflect.ownKeys;

const FunctionPrototypeToString = uncurryThis(Function.prototype.toString);
const FunctionPrototypeCall = uncurryThis(Function.prototype.call);

const ArrayIsArray = Array.isArray;
const ArrayFrom = Array.from;
const ArrayPrototypePush = uncurryThis(Array.prototype.push);
const ArrayPrototypePop = uncurryThis(Array.prototype.pop);
const ArrayPrototypeJoin = uncurryThis(Array.prototype.join);
const ArrayPrototypeSlice = uncurryThis(Array.prototype.slice);
const ArrayPrototypeSplice = uncurryThis(Array.prototype.splice);
const ArrayPrototypeIndexOf = uncurryThis(Array.prototype.indexOf);
const ArrayPrototypeIncludes = uncurryThis(Array.prototype.includes);
const ArrayPrototypeMap = uncurryThis(Array.prototype.map);
const ArrayPrototypeFilter = uncurryThis(Array.prototype.filter);
const ArrayPrototypeForEach = uncurryThis(Array.prototype.forEach);
const ArrayPrototypeSort = uncurryThis(Array.prototype.sort);
const ArrayPrototypeReduce = uncurryThis(Array.prototype.reduce);
const ArrayPrototypeSome = uncurryThis(Array.prototype.some);
const ArrayPrototypeConcat = uncurryThis(Array.prototype.concat);

const StringFromCharCode = String.fromCharCode;
const StringFromCodePoint = String.fromCodePoint;
const StringPrototypeSlice = uncurryThis(String.prototype.slice);
const StringPrototypeIndexOf = uncurryThis(String.prototype.indexOf);
const StringPrototypeIncludes = uncurryThis(String.prototype.includes);
const StringPrototypeStartsWith = uncurryThis(String.prototype.startsWith);
const StringPrototypeEndsWith = uncurryThis(String.prototype.endsWith);
const StringPrototypeSplit = uncurryThis(String.prototype.split);
const StringPrototypeReplace = uncurryThis(String.prototype.replace);
const StringPrototypeReplaceAll = uncurryThis(String.prototype.replaceAll);
const StringPrototypeRepeat = uncurryThis(String.prototype.repeat);
const StringPrototypePadStart = uncurryThis(String.prototype.padStart);
const StringPrototypePadEnd = uncurryThis(String.prototype.padEnd);
const StringPrototypeTrim = uncurryThis(String.prototype.trim);
const StringPrototypeToLowerCase = uncurryThis(String.prototype.toLowerCase);
const StringPrototypeToUpperCase = uncurryThis(String.prototype.toUpperCase);
const StringPrototypeCharCodeAt = uncurryThis(String.prototype.charCodeAt);
const StringPrototypeCodePointAt = uncurryThis(String.prototype.codePointAt);
const StringPrototypeValueOf = uncurryThis(String.prototype.valueOf);
const RegExpPrototype = RegExp.prototype;
const RegExpPrototypeExec = uncurryThis(RegExp.prototype.exec);
const RegExpPrototypeTest = uncurryThis(RegExp.prototype.test);

const NumberIsNaN = Number.isNaN;
const NumberIsFinite = Number.isFinite;
const NumberIsSafeInteger = Number.isSafeInteger;
const NumberParseInt = Number.parseInt;
const NumberParseFloat = Number.parseFloat;
const NumberPrototypeToString = uncurryThis(Number.prototype.toString);
const NumberPrototypeValueOf = uncurryThis(Number.prototype.valueOf);
const BooleanPrototypeValueOf = uncurryThis(Boolean.prototype.valueOf);
const BigIntPrototypeValueOf = uncurryThis(BigInt.prototype.valueOf);
const SymbolPrototypeToString = uncurryThis(Symbol.prototype.toString);
const SymbolPrototypeValueOf = uncurryThis(Symbol.prototype.valueOf);
const SymbolPrototypeGetDescription = uncurryThis(ObjectGetOwnPropertyDescriptor(Symbol.prototype, 'description').get);
const SymbolIterator = Symbol.iterator;
const SymbolToStringTag = Symbol.toStringTag;

const MathFloor = Math.floor;
const MathMin = Math.min;
const MathMax = Math.max;
const MathRound = Math.round;
const MathTrunc = Math.trunc;
const JSONStringify = JSON.stringify;
const JSONParse = JSON.parse;
const DatePrototypeGetTime = uncurryThis(Date.prototype.getTime);
const DatePrototypeToISOString = uncurryThis(Date.prototype.toISOString);
const DatePrototypeToString = uncurryThis(Date.prototype.toString);

const MapPrototypeGet = uncurryThis(Map.prototype.get);
const MapPrototypeSet = uncurryThis(Map.prototype.set);
const MapPrototypeHas = uncurryThis(Map.prototype.has);
const MapPrototypeDelete = uncurryThis(Map.prototype.delete);
const MapPrototypeEntries = uncurryThis(Map.prototype.entries);
const MapPrototypeGetSize = uncurryThis(ObjectGetOwnPropertyDescriptor(Map.prototype, 'size').get);
const SetPrototypeAdd = uncurryThis(Set.prototype.add);
const SetPrototypeHas = uncurryThis(Set.prototype.has);
const SetPrototypeValues = uncurryThis(Set.prototype.values);
const SetPrototypeGetSize = uncurryThis(ObjectGetOwnPropertyDescriptor(Set.prototype, 'size').get);
const WeakMapPrototypeGet = uncurryThis(WeakMap.prototype.get);
const WeakMapPrototypeSet = uncurryThis(WeakMap.prototype.set);
const WeakMapPrototypeHas = uncurryThis(WeakMap.prototype.has);
const WeakSetPrototypeAdd = uncurryThis(WeakSet.prototype.add);
const WeakSetPrototypeHas = uncurryThis(WeakSet.prototype.has);
const MapIteratorPrototype = ObjectGetPrototypeOf(MapPrototypeEntries(new Map()));
const SetIteratorPrototype = ObjectGetPrototypeOf(SetPrototypeValues(new Set()));
const MapIteratorPrototypeNext = uncurryThis(MapIteratorPrototype.next);
const SetIteratorPrototypeNext = uncurryThis(SetIteratorPrototype.next);
/** The values of a Map or Set iterator, read with the captured `next` (user code may replace the prototype's). */
function iteratorValues(iterator, next) {
  const out = [];
  for (let step = next(iterator); !step.done; step = next(iterator)) ArrayPrototypePush(out, step.value);
  return out;
}
const mapEntries = (map) => iteratorValues(MapPrototypeEntries(map), MapIteratorPrototypeNext);
const setValues = (set) => iteratorValues(SetPrototypeValues(set), SetIteratorPrototypeNext);

const PromiseCtor = Promise;
const PromiseResolve = Promise.resolve.bind(Promise);
const PromisePrototypeThen = uncurryThis(Promise.prototype.then);

const ArrayBufferCtor = ArrayBuffer;
const ArrayBufferPrototypeGetByteLength = uncurryThis(
  ObjectGetOwnPropertyDescriptor(ArrayBuffer.prototype, 'byteLength').get,
);
const ArrayBufferPrototypeSlice = uncurryThis(ArrayBuffer.prototype.slice);
const TypedArrayPrototype = ObjectGetPrototypeOf(Uint8Array.prototype);
const TypedArrayPrototypeGetSymbolToStringTag = uncurryThis(
  ObjectGetOwnPropertyDescriptor(TypedArrayPrototype, Symbol.toStringTag).get,
);
const TypedArrayPrototypeGetLength = uncurryThis(ObjectGetOwnPropertyDescriptor(TypedArrayPrototype, 'length').get);
const TypedArrayPrototypeGetBuffer = uncurryThis(ObjectGetOwnPropertyDescriptor(TypedArrayPrototype, 'buffer').get);
const TypedArrayPrototypeGetByteOffset = uncurryThis(
  ObjectGetOwnPropertyDescriptor(TypedArrayPrototype, 'byteOffset').get,
);
const TypedArrayPrototypeGetByteLength = uncurryThis(
  ObjectGetOwnPropertyDescriptor(TypedArrayPrototype, 'byteLength').get,
);
const TypedArrayPrototypeSubarray = uncurryThis(TypedArrayPrototype.subarray);
const TypedArrayPrototypeSet = uncurryThis(TypedArrayPrototype.set);
const DataViewPrototypeGetBuffer = uncurryThis(ObjectGetOwnPropertyDescriptor(DataView.prototype, 'buffer').get);
const DataViewPrototypeGetByteOffset = uncurryThis(
  ObjectGetOwnPropertyDescriptor(DataView.prototype, 'byteOffset').get,
);
const DataViewPrototypeGetByteLength = uncurryThis(
  ObjectGetOwnPropertyDescriptor(DataView.prototype, 'byteLength').get,
);
const Uint8ArrayCtor = Uint8Array;

const SafeMap = Map;
const SafeSet = Set;
const SafeWeakMap = WeakMap;
const SafeWeakSet = WeakSet;

// Brand checks that do not run user code (no getters, no Symbol.toStringTag):
// each calls an intrinsic that throws on the wrong receiver.
function isBranded(check, value) {
  try {
    check(value);
    return true;
  } catch {
    return false;
  }
}
const isMap = (v) => isBranded(MapPrototypeGetSize, v);
const isSet = (v) => isBranded(SetPrototypeGetSize, v);
const isDate = (v) => isBranded(DatePrototypeGetTime, v);
const isRegExp = (v) => {
  // RegExp has no side-effect-free brand getter; `source` on the prototype throws for non-RegExps.
  try {
    regExpSourceGetter(v);
    return v !== RegExpPrototype;
  } catch {
    return false;
  }
};
const regExpSourceGetter = uncurryThis(ObjectGetOwnPropertyDescriptor(RegExp.prototype, 'source').get);
const isArrayBuffer = (v) => isBranded(ArrayBufferPrototypeGetByteLength, v);
const isTypedArray = (v) => TypedArrayPrototypeGetSymbolToStringTag(v) !== undefined;
const isDataView = (v) => isBranded(DataViewPrototypeGetByteLength, v);
const isWeakMap = (v) => isBranded(WeakMapPrototypeHas, v);
const isWeakSet = (v) => isBranded(WeakSetPrototypeHas, v);
const PromisePrototype = Promise.prototype;
const isPromise = (v) => {
  // No brand check for promises is free of side effects; walk the prototype chain.
  let proto = v;
  for (let i = 0; i < 100 && proto !== null && (typeof proto === 'object' || typeof proto === 'function'); i++) {
    proto = ObjectGetPrototypeOf(proto);
    if (proto === PromisePrototype) return true;
  }
  return false;
};
const isBoxedPrimitive = (v) =>
  isBranded(NumberPrototypeValueOf, v) ||
  isBranded(StringPrototypeValueOf, v) ||
  isBranded(BooleanPrototypeValueOf, v) ||
  isBranded(BigIntPrototypeValueOf, v) ||
  isBranded(SymbolPrototypeValueOf, v);
/** The primitive inside a boxed primitive (isBoxedPrimitive), without calling a replaceable `valueOf`. */
function unboxPrimitive(v) {
  if (isBranded(NumberPrototypeValueOf, v)) return NumberPrototypeValueOf(v);
  if (isBranded(StringPrototypeValueOf, v)) return StringPrototypeValueOf(v);
  if (isBranded(BooleanPrototypeValueOf, v)) return BooleanPrototypeValueOf(v);
  if (isBranded(BigIntPrototypeValueOf, v)) return BigIntPrototypeValueOf(v);
  return SymbolPrototypeValueOf(v);
}

// ---- Added for inspect.js / base64.js / value-codec.js (captured before user code runs).
const FunctionPrototype = Function.prototype;
const ErrorPrototype = Error.prototype;
const StringPrototypeNormalize = uncurryThis(String.prototype.normalize);
const ErrorCtor = Error;
const TypeErrorCtor = TypeError;
const RangeErrorCtor = RangeError;
const SyntaxErrorCtor = SyntaxError;
const ReferenceErrorCtor = ReferenceError;
const EvalErrorCtor = EvalError;
const URIErrorCtor = URIError;
const AggregateErrorPrototype = typeof AggregateError === 'function' ? AggregateError.prototype : undefined;
const ObjectCtor = Object;
const BigIntCtor = BigInt;
const DateCtor = Date;
const RegExpCtor = RegExp;
const DataViewCtor = DataView;
const NumberNaN = Number.NaN;
const NumberPOSITIVE_INFINITY = Number.POSITIVE_INFINITY;
const NumberNEGATIVE_INFINITY = Number.NEGATIVE_INFINITY;
// Typed array constructors by their Symbol.toStringTag name (null prototype, frozen).
const TypedArrayCtors = ObjectFreeze({
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
const TypedArrayPrototypeSymbolToStringTagGetter = ObjectGetOwnPropertyDescriptor(
  TypedArrayPrototype,
  Symbol.toStringTag,
).get;
const SymbolToPrimitive = Symbol.toPrimitive;
const AsyncFunctionPrototype = ObjectGetPrototypeOf(async function () {});
const GeneratorFunctionPrototype = ObjectGetPrototypeOf(function* () {});
const AsyncGeneratorFunctionPrototype = ObjectGetPrototypeOf(async function* () {});
// RegExp flags read through the intrinsic getters, in the order of `RegExp.prototype.flags`.
const RegExpFlagGetters = ObjectFreeze(
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
const isWeakRef = (v) => WeakRefPrototypeDeref !== undefined && isBranded(WeakRefPrototypeDeref, v);
const isError = (v) => {
  // Same approach as isPromise: an Error.prototype of this realm on the chain (no user code runs).
  let proto = v;
  for (let i = 0; i < 100 && proto !== null && (typeof proto === 'object' || typeof proto === 'function'); i++) {
    proto = ObjectGetPrototypeOf(proto);
    if (proto === ErrorPrototype) return true;
  }
  return false;
};
const MathSqrt = Math.sqrt;
const NumberCtor = Number;
// Kept for the files that use this name; isRegExp no longer reads the global at call time either.
const isRegExpObject = isRegExp;
const ArrayPrototype = Array.prototype;
// Annex B lookups: tell accessors from data properties without allocating a descriptor.
const ObjectPrototypeLookupGetter = uncurryThis(Object.prototype.__lookupGetter__);
const ObjectPrototypeLookupSetter = uncurryThis(Object.prototype.__lookupSetter__);
