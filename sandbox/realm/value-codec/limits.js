// Realm-side source: part of the value codec (value-codec/index.js).
// The default limits, the wire markers and tags, and the helpers encoding and decoding share.

import { createBase64 } from '../base64.js';
import {
  ErrorCtor,
  EvalErrorCtor,
  isAccessor,
  NumberIsNaN,
  ObjectFreeze,
  ObjectGetOwnPropertyDescriptor,
  RangeErrorCtor,
  ReferenceErrorCtor,
  StringPrototypeCharCodeAt,
  SyntaxErrorCtor,
  TypeErrorCtor,
  URIErrorCtor,
} from '../primordials.js';

export const DEFAULT_LIMITS = ObjectFreeze({
  maxDepth: 20,
  maxArrayLength: 10000,
  maxStringLength: 1000000,
  maxBytes: 4000000,
});

export const SIZE_MARKER = '{"$type":"truncated","reason":"size"}';
export const READ_ERROR_MARKER = '{"$type":"truncated","reason":"error"}';

export const ERROR_CTORS = ObjectFreeze({
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
export const OPAQUE_TAGS = ObjectFreeze({
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

export function fail(message) {
  throw new TypeErrorCtor(`value-codec: ${message}`);
}

export function ownData(obj, key) {
  const desc = ObjectGetOwnPropertyDescriptor(obj, key);
  return desc === undefined || isAccessor(desc) ? undefined : desc.value;
}

export function ownFunctionName(fn) {
  const name = ownData(fn, 'name');
  return typeof name === 'string' ? name : '';
}

export function isIdentifier(key) {
  if (key.length === 0) return false;
  for (let i = 0; i < key.length; i++) {
    const c = StringPrototypeCharCodeAt(key, i);
    const alpha = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 36;
    if (!alpha && (i === 0 || c < 48 || c > 57)) return false;
  }
  return true;
}

export function readLimit(limits, key) {
  const fallback = DEFAULT_LIMITS[key];
  if (limits === undefined || limits === null) return fallback;
  if (typeof limits !== 'object') fail('limits must be an object');
  const value = ownData(limits, key);
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || NumberIsNaN(value) || value < 0) fail(`limit ${key} must be a number >= 0`);
  return value;
}

let base64;
/** The base64 of `bytes` tags, made on first use. */
export function codecBase64() {
  base64 ??= createBase64();
  return base64;
}
