// Realm-side source. Web-platform globals a console user expects, built
// inside the realm so every object they return is a realm object. Where the
// host must help (randomness, WHATWG URL parsing) only strings cross.
// Each factory runs on first use of its global (see bootstrap.js).

import { createBase64 } from './base64.js';
import { isErrorLike, ownStack } from './error-policy.js';
import {
  ArrayBufferPrototypeSlice,
  ArrayIsArray,
  ArrayPrototypeJoin,
  ArrayPrototypePush,
  DataViewPrototypeGetBuffer,
  DataViewPrototypeGetByteLength,
  DataViewPrototypeGetByteOffset,
  DatePrototypeGetTime,
  FunctionPrototypeToString,
  isArrayBuffer,
  isBoxedPrimitive,
  isDataView,
  isDate,
  isMap,
  isPromise,
  isRegExp,
  isSet,
  isTypedArray,
  isWeakMap,
  isWeakSet,
  MapPrototypeGet,
  MapPrototypeHas,
  MapPrototypeSet,
  MathMin,
  mapEntries,
  NumberParseInt,
  NumberPrototypeToString,
  ObjectCtor,
  ObjectDefineProperty,
  ObjectKeys,
  ReflectApply,
  SafeMap,
  SafeSet,
  SetPrototypeAdd,
  StringFromCharCode,
  StringFromCodePoint,
  StringPrototypeCharCodeAt,
  StringPrototypeIncludes,
  StringPrototypeReplace,
  StringPrototypeSlice,
  StringPrototypeToLowerCase,
  StringPrototypeTrim,
  SymbolPrototypeToString,
  setValues,
  TypedArrayPrototypeGetBuffer,
  TypedArrayPrototypeGetByteLength,
  TypedArrayPrototypeGetByteOffset,
  TypedArrayPrototypeGetLength,
  TypedArrayPrototypeGetSymbolToStringTag,
  TypedArrayPrototypeSet,
  TypedArrayPrototypeSubarray,
  Uint8ArrayCtor,
  unboxPrimitive,
} from './primordials.js';

// `exposeBuffer` (allocation-limits.js): encode() hands out Uint8Arrays made
// with the intrinsic constructor.
export function createTextCodecs(exposeBuffer) {
  if (exposeBuffer !== undefined) exposeBuffer('Uint8Array');
  function utf8Encode(input) {
    const str = `${input}`;
    const out = [];
    for (let i = 0; i < str.length; i++) {
      let c = StringPrototypeCharCodeAt(str, i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < str.length) {
        const d = StringPrototypeCharCodeAt(str, i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
        } else c = 0xfffd;
      } else if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
      if (c < 0x80) ArrayPrototypePush(out, c);
      else if (c < 0x800) ArrayPrototypePush(out, 0xc0 | (c >> 6), 0x80 | (c & 63));
      else if (c < 0x10000) ArrayPrototypePush(out, 0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
      else ArrayPrototypePush(out, 0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    }
    return new Uint8ArrayCtor(out);
  }

  function toBytes(input) {
    if (input === undefined) return new Uint8ArrayCtor(0);
    if (isArrayBuffer(input)) return new Uint8ArrayCtor(input);
    if (isTypedArray(input)) {
      return new Uint8ArrayCtor(
        TypedArrayPrototypeGetBuffer(input),
        TypedArrayPrototypeGetByteOffset(input),
        TypedArrayPrototypeGetByteLength(input),
      );
    }
    if (isDataView(input)) {
      return new Uint8ArrayCtor(
        DataViewPrototypeGetBuffer(input),
        DataViewPrototypeGetByteOffset(input),
        DataViewPrototypeGetByteLength(input),
      );
    }
    throw new TypeError('The "input" argument must be an ArrayBuffer or ArrayBufferView');
  }

  function utf8Decode(bytes, fatal) {
    const parts = [];
    let chunk = [];
    const flush = () => {
      ArrayPrototypePush(parts, ReflectApply(StringFromCodePoint, undefined, chunk));
      chunk = [];
    };
    const bad = () => {
      if (fatal) throw new TypeError('The encoded data was not valid for encoding utf-8');
      ArrayPrototypePush(chunk, 0xfffd);
    };
    for (let i = 0; i < bytes.length; ) {
      const b = bytes[i];
      let need = 0;
      let cp = 0;
      let min = 0;
      if (b < 0x80) {
        ArrayPrototypePush(chunk, b);
        i++;
      } else {
        if (b >= 0xc2 && b <= 0xdf) {
          need = 1;
          cp = b & 0x1f;
          min = 0x80;
        } else if (b >= 0xe0 && b <= 0xef) {
          need = 2;
          cp = b & 0x0f;
          min = 0x800;
        } else if (b >= 0xf0 && b <= 0xf4) {
          need = 3;
          cp = b & 0x07;
          min = 0x10000;
        } else {
          bad();
          i++;
          continue;
        }
        let j = 1;
        for (; j <= need; j++) {
          const n = bytes[i + j];
          if (n === undefined || (n & 0xc0) !== 0x80) break;
          cp = (cp << 6) | (n & 0x3f);
        }
        if (j <= need || cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
          bad();
          i += j === 1 ? 1 : j;
          continue;
        }
        ArrayPrototypePush(chunk, cp);
        i += need + 1;
      }
      if (chunk.length >= 8192) flush();
    }
    flush();
    return ArrayPrototypeJoin(parts, '');
  }

  class TextEncoder {
    get encoding() {
      return 'utf-8';
    }
    encode(input = '') {
      return utf8Encode(input);
    }
    encodeInto(source, destination) {
      const bytes = utf8Encode(source);
      const n = MathMin(bytes.length, TypedArrayPrototypeGetLength(destination));
      // Never split a character: back off to a character boundary.
      let end = n;
      while (end > 0 && end < bytes.length && (bytes[end] & 0xc0) === 0x80) end--;
      TypedArrayPrototypeSet(destination, TypedArrayPrototypeSubarray(bytes, 0, end));
      const read = utf8Decode(TypedArrayPrototypeSubarray(bytes, 0, end), false).length;
      return { read, written: end };
    }
  }

  class TextDecoder {
    #fatal;
    #ignoreBOM;
    constructor(label = 'utf-8', options = {}) {
      const normalized = StringPrototypeToLowerCase(StringPrototypeTrim(`${label}`));
      if (normalized !== 'utf-8' && normalized !== 'utf8' && normalized !== 'unicode-1-1-utf-8') {
        throw new RangeError(`The "${label}" encoding is not supported (only utf-8 is)`);
      }
      this.#fatal = Boolean(options?.fatal);
      this.#ignoreBOM = Boolean(options?.ignoreBOM);
    }
    get encoding() {
      return 'utf-8';
    }
    get fatal() {
      return this.#fatal;
    }
    get ignoreBOM() {
      return this.#ignoreBOM;
    }
    decode(input) {
      let bytes = toBytes(input);
      if (!this.#ignoreBOM && bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
        bytes = TypedArrayPrototypeSubarray(bytes, 3);
      }
      return utf8Decode(bytes, this.#fatal);
    }
  }
  return { TextEncoder, TextDecoder };
}

export function createStructuredClone() {
  const cloneError = (message) => {
    const error = new Error(message);
    error.name = 'DataCloneError';
    return error;
  };
  const ERRORS = { Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError };

  return function structuredClone(value) {
    const seen = new SafeMap();
    const cloneProperties = (from, to) => {
      const keys = ObjectKeys(from);
      for (let i = 0; i < keys.length; i++) to[keys[i]] = clone(from[keys[i]]);
    };
    const clone = (v) => {
      if (v === null || (typeof v !== 'object' && typeof v !== 'function')) {
        if (typeof v === 'symbol') throw cloneError(`${SymbolPrototypeToString(v)} could not be cloned.`);
        return v;
      }
      if (typeof v === 'function') throw cloneError(`${describeFunction(v)} could not be cloned.`);
      if (MapPrototypeHas(seen, v)) return MapPrototypeGet(seen, v);
      let out;
      if (ArrayIsArray(v)) {
        out = [];
        MapPrototypeSet(seen, v, out);
        cloneProperties(v, out);
        return out;
      }
      if (isDate(v)) out = new Date(DatePrototypeGetTime(v));
      else if (isRegExp(v)) out = new RegExp(v.source, v.flags);
      else if (isMap(v)) {
        out = new SafeMap();
        MapPrototypeSet(seen, v, out);
        const entries = mapEntries(v);
        for (let i = 0; i < entries.length; i++) MapPrototypeSet(out, clone(entries[i][0]), clone(entries[i][1]));
        return out;
      } else if (isSet(v)) {
        out = new SafeSet();
        MapPrototypeSet(seen, v, out);
        const values = setValues(v);
        for (let i = 0; i < values.length; i++) SetPrototypeAdd(out, clone(values[i]));
        return out;
      } else if (isArrayBuffer(v)) out = ArrayBufferPrototypeSlice(v, 0);
      else if (isTypedArray(v)) {
        const Ctor = globalThis[TypedArrayPrototypeGetSymbolToStringTag(v)];
        const buffer = clone(TypedArrayPrototypeGetBuffer(v));
        out = new Ctor(buffer, TypedArrayPrototypeGetByteOffset(v), TypedArrayPrototypeGetLength(v));
      } else if (isDataView(v)) {
        out = new DataView(
          clone(DataViewPrototypeGetBuffer(v)),
          DataViewPrototypeGetByteOffset(v),
          DataViewPrototypeGetByteLength(v),
        );
      } else if (isErrorLike(v)) {
        const Ctor = ERRORS[v.name] ?? Error;
        out = new Ctor(v.message);
        const stack = ownStack(v);
        if (stack !== undefined)
          ObjectDefineProperty(out, 'stack', { value: stack, writable: true, configurable: true });
      } else if (isBoxedPrimitive(v)) out = ObjectCtor(unboxPrimitive(v));
      else if (isPromise(v) || isWeakMap(v) || isWeakSet(v)) {
        throw cloneError(`#<${isPromise(v) ? 'Promise' : isWeakMap(v) ? 'WeakMap' : 'WeakSet'}> could not be cloned.`);
      } else {
        out = {};
        MapPrototypeSet(seen, v, out);
        cloneProperties(v, out);
        return out;
      }
      MapPrototypeSet(seen, v, out);
      return out;
    };
    return clone(value);
  };
}

function describeFunction(fn) {
  try {
    return FunctionPrototypeToString(fn);
  } catch {
    return 'function';
  }
}

export function createLatin1Base64() {
  const b64 = createBase64();
  const invalidCharacter = (message) => {
    const error = new Error(message);
    error.name = 'InvalidCharacterError';
    return error;
  };
  return {
    btoa: function btoa(...args) {
      const data = args[0];
      if (args.length === 0) throw new TypeError('The "data" argument must be specified');
      const str = `${data}`;
      const bytes = new Uint8ArrayCtor(str.length);
      for (let i = 0; i < str.length; i++) {
        const c = StringPrototypeCharCodeAt(str, i);
        if (c > 0xff) throw invalidCharacter('Invalid character');
        bytes[i] = c;
      }
      return b64.encode(bytes);
    },
    atob: function atob(...args) {
      const data = args[0];
      if (args.length === 0) throw new TypeError('The "data" argument must be specified');
      let bytes;
      try {
        bytes = b64.decode(StringPrototypeReplace(`${data}`, /[\t\n\f\r ]/g, ''));
      } catch {
        throw invalidCharacter('The string to be decoded is not correctly encoded.');
      }
      const parts = [];
      for (let i = 0; i < bytes.length; i += 8192) {
        ArrayPrototypePush(
          parts,
          ReflectApply(StringFromCharCode, undefined, TypedArrayPrototypeSubarray(bytes, i, i + 8192)),
        );
      }
      return ArrayPrototypeJoin(parts, '');
    },
  };
}

export function createCrypto(bridge) {
  const MAX_BYTES = 65536;
  const hexBytes = (n) => {
    const hex = bridge.random(n);
    if (typeof hex !== 'string' || hex.length !== n * 2) throw new Error('random source unavailable');
    return hex;
  };
  const crypto = {
    getRandomValues(array) {
      if (!isTypedArray(array) || StringPrototypeIncludes(TypedArrayPrototypeGetSymbolToStringTag(array), 'Float')) {
        throw new TypeError('The "typedArray" argument must be an integer-type TypedArray');
      }
      const n = TypedArrayPrototypeGetByteLength(array);
      if (n > MAX_BYTES) {
        const error = new Error(
          `The ArrayBufferView's byte length (${n}) exceeds the number of bytes of entropy available via this API (${MAX_BYTES})`,
        );
        error.name = 'QuotaExceededError';
        throw error;
      }
      const hex = hexBytes(n);
      const view = new Uint8ArrayCtor(TypedArrayPrototypeGetBuffer(array), TypedArrayPrototypeGetByteOffset(array), n);
      for (let i = 0; i < n; i++) view[i] = NumberParseInt(StringPrototypeSlice(hex, i * 2, i * 2 + 2), 16);
      return array;
    },
    randomUUID() {
      const hex = hexBytes(16);
      const variant = NumberPrototypeToString((NumberParseInt(hex[16], 16) & 0x3) | 0x8, 16);
      return `${StringPrototypeSlice(hex, 0, 8)}-${StringPrototypeSlice(hex, 8, 12)}-4${StringPrototypeSlice(hex, 13, 16)}-${variant}${StringPrototypeSlice(hex, 17, 20)}-${StringPrototypeSlice(hex, 20, 32)}`;
    },
  };
  return crypto;
}
