// Realm-side source: part of the value codec (value-codec/index.js).
// Encoding: primitives, functions, the per-value dispatch, plain objects and bytes.

import {
  ArrayBufferPrototypeGetByteLength,
  ArrayIsArray,
  AsyncFunctionPrototype,
  AsyncGeneratorFunctionPrototype,
  DataViewPrototypeGetBuffer,
  DataViewPrototypeGetByteLength,
  DataViewPrototypeGetByteOffset,
  DatePrototypeGetTime,
  DatePrototypeToISOString,
  FunctionPrototypeToString,
  GeneratorFunctionPrototype,
  isAccessor,
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
  MathFloor,
  NumberIsNaN,
  NumberNEGATIVE_INFINITY,
  NumberPOSITIVE_INFINITY,
  ObjectGetPrototypeOf,
  ObjectPrototype,
  RegExpFlagGetters,
  regExpSourceGetter,
  StringPrototypeCharCodeAt,
  StringPrototypeStartsWith,
  SymbolPrototypeGetDescription,
  TypedArrayPrototypeGetBuffer,
  TypedArrayPrototypeGetByteLength,
  TypedArrayPrototypeGetByteOffset,
  TypedArrayPrototypeGetSymbolToStringTag,
  Uint8ArrayCtor,
  unboxPrimitive,
} from '../primordials.js';
import { encArray, encCollection, encInstance, encPlain } from './encode-containers.js';
import { encError } from './encode-errors.js';
import { codecBase64, ownData, ownFunctionName } from './limits.js';
import { charge, jsonStringBytes, NO_FIT, numberBytes, pathTo, tag, truncatedString } from './mirrors.js';

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

function isClassFunction(fn) {
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
  else if (isClassFunction(fn)) kind = 'class';
  const name = ownFunctionName(fn);
  if (!charge(st, 38 + jsonStringBytes(name) + kind.length)) return NO_FIT;
  const t = tag(st, 'function');
  t.name = name;
  t.kind = kind;
  return t;
}

export function simpleTag(st, type) {
  return charge(st, 12 + type.length) ? tag(st, type) : NO_FIT;
}

export function encValue(st, v, depth) {
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

export function encAccessor(st, hasGetter, hasSetter) {
  if (!charge(st, 42 + (hasGetter ? 0 : 1) + (hasSetter ? 0 : 1))) return NO_FIT;
  const t = tag(st, 'accessor');
  t.get = hasGetter;
  t.set = hasSetter;
  return t;
}

/** Encodes the value of an own property described by `desc`. */
export function encDescribed(st, desc, depth) {
  if (!isAccessor(desc)) return encValue(st, desc.value, depth);
  return encAccessor(st, desc.get !== undefined, desc.set !== undefined);
}

export function depthMarker(st, kind, className) {
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
  return typeof ctor === 'function' && ownFunctionName(ctor) === 'Object' && ownData(ctor, 'prototype') === proto;
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
  t.value = codecBase64().encode(bytes);
  return t;
}
