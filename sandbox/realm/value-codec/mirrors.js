// Realm-side source: part of the value codec (value-codec/index.js).
// Encoding state: the JSON-native mirror being built, the UTF-8 size counted as it
// grows (maxBytes), and the path to the value being encoded (for `circular` tags).

import {
  ArrayPrototype,
  isAccessor,
  JSONStringify,
  MapPrototypeGet,
  MapPrototypeSet,
  MathFloor,
  NumberIsSafeInteger,
  ObjectCreate,
  ObjectDefineProperty,
  ObjectFreeze,
  ObjectGetOwnPropertyDescriptor,
  ObjectGetOwnPropertyNames,
  ObjectPrototype,
  ObjectSetPrototypeOf,
  RegExpPrototypeExec,
  SafeMap,
  StringPrototypeCharCodeAt,
  StringPrototypeSlice,
} from '../primordials.js';
import { isIdentifier, readLimit } from './limits.js';

// Encoding. The encoders build a mirror of the value made only of JSON-native
// data (tags are small objects), which is serialized by one JSON.stringify at
// the end. The UTF-8 size of the output is counted while building, so the
// maxBytes cut happens at the right place without serializing twice.

// Returned by an encoder when the value does not fit in what is left of maxBytes.
export const NO_FIT = ObjectFreeze({ __proto__: null });

export function newState(limits) {
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

export function newObject(st) {
  return plainMirrors(st) ? {} : ObjectCreate(null);
}

export function newArray(st) {
  const arr = [];
  if (!plainMirrors(st)) ObjectSetPrototypeOf(arr, null);
  return arr;
}

export function setKey(obj, key, value) {
  if (key === '__proto__') {
    ObjectDefineProperty(obj, key, { __proto__: null, value, writable: true, enumerable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}

export function tag(st, type) {
  const t = newObject(st);
  t.$type = type;
  return t;
}

export function sizeMarker(st, remaining) {
  const t = tag(st, 'truncated');
  t.reason = 'size';
  if (remaining !== undefined) t.remaining = remaining;
  return t;
}

/** Counts `bytes` of output; false (and the encoder stops) when they do not fit. */
export function charge(st, bytes) {
  if (st.exhausted) return false;
  if (st.used + bytes > st.maxBytes) {
    st.exhausted = true;
    return false;
  }
  st.used += bytes;
  return true;
}

/** UTF-8 size of JSON.stringify(s), quotes included, without building it. */
export function jsonStringBytes(s) {
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

export function numberBytes(n) {
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

export function keyBytes(st, key) {
  // `"key":`, cached per encode call (rows repeat their keys).
  if (st.keyBytes === undefined) st.keyBytes = new SafeMap();
  let bytes = MapPrototypeGet(st.keyBytes, key);
  if (bytes === undefined) {
    bytes = jsonStringBytes(key) + 1;
    MapPrototypeSet(st.keyBytes, key, bytes);
  }
  return bytes;
}

export const STEP_KEY = 0;
export const STEP_INDEX = 1;
export const STEP_MAP_KEY = 2;
export const STEP_MAP_VALUE = 3;

export function pathTo(st, depth) {
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

export function truncatedString(st, s, max) {
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
