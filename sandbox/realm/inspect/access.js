// Realm-side source: part of the inspector (inspect/index.js).
// Safe property access (descriptors only, never getters) and small array/string helpers.

import {
  ArrayPrototypePush,
  isAccessor,
  isObjectLike,
  ObjectGetOwnPropertyDescriptor,
  ObjectGetPrototypeOf,
  StringPrototypeCharCodeAt,
  StringPrototypeIndexOf,
  StringPrototypeSlice,
  SymbolPrototypeToString,
  SymbolToStringTag,
  TypedArrayPrototypeGetSymbolToStringTag,
  TypedArrayPrototypeSymbolToStringTagGetter,
} from '../primordials.js';
import { THREW } from './options.js';

/** Descriptor of `key` on `obj` or the first prototype that has it. */
export function lookupDescriptor(obj, key) {
  let o = obj;
  for (let i = 0; i < 10000 && o !== null; i++) {
    const desc = ObjectGetOwnPropertyDescriptor(o, key);
    if (desc !== undefined) return desc;
    o = ObjectGetPrototypeOf(o);
  }
  return undefined;
}

/** `obj[key]` for data properties (own or inherited); undefined for accessors. */
export function lookupValue(obj, key) {
  const desc = lookupDescriptor(obj, key);
  return desc === undefined || isAccessor(desc) ? undefined : desc.value;
}

export function ownDataValue(obj, key) {
  const desc = ObjectGetOwnPropertyDescriptor(obj, key);
  return desc === undefined || isAccessor(desc) ? undefined : desc.value;
}

/** ToString without surprises for primitives; objects run their own conversion (guarded by callers). */
export function toStr(v) {
  if (typeof v === 'string') return v;
  if (typeof v === 'symbol') return SymbolPrototypeToString(v);
  return `${v}`;
}

export function functionName(fn) {
  const name = lookupValue(fn, 'name');
  return typeof name === 'string' ? name : name === undefined ? '' : safeToStr(name);
}

export function safeToStr(v) {
  try {
    return toStr(v);
  } catch {
    return THREW;
  }
}

export function hasInstance(ctor, obj) {
  // OrdinaryHasInstance without Symbol.hasInstance or getters.
  const protoDesc = ObjectGetOwnPropertyDescriptor(ctor, 'prototype');
  if (protoDesc === undefined || isAccessor(protoDesc)) return false;
  const proto = protoDesc.value;
  if (!isObjectLike(proto)) return false;
  let o = obj;
  for (let i = 0; i < 10000; i++) {
    o = ObjectGetPrototypeOf(o);
    if (o === null) return false;
    if (o === proto) return true;
  }
  return false;
}

export function getTag(value) {
  // value[Symbol.toStringTag], data properties only (plus the typed array intrinsic getter).
  const desc = lookupDescriptor(value, SymbolToStringTag);
  if (desc === undefined) return undefined;
  if (!isAccessor(desc)) return desc.value;
  if (desc.get === TypedArrayPrototypeSymbolToStringTagGetter) return TypedArrayPrototypeGetSymbolToStringTag(value);
  return undefined;
}

// Small array helpers (no species lookups on user-patchable prototypes).
export function arrayUnshift(arr, ...items) {
  const n = items.length;
  for (let i = arr.length - 1; i >= 0; i--) arr[i + n] = arr[i];
  for (let i = 0; i < n; i++) arr[i] = items[i];
}
export function arrayRemoveAt(arr, index) {
  for (let i = index; i < arr.length - 1; i++) arr[i] = arr[i + 1];
  arr.length -= 1;
}
export function replaceAllStr(str, find, replacement) {
  let out = '';
  let last = 0;
  for (;;) {
    const pos = StringPrototypeIndexOf(str, find, last);
    if (pos === -1) break;
    out += StringPrototypeSlice(str, last, pos) + replacement;
    last = pos + find.length;
  }
  return last === 0 ? str : out + StringPrototypeSlice(str, last);
}
export function splitStr(str, sep) {
  const out = [];
  let last = 0;
  for (;;) {
    const pos = StringPrototypeIndexOf(str, sep, last);
    if (pos === -1) break;
    ArrayPrototypePush(out, StringPrototypeSlice(str, last, pos));
    last = pos + sep.length;
  }
  ArrayPrototypePush(out, StringPrototypeSlice(str, last));
  return out;
}

export function isIndexKey(key) {
  if (typeof key !== 'string' || key.length === 0 || key.length > 10) return false;
  const first = StringPrototypeCharCodeAt(key, 0);
  if (first === 48) return key.length === 1;
  for (let i = 0; i < key.length; i++) {
    const c = StringPrototypeCharCodeAt(key, i);
    if (c < 48 || c > 57) return false;
  }
  return +key < 4294967295;
}
