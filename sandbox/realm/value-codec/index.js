// Realm-side source: the wire encoding of values (docs/protocol.md, "Value
// encoding"). Not a module: concatenated after primordials.js and base64.js.
// The same text runs inside each session realm (encoding realm values into a
// JSON string that crosses to the host as a primitive), in the host realm
// (protocol/value-codec.ts) and can run in a browser.
//
// Encoding never runs user code: no getters, no toJSON, no toString, no
// Symbol.toPrimitive; only own property descriptors / accessor lookups and
// intrinsic brand checks (Proxies are read through their traps, which is the
// one way user code can run while encoding; callers run it under the realm's
// CPU budget). It builds a JSON-native mirror of the value and serializes it
// with one JSON.stringify, counting the UTF-8 size as it goes (maxBytes).

import { createBase64 } from '../base64.js';
import {
  AggregateErrorPrototype,
  ArrayBufferPrototypeGetByteLength,
  ArrayIsArray,
  ArrayPrototype,
  AsyncFunctionPrototype,
  AsyncGeneratorFunctionPrototype,
  BigIntCtor,
  DataViewCtor,
  DataViewPrototypeGetBuffer,
  DataViewPrototypeGetByteLength,
  DataViewPrototypeGetByteOffset,
  DateCtor,
  DatePrototypeGetTime,
  DatePrototypeToISOString,
  ErrorCtor,
  EvalErrorCtor,
  FunctionPrototypeToString,
  GeneratorFunctionPrototype,
  isArrayBuffer,
  isBoxedPrimitive,
  isDataView,
  isDate,
  isError,
  isMap,
  isPromise,
  isRegExpObject,
  isSet,
  isTypedArray,
  isWeakMap,
  isWeakRef,
  isWeakSet,
  JSONParse,
  JSONStringify,
  MapIteratorPrototypeNext,
  MapPrototypeEntries,
  MapPrototypeGet,
  MapPrototypeGetSize,
  MapPrototypeSet,
  MathFloor,
  MathMin,
  NumberIsNaN,
  NumberIsSafeInteger,
  NumberNaN,
  NumberNEGATIVE_INFINITY,
  NumberPOSITIVE_INFINITY,
  ObjectCreate,
  ObjectCtor,
  ObjectDefineProperty,
  ObjectFreeze,
  ObjectGetOwnPropertyDescriptor,
  ObjectGetOwnPropertyNames,
  ObjectGetPrototypeOf,
  ObjectIsFrozen,
  ObjectKeys,
  ObjectPrototype,
  ObjectPrototypeHasOwnProperty,
  ObjectPrototypeLookupGetter,
  ObjectPrototypeLookupSetter,
  ObjectPrototypePropertyIsEnumerable,
  ObjectSetPrototypeOf,
  RangeErrorCtor,
  ReferenceErrorCtor,
  RegExpCtor,
  RegExpFlagGetters,
  RegExpPrototypeExec,
  regExpSourceGetter,
  SafeMap,
  SafeSet,
  SetIteratorPrototypeNext,
  SetPrototypeAdd,
  SetPrototypeGetSize,
  SetPrototypeValues,
  StringPrototypeCharCodeAt,
  StringPrototypeSlice,
  StringPrototypeStartsWith,
  SymbolPrototypeGetDescription,
  SyntaxErrorCtor,
  TypedArrayCtors,
  TypedArrayPrototypeGetBuffer,
  TypedArrayPrototypeGetByteLength,
  TypedArrayPrototypeGetByteOffset,
  TypedArrayPrototypeGetLength,
  TypedArrayPrototypeGetSymbolToStringTag,
  TypeErrorCtor,
  Uint8ArrayCtor,
  URIErrorCtor,
  unboxPrimitive,
} from '../primordials.js';

export function createValueCodec() {
  return createValueCodecWith(undefined);
}

// `beforeBytes(kind)`, optional: called before a decoded typed array,
// ArrayBuffer or DataView of `kind` is returned (a session realm makes that
// kind's `constructor` lead to its counting wrapper, allocation-limits.js).
export function createValueCodecWith(beforeBytes) {
  const base64 = createBase64();

  const DEFAULT_LIMITS = ObjectFreeze({
    maxDepth: 20,
    maxArrayLength: 10000,
    maxStringLength: 1000000,
    maxBytes: 4000000,
  });

  const SIZE_MARKER = '{"$type":"truncated","reason":"size"}';
  const READ_ERROR_MARKER = '{"$type":"truncated","reason":"error"}';

  const ERROR_CTORS = ObjectFreeze({
    __proto__: null,
    Error: ErrorCtor,
    TypeError: TypeErrorCtor,
    RangeError: RangeErrorCtor,
    SyntaxError: SyntaxErrorCtor,
    ReferenceError: ReferenceErrorCtor,
    EvalError: EvalErrorCtor,
    URIError: URIErrorCtor,
  });

  // Tags that decode to a frozen plain object carrying the tag.
  const OPAQUE_TAGS = ObjectFreeze({
    __proto__: null,
    function: true,
    symbol: true,
    promise: true,
    weakmap: true,
    weakset: true,
    weakref: true,
    accessor: true,
    circular: true,
    truncated: true,
  });

  function fail(message) {
    throw new TypeErrorCtor(`value-codec: ${message}`);
  }

  function isAccessor(desc) {
    return ObjectPrototypeHasOwnProperty(desc, 'get');
  }

  function ownData(obj, key) {
    const desc = ObjectGetOwnPropertyDescriptor(obj, key);
    return desc === undefined || isAccessor(desc) ? undefined : desc.value;
  }

  function functionName(fn) {
    const name = ownData(fn, 'name');
    return typeof name === 'string' ? name : '';
  }

  function isIdentifier(key) {
    if (key.length === 0) return false;
    for (let i = 0; i < key.length; i++) {
      const c = StringPrototypeCharCodeAt(key, i);
      const alpha = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 36;
      if (!alpha && (i === 0 || c < 48 || c > 57)) return false;
    }
    return true;
  }

  function readLimit(limits, key) {
    const fallback = DEFAULT_LIMITS[key];
    if (limits === undefined || limits === null) return fallback;
    if (typeof limits !== 'object') fail('limits must be an object');
    const value = ownData(limits, key);
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || NumberIsNaN(value) || value < 0) fail(`limit ${key} must be a number >= 0`);
    return value;
  }

  // ---------------------------------------------------------------------------
  // Encoding. The encoders build a mirror of the value made only of JSON-native
  // data (tags are small objects), which is serialized by one JSON.stringify at
  // the end. The UTF-8 size of the output is counted while building, so the
  // maxBytes cut happens at the right place without serializing twice.

  // Returned by an encoder when the value does not fit in what is left of maxBytes.
  const NO_FIT = ObjectFreeze({ __proto__: null });

  function newState(limits) {
    return {
      maxDepth: readLimit(limits, 'maxDepth'),
      maxArrayLength: readLimit(limits, 'maxArrayLength'),
      maxStringLength: readLimit(limits, 'maxStringLength'),
      maxBytes: readLimit(limits, 'maxBytes'),
      used: 0,
      exhausted: false,
      // Plain `{}`/`[]` mirrors are only safe while user code has put no setters or
      // `toJSON` on their prototypes; checked on the first mirror (a primitive needs none).
      plainMirrors: undefined,
      keyBytes: undefined,
      // Containers open on the current path (index = depth) and the step from each to its child.
      stack: [],
      stepKind: [],
      stepKey: [],
    };
  }

  function prototypesArePristine() {
    if (ObjectGetOwnPropertyDescriptor(ArrayPrototype, 'toJSON') !== undefined) return false;
    const names = ObjectGetOwnPropertyNames(ObjectPrototype);
    for (let i = 0; i < names.length; i++) {
      if (names[i] === 'toJSON') return false;
      if (names[i] !== '__proto__' && isAccessor(ObjectGetOwnPropertyDescriptor(ObjectPrototype, names[i]))) {
        return false;
      }
    }
    return true;
  }

  function plainMirrors(st) {
    st.plainMirrors ??= prototypesArePristine();
    return st.plainMirrors;
  }

  function newObject(st) {
    return plainMirrors(st) ? {} : ObjectCreate(null);
  }

  function newArray(st) {
    const arr = [];
    if (!plainMirrors(st)) ObjectSetPrototypeOf(arr, null);
    return arr;
  }

  function setKey(obj, key, value) {
    if (key === '__proto__') {
      ObjectDefineProperty(obj, key, { __proto__: null, value, writable: true, enumerable: true, configurable: true });
    } else {
      obj[key] = value;
    }
  }

  function tag(st, type) {
    const t = newObject(st);
    t.$type = type;
    return t;
  }

  function sizeMarker(st, remaining) {
    const t = tag(st, 'truncated');
    t.reason = 'size';
    if (remaining !== undefined) t.remaining = remaining;
    return t;
  }

  /** Counts `bytes` of output; false (and the encoder stops) when they do not fit. */
  function charge(st, bytes) {
    if (st.exhausted) return false;
    if (st.used + bytes > st.maxBytes) {
      st.exhausted = true;
      return false;
    }
    st.used += bytes;
    return true;
  }

  /** UTF-8 size of JSON.stringify(s), quotes included, without building it. */
  function jsonStringBytes(s) {
    const length = s.length;
    let bytes = length + 2;
    let i = 0;
    if (length > 64) {
      const first = RegExpPrototypeExec(jsonSpecialRegExp, s);
      if (first === null) return bytes;
      i = first.index;
    }
    for (; i < length; i++) {
      const c = StringPrototypeCharCodeAt(s, i);
      if (c < 0x20) {
        bytes += c === 8 || c === 9 || c === 10 || c === 12 || c === 13 ? 1 : 5;
      } else if (c === 0x22 || c === 0x5c) {
        bytes += 1;
      } else if (c >= 0x80) {
        if (c < 0x800) {
          bytes += 1;
        } else if (c >= 0xd800 && c <= 0xdfff) {
          const next = c <= 0xdbff && i + 1 < length ? StringPrototypeCharCodeAt(s, i + 1) : 0;
          if (next >= 0xdc00 && next <= 0xdfff) {
            bytes += 2; // a pair: 4 bytes for 2 code units
            i++;
          } else {
            bytes += 5; // lone surrogate: \udxxx
          }
        } else {
          bytes += 2;
        }
      }
    }
    return bytes;
  }
  const jsonSpecialRegExp = /[^\x20\x21\x23-\x5b\x5d-\x7e]/;

  function numberBytes(n) {
    if (NumberIsSafeInteger(n)) {
      let digits = n < 0 ? 2 : 1;
      let a = n < 0 ? -n : n;
      while (a >= 10) {
        a = MathFloor(a / 10);
        digits++;
      }
      return digits;
    }
    return `${n}`.length;
  }

  function keyBytes(st, key) {
    // `"key":`, cached per encode call (rows repeat their keys).
    if (st.keyBytes === undefined) st.keyBytes = new SafeMap();
    let bytes = MapPrototypeGet(st.keyBytes, key);
    if (bytes === undefined) {
      bytes = jsonStringBytes(key) + 1;
      MapPrototypeSet(st.keyBytes, key, bytes);
    }
    return bytes;
  }

  const STEP_KEY = 0;
  const STEP_INDEX = 1;
  const STEP_MAP_KEY = 2;
  const STEP_MAP_VALUE = 3;

  function pathTo(st, depth) {
    let path = '$';
    for (let d = 0; d < depth; d++) {
      const key = st.stepKey[d];
      switch (st.stepKind[d]) {
        case STEP_KEY:
          path += isIdentifier(key) ? `.${key}` : `[${JSONStringify(key)}]`;
          break;
        case STEP_INDEX:
          path += `[${key}]`;
          break;
        case STEP_MAP_KEY:
          path += `[${key}][0]`;
          break;
        default:
          path += `[${key}][1]`;
      }
    }
    return path;
  }

  function truncatedString(st, s, max) {
    let end = max;
    const last = StringPrototypeCharCodeAt(s, end - 1);
    if (last >= 0xd800 && last <= 0xdbff) end--; // do not split a surrogate pair
    const prefix = StringPrototypeSlice(s, 0, end);
    const t = tag(st, 'truncated');
    t.reason = 'length';
    t.value = prefix;
    t.length = s.length;
    return { mirror: t, bytes: jsonStringBytes(prefix) + numberBytes(s.length) + 58 };
  }

  function encString(st, s) {
    if (s.length > st.maxStringLength) {
      const truncated = truncatedString(st, s, st.maxStringLength);
      return charge(st, truncated.bytes) ? truncated.mirror : NO_FIT;
    }
    return charge(st, jsonStringBytes(s)) ? s : NO_FIT;
  }

  function numberTag(st, text) {
    if (!charge(st, 29 + text.length)) return NO_FIT;
    const t = tag(st, 'number');
    t.value = text;
    return t;
  }

  function encNumber(st, n) {
    if (NumberIsNaN(n)) return numberTag(st, 'NaN');
    if (n === NumberPOSITIVE_INFINITY) return numberTag(st, 'Infinity');
    if (n === NumberNEGATIVE_INFINITY) return numberTag(st, '-Infinity');
    if (n === 0 && 1 / n < 0) return numberTag(st, '-0');
    return charge(st, numberBytes(n)) ? n : NO_FIT;
  }

  function encBigInt(st, n) {
    const text = `${n}`;
    if (!charge(st, 29 + text.length)) return NO_FIT;
    const t = tag(st, 'bigint');
    t.value = text;
    return t;
  }

  function encSymbol(st, sym) {
    const description = SymbolPrototypeGetDescription(sym);
    if (!charge(st, 33 + (description === undefined ? 4 : jsonStringBytes(description)))) return NO_FIT;
    const t = tag(st, 'symbol');
    t.description = description === undefined ? null : description;
    return t;
  }

  function isIdentifierChar(c) {
    return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 95 || c === 36;
  }

  function isClassSource(fn) {
    let source;
    try {
      source = FunctionPrototypeToString(fn);
    } catch {
      return false;
    }
    return StringPrototypeStartsWith(source, 'class') && !isIdentifierChar(StringPrototypeCharCodeAt(source, 5));
  }

  function encFunction(st, fn) {
    let kind = 'function';
    const proto = ObjectGetPrototypeOf(fn);
    if (proto === AsyncFunctionPrototype) kind = 'async';
    else if (proto === GeneratorFunctionPrototype) kind = 'generator';
    else if (proto === AsyncGeneratorFunctionPrototype) kind = 'asyncgenerator';
    else if (isClassSource(fn)) kind = 'class';
    const name = functionName(fn);
    if (!charge(st, 38 + jsonStringBytes(name) + kind.length)) return NO_FIT;
    const t = tag(st, 'function');
    t.name = name;
    t.kind = kind;
    return t;
  }

  function simpleTag(st, type) {
    return charge(st, 12 + type.length) ? tag(st, type) : NO_FIT;
  }

  function encValue(st, v, depth) {
    switch (typeof v) {
      case 'string':
        return encString(st, v);
      case 'number':
        return encNumber(st, v);
      case 'boolean':
        return charge(st, v ? 4 : 5) ? v : NO_FIT;
      case 'undefined':
        return simpleTag(st, 'undefined');
      case 'bigint':
        return encBigInt(st, v);
      case 'symbol':
        return encSymbol(st, v);
      default:
        if (v === null) return charge(st, 4) ? null : NO_FIT;
        return encGuarded(st, v, depth);
    }
  }

  /** Objects and functions: a Proxy trap that throws (or a stack overflow) makes the value unreadable. */
  function encGuarded(st, v, depth) {
    const used = st.used;
    const exhausted = st.exhausted;
    try {
      return typeof v === 'function' ? encFunction(st, v) : encObject(st, v, depth);
    } catch {
      st.used = used;
      st.exhausted = exhausted;
      if (!charge(st, 38)) return NO_FIT;
      const t = tag(st, 'truncated');
      t.reason = 'error';
      return t;
    }
  }

  function encAccessor(st, hasGetter, hasSetter) {
    if (!charge(st, 42 + (hasGetter ? 0 : 1) + (hasSetter ? 0 : 1))) return NO_FIT;
    const t = tag(st, 'accessor');
    t.get = hasGetter;
    t.set = hasSetter;
    return t;
  }

  /** Encodes the value of an own property described by `desc`. */
  function encDescribed(st, desc, depth) {
    if (!isAccessor(desc)) return encValue(st, desc.value, depth);
    return encAccessor(st, desc.get !== undefined, desc.set !== undefined);
  }

  function depthMarker(st, kind, className) {
    if (!charge(st, 48 + kind.length + (className ? jsonStringBytes(className) + 9 : 0))) return NO_FIT;
    const t = tag(st, 'truncated');
    t.reason = 'depth';
    t.kind = kind;
    if (className) t.class = className;
    return t;
  }

  function encObject(st, v, depth) {
    for (let d = 0; d < depth; d++) {
      if (st.stack[d] === v) {
        const ref = pathTo(st, d);
        if (!charge(st, 27 + jsonStringBytes(ref))) return NO_FIT;
        const t = tag(st, 'circular');
        t.ref = ref;
        return t;
      }
    }
    if (ArrayIsArray(v)) {
      if (depth > st.maxDepth) return depthMarker(st, 'Array');
      return encArray(st, v, depth);
    }
    const proto = ObjectGetPrototypeOf(v);
    if (proto === ObjectPrototype || proto === null || isForeignObjectPrototype(proto)) return encPlain(st, v, depth);
    if (isTypedArray(v)) {
      return encBytes(
        st,
        TypedArrayPrototypeGetSymbolToStringTag(v),
        TypedArrayPrototypeGetBuffer(v),
        TypedArrayPrototypeGetByteOffset(v),
        TypedArrayPrototypeGetByteLength(v),
      );
    }
    if (isDate(v)) {
      const time = DatePrototypeGetTime(v);
      const iso = NumberIsNaN(time) ? null : DatePrototypeToISOString(v);
      if (!charge(st, 25 + (iso === null ? 4 : iso.length + 2))) return NO_FIT;
      const t = tag(st, 'date');
      t.value = iso;
      return t;
    }
    if (isRegExpObject(v)) {
      let flags = '';
      for (let i = 0; i < RegExpFlagGetters.length; i++) {
        if (RegExpFlagGetters[i][1](v)) flags += RegExpFlagGetters[i][0];
      }
      const source = regExpSourceGetter(v);
      if (!charge(st, 39 + jsonStringBytes(source) + flags.length)) return NO_FIT;
      const t = tag(st, 'regexp');
      t.source = source;
      t.flags = flags;
      return t;
    }
    if (isArrayBuffer(v)) return encBytes(st, 'ArrayBuffer', v, 0, ArrayBufferPrototypeGetByteLength(v));
    if (isDataView(v)) {
      return encBytes(
        st,
        'DataView',
        DataViewPrototypeGetBuffer(v),
        DataViewPrototypeGetByteOffset(v),
        DataViewPrototypeGetByteLength(v),
      );
    }
    if (isMap(v)) return encCollection(st, v, depth, true);
    if (isSet(v)) return encCollection(st, v, depth, false);
    if (isWeakMap(v)) return simpleTag(st, 'weakmap');
    if (isWeakSet(v)) return simpleTag(st, 'weakset');
    if (isWeakRef(v)) return simpleTag(st, 'weakref');
    if (isPromise(v)) return simpleTag(st, 'promise');
    if (isBoxedPrimitive(v)) {
      if (!charge(st, 26)) return NO_FIT;
      const inner = encValue(st, unboxPrimitive(v), depth);
      if (inner === NO_FIT) return NO_FIT;
      const t = tag(st, 'boxed');
      t.value = inner;
      return t;
    }
    if (isError(v)) return encError(st, v, depth);
    return encInstance(st, v, proto, depth);
  }

  /** The Object.prototype of another realm: a plain object from there is still a plain object. */
  function isForeignObjectPrototype(proto) {
    if (ObjectGetPrototypeOf(proto) !== null) return false;
    const ctor = ownData(proto, 'constructor');
    return typeof ctor === 'function' && functionName(ctor) === 'Object' && ownData(ctor, 'prototype') === proto;
  }

  function encBytes(st, kind, buffer, offset, length) {
    // Check the size before doing the work: base64 is 4 bytes per 3.
    if (!charge(st, 4 * MathFloor((length + 2) / 3) + kind.length + 38)) return NO_FIT;
    let bytes;
    try {
      bytes = new Uint8ArrayCtor(buffer, offset, length);
    } catch {
      bytes = new Uint8ArrayCtor(0); // detached
    }
    const t = tag(st, 'bytes');
    t.kind = kind;
    t.value = base64.encode(bytes);
    return t;
  }

  function encArray(st, arr, depth) {
    if (!charge(st, 2)) return NO_FIT;
    const out = newArray(st);
    st.stack[depth] = arr;
    st.stepKind[depth] = STEP_INDEX;
    const length = arr.length;
    const n = MathMin(length, st.maxArrayLength);
    let i = 0;
    for (; i < n; i++) {
      if (st.exhausted || (i > 0 && !charge(st, 1))) break;
      st.stepKey[depth] = i;
      const desc = ObjectGetOwnPropertyDescriptor(arr, i);
      const item = desc === undefined ? simpleTag(st, 'undefined') : encDescribed(st, desc, depth + 1);
      if (item === NO_FIT) break;
      out[i] = item;
    }
    if (i < n) {
      // Cut by maxBytes: one marker for everything not written.
      out[i] = sizeMarker(st, length - i);
    } else if (length > n) {
      const t = tag(st, 'truncated');
      t.reason = 'length';
      t.remaining = length - n;
      out[n] = t;
    }
    return out;
  }

  /** Mirror of the own enumerable string-keyed properties of `obj`, minus `skip` keys. */
  function encProperties(st, obj, depth, skip) {
    if (!charge(st, 2)) return NO_FIT;
    const out = newObject(st);
    st.stack[depth] = obj;
    st.stepKind[depth] = STEP_KEY;
    const keys = ObjectKeys(obj);
    let comma = 0;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      if (skip !== undefined && skip[key] === true) continue;
      if (st.exhausted) break; // cut inside an earlier value: its marker ends the output
      let item = NO_FIT;
      const fits = charge(st, keyBytes(st, key) + comma);
      comma = 1;
      if (fits) {
        st.stepKey[depth] = key;
        // An own enumerable key: either an accessor (never called) or a data property, read directly.
        const getter = ObjectPrototypeLookupGetter(obj, key);
        const setter = ObjectPrototypeLookupSetter(obj, key);
        item =
          getter === undefined && setter === undefined
            ? encValue(st, obj[key], depth + 1)
            : encAccessor(st, getter !== undefined, setter !== undefined);
      }
      if (item === NO_FIT) {
        setKey(out, key, sizeMarker(st, undefined));
        break;
      }
      setKey(out, key, item);
    }
    return out;
  }

  function encPlain(st, obj, depth) {
    if (depth > st.maxDepth) return depthMarker(st, 'Object');
    return encPlainBody(st, obj, depth, undefined);
  }

  /** Properties of `obj`, escaped as {"$type":"object","value":...} when it has a `$type` key. */
  function encPlainBody(st, obj, depth, skip) {
    const needsEscape =
      ObjectPrototypeHasOwnProperty(obj, '$type') && ObjectPrototypePropertyIsEnumerable(obj, '$type');
    if (!needsEscape) return encProperties(st, obj, depth, skip);
    if (!charge(st, 27)) return NO_FIT;
    const body = encProperties(st, obj, depth, skip);
    if (body === NO_FIT) return NO_FIT;
    const t = tag(st, 'object');
    t.value = body;
    return t;
  }

  function encInstance(st, obj, proto, depth) {
    let className = '';
    const ctor = ownData(proto, 'constructor');
    if (typeof ctor === 'function') className = functionName(ctor);
    if (depth > st.maxDepth) return depthMarker(st, 'Object', className);
    if (!charge(st, 27 + (className ? jsonStringBytes(className) + 9 : 0))) return NO_FIT;
    const body = encProperties(st, obj, depth, undefined);
    if (body === NO_FIT) return NO_FIT;
    const t = tag(st, 'object');
    if (className) t.class = className;
    t.value = body;
    return t;
  }

  function encCollection(st, collection, depth, isMapKind) {
    if (depth > st.maxDepth) return depthMarker(st, isMapKind ? 'Map' : 'Set');
    if (!charge(st, isMapKind ? 28 : 27)) return NO_FIT;
    const size = isMapKind ? MapPrototypeGetSize(collection) : SetPrototypeGetSize(collection);
    const n = MathMin(size, st.maxArrayLength);
    const iterator = isMapKind ? MapPrototypeEntries(collection) : SetPrototypeValues(collection);
    const out = newArray(st);
    st.stack[depth] = collection;
    let i = 0;
    let ended = false;
    for (; i < n; i++) {
      if (st.exhausted || (i > 0 && !charge(st, 1))) break;
      const step = isMapKind ? MapIteratorPrototypeNext(iterator) : SetIteratorPrototypeNext(iterator);
      if (step.done) {
        ended = true; // shrank while encoding (a Proxy trap)
        break;
      }
      st.stepKey[depth] = i;
      let item;
      if (isMapKind) {
        const entry = step.value;
        if (!charge(st, 3)) break;
        st.stepKind[depth] = STEP_MAP_KEY;
        const key = encValue(st, entry[0], depth + 1);
        if (key === NO_FIT) break;
        st.stepKind[depth] = STEP_MAP_VALUE;
        const value = encValue(st, entry[1], depth + 1);
        item = newArray(st);
        item[0] = key;
        item[1] = value === NO_FIT ? sizeMarker(st, undefined) : value;
      } else {
        st.stepKind[depth] = STEP_INDEX;
        item = encValue(st, step.value, depth + 1);
        if (item === NO_FIT) break;
      }
      out[i] = item;
    }
    if (ended) {
      // nothing more to write
    } else if (i < n) {
      out[i] = sizeMarker(st, size - i);
    } else if (size > n) {
      const t = tag(st, 'truncated');
      t.reason = 'length';
      t.remaining = size - n;
      out[n] = t;
    }
    const t = tag(st, isMapKind ? 'map' : 'set');
    if (isMapKind) t.entries = out;
    else t.values = out;
    return t;
  }

  const ERROR_OWN_FIELDS = ObjectFreeze({
    __proto__: null,
    name: true,
    message: true,
    stack: true,
    cause: true,
    errors: true,
  });

  const ERROR_FIELDS_BUT_ERRORS = ObjectFreeze({
    __proto__: null,
    name: true,
    message: true,
    stack: true,
    cause: true,
  });

  function lookupData(obj, key) {
    let o = obj;
    for (let i = 0; i < 10000 && o !== null; i++) {
      const desc = ObjectGetOwnPropertyDescriptor(o, key);
      if (desc !== undefined) return isAccessor(desc) ? undefined : desc.value;
      o = ObjectGetPrototypeOf(o);
    }
    return undefined;
  }

  /** Sets a string field of an error (name, message, stack), length-limited like any string; returns its size. */
  function errorStringField(st, t, key, s) {
    if (s.length > st.maxStringLength) {
      const truncated = truncatedString(st, s, st.maxStringLength);
      t[key] = truncated.mirror;
      return truncated.bytes + key.length + 4;
    }
    t[key] = s;
    return jsonStringBytes(s) + key.length + 4;
  }

  function encError(st, err, depth) {
    if (depth > st.maxDepth) return depthMarker(st, 'Error');
    const nameValue = lookupData(err, 'name');
    const messageValue = lookupData(err, 'message');
    const stackValue = ownData(err, 'stack');
    const t = tag(st, 'error');
    let bytes = 17;
    bytes += errorStringField(st, t, 'name', typeof nameValue === 'string' ? nameValue : 'Error');
    bytes += errorStringField(st, t, 'message', typeof messageValue === 'string' ? messageValue : '');
    if (typeof stackValue === 'string') bytes += errorStringField(st, t, 'stack', stackValue);
    if (!charge(st, bytes)) return NO_FIT;
    st.stack[depth] = err;
    st.stepKind[depth] = STEP_KEY;

    const causeDesc = ObjectGetOwnPropertyDescriptor(err, 'cause');
    const errors = ownData(err, 'errors');
    const hasErrors = ArrayIsArray(errors);
    const skip = hasErrors ? ERROR_OWN_FIELDS : ERROR_FIELDS_BUT_ERRORS;
    const keys = ObjectKeys(err);
    let hasProps = false;
    for (let i = 0; i < keys.length && !hasProps; i++) hasProps = skip[keys[i]] !== true;

    // Optional fields in order; a field that no longer fits carries the size marker and ends the error.
    if (causeDesc !== undefined) {
      if (st.exhausted) return t;
      st.stepKey[depth] = 'cause';
      const cause = charge(st, 9) ? encDescribed(st, causeDesc, depth + 1) : NO_FIT;
      t.cause = cause === NO_FIT ? sizeMarker(st, undefined) : cause;
      if (cause === NO_FIT) return t;
    }
    if (hasErrors) {
      if (st.exhausted) return t;
      st.stepKind[depth] = STEP_KEY;
      st.stepKey[depth] = 'errors';
      let list = NO_FIT;
      if (charge(st, 10)) list = depth + 1 > st.maxDepth ? depthMarker(st, 'Array') : encArray(st, errors, depth + 1);
      t.errors = list === NO_FIT ? sizeMarker(st, undefined) : list;
      if (list === NO_FIT) return t;
    }
    if (hasProps) {
      if (st.exhausted) return t;
      const props = charge(st, 9) ? encPlainBody(st, err, depth, skip) : NO_FIT;
      t.props = props === NO_FIT ? sizeMarker(st, undefined) : props;
    }
    return t;
  }

  /** JSON text of `value` (see docs/protocol.md). Never runs user code except Proxy traps. */
  function encode(value, limits) {
    const st = newState(limits);
    const mirror = encValue(st, value, 0);
    if (mirror === NO_FIT) return SIZE_MARKER;
    try {
      return JSONStringify(mirror);
    } catch {
      return READ_ERROR_MARKER; // only a stack overflow on absurdly deep data (maxDepth raised far)
    }
  }

  // ---------------------------------------------------------------------------
  // Decoding: JSON.parse once, then rebuild tagged values in place.

  function decode(text) {
    if (typeof text !== 'string') fail('decode expects a string');
    let parsed;
    try {
      parsed = JSONParse(text);
    } catch (err) {
      const message = isError(err) ? ownData(err, 'message') : undefined;
      fail(`invalid JSON${typeof message === 'string' ? ` (${message})` : ''}`);
    }
    return decValue(parsed);
  }

  function decValue(v) {
    if (typeof v !== 'object' || v === null) return v;
    if (ArrayIsArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const item = v[i];
        if (typeof item === 'object' && item !== null) {
          const decoded = decValue(item);
          if (decoded !== item) v[i] = decoded;
        }
      }
      return v;
    }
    if (ObjectPrototypeHasOwnProperty(v, '$type')) return decTagged(v);
    return decPlainInPlace(v);
  }

  function decPlainInPlace(obj) {
    const keys = ObjectKeys(obj);
    for (let i = 0; i < keys.length; i++) {
      const item = obj[keys[i]];
      if (typeof item === 'object' && item !== null) {
        const decoded = decValue(item);
        if (decoded !== item) obj[keys[i]] = decoded;
      }
    }
    return obj;
  }

  function field(tag, key) {
    return ObjectPrototypeHasOwnProperty(tag, key) ? tag[key] : undefined;
  }

  function stringField(tag, key, type) {
    const value = field(tag, key);
    if (typeof value !== 'string') fail(`"${type}" needs a string "${key}"`);
    return value;
  }

  /** Error name/message/stack: a string, or a truncated marker (its prefix is used). */
  function errorText(tag, key) {
    const value = field(tag, key);
    if (typeof value === 'string') return value;
    if (value === undefined) return undefined;
    if (typeof value === 'object' && value !== null && field(value, '$type') === 'truncated') {
      const prefix = field(value, 'value');
      return typeof prefix === 'string' ? prefix : '';
    }
    fail(`"error" field "${key}" must be a string`);
  }

  function isTruncatedMarker(v) {
    return typeof v === 'object' && v !== null && ObjectPrototypeHasOwnProperty(v, '$type') && v.$type === 'truncated';
  }

  function isPlainJsonObject(v) {
    return typeof v === 'object' && v !== null && !ArrayIsArray(v);
  }

  function decBytes(tag) {
    const kind = stringField(tag, 'kind', 'bytes');
    if (beforeBytes !== undefined) beforeBytes(kind);
    const bytes = base64.decode(stringField(tag, 'value', 'bytes'));
    if (kind === 'Uint8Array') return bytes;
    const buffer = TypedArrayPrototypeGetBuffer(bytes);
    if (kind === 'ArrayBuffer') return buffer;
    if (kind === 'DataView') return new DataViewCtor(buffer);
    const Ctor = TypedArrayCtors[kind];
    if (Ctor === undefined) fail(`unknown bytes kind "${kind}"`);
    try {
      return new Ctor(buffer);
    } catch {
      fail(`${TypedArrayPrototypeGetLength(bytes)} bytes do not make a ${kind}`);
    }
  }

  function decNumber(tag) {
    switch (field(tag, 'value')) {
      case 'NaN':
        return NumberNaN;
      case 'Infinity':
        return NumberPOSITIVE_INFINITY;
      case '-Infinity':
        return NumberNEGATIVE_INFINITY;
      case '-0':
        return -0;
      default:
        fail('"number" value must be "NaN", "Infinity", "-Infinity" or "-0"');
    }
  }

  function decBigInt(tag) {
    const text = stringField(tag, 'value', 'bigint');
    let digits = 0;
    for (let i = 0; i < text.length; i++) {
      const c = StringPrototypeCharCodeAt(text, i);
      if (c >= 48 && c <= 57) digits++;
      else if (!(i === 0 && c === 45)) digits = -1e9;
    }
    if (digits <= 0) fail(`invalid bigint ${JSONStringify(text)}`);
    return BigIntCtor(text);
  }

  function decDate(tag) {
    const value = field(tag, 'value');
    if (value === null) return new DateCtor(NumberNaN);
    if (typeof value !== 'string') fail('"date" value must be a string or null');
    return new DateCtor(value);
  }

  function decMap(tag) {
    const entries = field(tag, 'entries');
    if (!ArrayIsArray(entries)) fail('"map" needs an "entries" array');
    const map = new SafeMap();
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i];
      if (ArrayIsArray(entry) && entry.length === 2) {
        MapPrototypeSet(map, decValue(entry[0]), decValue(entry[1]));
      } else if (isPlainJsonObject(entry) && field(entry, '$type') === 'truncated') {
        MapPrototypeSet(map, decValue(entry), undefined);
      } else {
        fail('"map" entries must be [key, value] pairs');
      }
    }
    return map;
  }

  function decSet(tag) {
    const values = field(tag, 'values');
    if (!ArrayIsArray(values)) fail('"set" needs a "values" array');
    const set = new SafeSet();
    for (let i = 0; i < values.length; i++) SetPrototypeAdd(set, decValue(values[i]));
    return set;
  }

  function decRegExp(tag) {
    const source = stringField(tag, 'source', 'regexp');
    const flags = stringField(tag, 'flags', 'regexp');
    try {
      return new RegExpCtor(source, flags);
    } catch {
      fail(`invalid regexp /${source}/${flags}`);
    }
  }

  function decBoxed(tag) {
    const inner = decValue(field(tag, 'value'));
    const type = typeof inner;
    if (type === 'string' || type === 'number' || type === 'boolean' || type === 'bigint') return ObjectCtor(inner);
    if (type === 'object' && inner !== null && field(inner, '$type') === 'symbol') {
      tag.value = inner;
      return ObjectFreeze(tag);
    }
    fail('"boxed" value must be a string, number, boolean, bigint or symbol');
  }

  function decObject(tag) {
    const value = field(tag, 'value');
    if (!isPlainJsonObject(value)) fail('"object" needs an object "value"');
    return decPlainInPlace(value);
  }

  function defineHidden(obj, key, value) {
    ObjectDefineProperty(obj, key, { __proto__: null, value, writable: true, enumerable: false, configurable: true });
  }

  function decError(tag) {
    const nameValue = errorText(tag, 'name');
    const name = nameValue === undefined ? 'Error' : nameValue;
    const messageValue = errorText(tag, 'message');
    const message = messageValue === undefined ? '' : messageValue;
    let err;
    if (name === 'AggregateError' && AggregateErrorPrototype !== undefined) {
      err = new ErrorCtor(message === '' ? undefined : message);
      ObjectSetPrototypeOf(err, AggregateErrorPrototype);
    } else {
      const Ctor = ERROR_CTORS[name];
      err = new (Ctor === undefined ? ErrorCtor : Ctor)(message === '' ? undefined : message);
      if (Ctor === undefined) defineHidden(err, 'name', name);
    }
    const stack = errorText(tag, 'stack');
    if (stack !== undefined) defineHidden(err, 'stack', stack);
    else delete err.stack;
    if (ObjectPrototypeHasOwnProperty(tag, 'cause')) defineHidden(err, 'cause', decValue(tag.cause));
    if (ObjectPrototypeHasOwnProperty(tag, 'errors')) {
      const errors = decValue(tag.errors);
      if (!ArrayIsArray(errors) && !isTruncatedMarker(errors)) fail('"error" field "errors" must be an array');
      defineHidden(err, 'errors', errors);
    }
    if (ObjectPrototypeHasOwnProperty(tag, 'props')) {
      const props = isPlainJsonObject(tag.props) ? decValue(tag.props) : undefined;
      if (!isPlainJsonObject(props)) fail('"error" field "props" must be an object');
      // A size marker in place of the props: nothing to add.
      const keys = ObjectIsFrozen(props) ? [] : ObjectKeys(props);
      for (let i = 0; i < keys.length; i++) {
        ObjectDefineProperty(err, keys[i], {
          __proto__: null,
          value: props[keys[i]],
          writable: true,
          enumerable: true,
          configurable: true,
        });
      }
    }
    return err;
  }

  function decTagged(tag) {
    const type = tag.$type;
    switch (type) {
      case 'undefined':
        return undefined;
      case 'number':
        return decNumber(tag);
      case 'bigint':
        return decBigInt(tag);
      case 'date':
        return decDate(tag);
      case 'bytes':
        return decBytes(tag);
      case 'map':
        return decMap(tag);
      case 'set':
        return decSet(tag);
      case 'regexp':
        return decRegExp(tag);
      case 'boxed':
        return decBoxed(tag);
      case 'object':
        return decObject(tag);
      case 'error':
        return decError(tag);
      default:
        if (typeof type === 'string' && OPAQUE_TAGS[type] === true) return ObjectFreeze(tag);
        fail(`unknown $type ${typeof type === 'string' ? JSONStringify(type) : `of type ${typeof type}`}`);
    }
  }

  return { encode, decode, defaultLimits: DEFAULT_LIMITS };
}
