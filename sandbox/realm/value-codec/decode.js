// Realm-side source: part of the value codec (value-codec/index.js).
// Decoding: JSON.parse once, then rebuild tagged values in place.

import {
  AggregateErrorPrototype,
  ArrayIsArray,
  BigIntCtor,
  DataViewCtor,
  DateCtor,
  ErrorCtor,
  isError,
  JSONParse,
  JSONStringify,
  MapPrototypeSet,
  NumberNaN,
  NumberNEGATIVE_INFINITY,
  NumberPOSITIVE_INFINITY,
  ObjectCtor,
  ObjectDefineProperty,
  ObjectFreeze,
  ObjectIsFrozen,
  ObjectKeys,
  ObjectPrototypeHasOwnProperty,
  ObjectSetPrototypeOf,
  RegExpCtor,
  SafeMap,
  SafeSet,
  SetPrototypeAdd,
  StringPrototypeCharCodeAt,
  TypedArrayCtors,
  TypedArrayPrototypeGetBuffer,
  TypedArrayPrototypeGetLength,
} from '../primordials.js';
import { codecBase64, ERROR_CTORS, fail, OPAQUE_TAGS, ownData } from './limits.js';

// The `beforeBytes` of the decode call in progress (createValueCodecWith).
let announceBytes;

export function decodeValue(text, beforeBytes) {
  if (typeof text !== 'string') fail('decode expects a string');
  let parsed;
  try {
    parsed = JSONParse(text);
  } catch (err) {
    const message = isError(err) ? ownData(err, 'message') : undefined;
    fail(`invalid JSON${typeof message === 'string' ? ` (${message})` : ''}`);
  }
  const outer = announceBytes;
  announceBytes = beforeBytes;
  try {
    return decValue(parsed);
  } finally {
    announceBytes = outer;
  }
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
  if (announceBytes !== undefined) announceBytes(kind);
  const bytes = codecBase64().decode(stringField(tag, 'value', 'bytes'));
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
