// Realm-side source: part of the inspector (inspect/index.js).
// The driver: picks how a value is formatted (constructor name, keys, braces) and
// formats it with its properties.

import {
  ArrayBufferPrototypeGetByteLength,
  ArrayIsArray,
  ArrayPrototypeIncludes,
  ArrayPrototypePop,
  ArrayPrototypePush,
  ArrayPrototypeSort,
  BigIntPrototypeValueOf,
  BooleanPrototypeValueOf,
  DataViewPrototypeGetBuffer,
  DataViewPrototypeGetByteLength,
  DataViewPrototypeGetByteOffset,
  DatePrototypeGetTime,
  DatePrototypeToISOString,
  DatePrototypeToString,
  FunctionPrototype,
  isAccessor,
  isArrayBuffer,
  isBoxedPrimitive,
  isBranded,
  isDataView,
  isDate,
  isError,
  isMap,
  isPromise,
  isRegExpObject,
  isSet,
  isTypedArray,
  isWeakMap,
  isWeakSet,
  MapIteratorPrototype,
  MapPrototypeGet,
  MapPrototypeGetSize,
  MapPrototypeSet,
  NumberIsNaN,
  NumberPrototypeValueOf,
  ObjectCreate,
  ObjectGetOwnPropertyDescriptor,
  ObjectGetOwnPropertyNames,
  ObjectGetOwnPropertySymbols,
  ObjectGetPrototypeOf,
  ObjectKeys,
  ObjectPrototype,
  ObjectPrototypeHasOwnProperty,
  ObjectPrototypePropertyIsEnumerable,
  ObjectPrototypeToString,
  RegExpFlagGetters,
  regExpSourceGetter,
  SafeMap,
  SetIteratorPrototype,
  SetPrototypeGetSize,
  StringPrototypeSlice,
  StringPrototypeValueOf,
  SymbolIterator,
  SymbolPrototypeValueOf,
  SymbolToStringTag,
  TypedArrayPrototypeGetLength,
  TypedArrayPrototypeGetSymbolToStringTag,
} from '../primordials.js';
import {
  arrayRemoveAt,
  arrayUnshift,
  functionName,
  getTag,
  hasInstance,
  isIndexKey,
  lookupDescriptor,
} from './access.js';
import {
  formatArray,
  formatArrayBuffer,
  formatMap,
  formatPromise,
  formatProperty,
  formatSet,
  formatTypedArray,
  formatWeakCollection,
} from './collections.js';
import { formatError } from './errors.js';
import { getFunctionBase } from './functions.js';
import { reduceToSingleString } from './layout.js';
import { kArrayExtrasType, kObjectType, THREW } from './options.js';
import { formatNumber, formatPrimitive } from './primitives.js';

function getConstructorName(obj, ctx, recurseTimes) {
  let firstProto;
  const tmp = obj;
  while (obj !== null) {
    if ((obj === ObjectPrototype || obj === FunctionPrototype) && obj !== tmp) {
      return obj === ObjectPrototype ? 'Object' : 'Function';
    }
    const desc = ObjectGetOwnPropertyDescriptor(obj, 'constructor');
    if (desc !== undefined && !isAccessor(desc) && typeof desc.value === 'function') {
      const name = functionName(desc.value);
      if (name !== '' && hasInstance(desc.value, tmp)) return name;
    }
    obj = ObjectGetPrototypeOf(obj);
    if (firstProto === undefined) firstProto = obj;
  }
  if (firstProto === null) return null;

  const res = typeof tmp === 'function' ? 'Function' : ArrayIsArray(tmp) ? 'Array' : 'Object';
  if (recurseTimes > ctx.depth && ctx.depth !== null) return `${res} <Complex prototype>`;
  const protoConstr = getConstructorName(firstProto, ctx, recurseTimes + 1);
  if (protoConstr === null) {
    const inner = newContext(ctx);
    inner.depth = -1;
    return `${res} <${formatValue(inner, firstProto, 0)}>`;
  }
  return `${res} <${protoConstr}>`;
}

export function getPrefix(ctorName, tag, fallback, size = '') {
  if (ctorName === null) {
    if (tag !== '' && fallback !== tag) return `[${fallback}${size}: null prototype] [${tag}] `;
    return `[${fallback}${size}: null prototype] `;
  }
  if (tag !== '' && ctorName !== tag) return `${ctorName}${size} [${tag}] `;
  return `${ctorName}${size} `;
}

function getKeys(value, showHidden) {
  const keys = showHidden ? ObjectGetOwnPropertyNames(value) : ObjectKeys(value);
  const symbols = ObjectGetOwnPropertySymbols(value);
  for (let i = 0; i < symbols.length; i++) {
    if (showHidden || ObjectPrototypePropertyIsEnumerable(value, symbols[i])) ArrayPrototypePush(keys, symbols[i]);
  }
  return keys;
}

/** Own keys that are not array indices (enumerable ones unless showHidden), symbols included. */
function getOwnNonIndexProperties(value, showHidden) {
  const all = getKeys(value, showHidden);
  const keys = [];
  for (let i = 0; i < all.length; i++) {
    if (!isIndexKey(all[i])) ArrayPrototypePush(keys, all[i]);
  }
  return keys;
}

function getCtxStyle(value, ctorName, tag) {
  let fallback = '';
  if (ctorName === null) {
    fallback = typeof value === 'function' ? 'Function' : 'Object';
    if (fallback === tag) fallback = 'Object';
  }
  return getPrefix(ctorName, tag, fallback);
}

function isArgumentsObject(value) {
  // Only ask Object.prototype.toString when no Symbol.toStringTag exists at all on the chain.
  return (
    lookupDescriptor(value, SymbolToStringTag) === undefined && ObjectPrototypeToString(value) === '[object Arguments]'
  );
}

function regExpToString(value) {
  let flags = '';
  for (let i = 0; i < RegExpFlagGetters.length; i++) {
    if (RegExpFlagGetters[i][1](value)) flags += RegExpFlagGetters[i][0];
  }
  return `/${regExpSourceGetter(value)}/${flags}`;
}

export function newContext(from) {
  return {
    budget: ObjectCreate(null),
    indentationLvl: 0,
    seen: [],
    currentDepth: 0,
    circular: undefined,
    depth: from.depth,
    maxArrayLength: from.maxArrayLength,
    maxStringLength: from.maxStringLength,
    breakLength: from.breakLength,
    compact: from.compact,
    sorted: from.sorted,
    showHidden: from.showHidden,
    promiseState: from.promiseState,
  };
}

export function formatValue(ctx, value, recurseTimes, typedArray) {
  if (typeof value !== 'object' && typeof value !== 'function') return formatPrimitive(value, ctx);
  if (value === null) return 'null';
  const seenLength = ctx.seen.length;
  const indentationLvl = ctx.indentationLvl;
  try {
    if (ArrayPrototypeIncludes(ctx.seen, value)) {
      let index = 1;
      if (ctx.circular === undefined) {
        ctx.circular = new SafeMap();
        MapPrototypeSet(ctx.circular, value, index);
      } else {
        index = MapPrototypeGet(ctx.circular, value);
        if (index === undefined) {
          index = MapPrototypeGetSize(ctx.circular) + 1;
          MapPrototypeSet(ctx.circular, value, index);
        }
      }
      return `[Circular *${index}]`;
    }
    return formatRaw(ctx, value, recurseTimes, typedArray);
  } catch {
    ctx.seen.length = seenLength;
    ctx.indentationLvl = indentationLvl;
    return THREW;
  }
}

function formatRaw(ctx, value, recurseTimes, typedArray) {
  /** @type {PropertyKey[]} */
  let keys = [];
  const ctorName = getConstructorName(value, ctx, recurseTimes);
  let tag = getTag(value);
  if (
    typeof tag !== 'string' ||
    (tag !== '' &&
      (ctx.showHidden ? ObjectPrototypeHasOwnProperty : ObjectPrototypePropertyIsEnumerable)(value, SymbolToStringTag))
  ) {
    tag = '';
  }
  let base = '';
  /** @type {(ctx: any, value: any, recurseTimes: number) => string[]} */
  let formatter = getEmptyFormatArray;
  /** @type {string[]} */
  let braces = [];
  let noIterator = true;
  let extrasType = kObjectType;

  if (SymbolIterator in value || ctorName === null) {
    noIterator = false;
    if (ArrayIsArray(value)) {
      const length = value.length;
      const prefix = ctorName !== 'Array' || tag !== '' ? getPrefix(ctorName, tag, 'Array', `(${length})`) : '';
      keys = getOwnNonIndexProperties(value, ctx.showHidden);
      braces = [`${prefix}[`, ']'];
      if (length === 0 && keys.length === 0) return `${braces[0]}]`;
      extrasType = kArrayExtrasType;
      formatter = formatArray;
    } else if (isSet(value)) {
      const size = SetPrototypeGetSize(value);
      const prefix = getPrefix(ctorName, tag, 'Set', `(${size})`);
      keys = getKeys(value, ctx.showHidden);
      formatter = formatSet;
      if (size === 0 && keys.length === 0) return `${prefix}{}`;
      braces = [`${prefix}{`, '}'];
    } else if (isMap(value)) {
      const size = MapPrototypeGetSize(value);
      const prefix = getPrefix(ctorName, tag, 'Map', `(${size})`);
      keys = getKeys(value, ctx.showHidden);
      formatter = formatMap;
      if (size === 0 && keys.length === 0) return `${prefix}{}`;
      braces = [`${prefix}{`, '}'];
    } else if (isTypedArray(value)) {
      keys = getOwnNonIndexProperties(value, ctx.showHidden);
      const fallback = ctorName === null ? TypedArrayPrototypeGetSymbolToStringTag(value) : '';
      const size = TypedArrayPrototypeGetLength(value);
      const prefix = getPrefix(ctorName, tag, fallback, `(${size})`);
      braces = [`${prefix}[`, ']'];
      if (size === 0 && keys.length === 0 && !ctx.showHidden) return `${braces[0]}]`;
      formatter = formatTypedArray;
      extrasType = kArrayExtrasType;
    } else {
      const proto = ObjectGetPrototypeOf(value);
      if (proto === MapIteratorPrototype || proto === SetIteratorPrototype) {
        keys = getKeys(value, ctx.showHidden);
        const type = proto === MapIteratorPrototype ? 'Map' : 'Set';
        braces = [`[${type} Iterator] {`, '}'];
        formatter = formatWeakCollection;
      } else {
        noIterator = true;
      }
    }
  }
  if (noIterator) {
    keys = getKeys(value, ctx.showHidden);
    braces = ['{', '}'];
    if (typeof value === 'function') {
      base = getFunctionBase(value, ctorName, tag);
      if (keys.length === 0) return base;
    } else if (ctorName === 'Object') {
      if (isArgumentsObject(value)) {
        braces[0] = '[Arguments] {';
      } else if (tag !== '') {
        braces[0] = `${getPrefix(ctorName, tag, 'Object')}{`;
      }
      if (keys.length === 0) return `${braces[0]}}`;
    } else if (isRegExpObject(value)) {
      base = regExpToString(value);
      const prefix = getPrefix(ctorName, tag, 'RegExp');
      if (prefix !== 'RegExp ') base = `${prefix}${base}`;
      if (keys.length === 0 || (recurseTimes > ctx.depth && ctx.depth !== null)) return base;
    } else if (isDate(value)) {
      base = NumberIsNaN(DatePrototypeGetTime(value)) ? DatePrototypeToString(value) : DatePrototypeToISOString(value);
      const prefix = getPrefix(ctorName, tag, 'Date');
      if (prefix !== 'Date ') base = `${prefix}${base}`;
      if (keys.length === 0) return base;
    } else if (isError(value)) {
      base = formatError(value, ctorName, tag, ctx, keys);
      if (keys.length === 0) return base;
    } else if (isArrayBuffer(value)) {
      const prefix = getPrefix(ctorName, tag, 'ArrayBuffer');
      if (typedArray === undefined) {
        formatter = formatArrayBuffer;
      } else if (keys.length === 0) {
        return `${prefix}{ byteLength: ${formatNumber(ArrayBufferPrototypeGetByteLength(value))} }`;
      }
      braces[0] = `${prefix}{`;
      arrayUnshift(keys, 'byteLength');
    } else if (isDataView(value)) {
      braces[0] = `${getPrefix(ctorName, tag, 'DataView')}{`;
      arrayUnshift(keys, 'byteLength', 'byteOffset', 'buffer');
    } else if (isPromise(value)) {
      braces[0] = `${getPrefix(ctorName, tag, 'Promise')}{`;
      formatter = formatPromise;
    } else if (isWeakSet(value)) {
      braces[0] = `${getPrefix(ctorName, tag, 'WeakSet')}{`;
      formatter = formatWeakCollection;
    } else if (isWeakMap(value)) {
      braces[0] = `${getPrefix(ctorName, tag, 'WeakMap')}{`;
      formatter = formatWeakCollection;
    } else if (isBoxedPrimitive(value)) {
      base = getBoxedBase(value, ctx, keys, ctorName, tag);
      if (keys.length === 0) return base;
    } else {
      if (keys.length === 0) return `${getCtxStyle(value, ctorName, tag)}{}`;
      braces[0] = `${getCtxStyle(value, ctorName, tag)}{`;
    }
  }

  if (recurseTimes > ctx.depth && ctx.depth !== null) {
    let constructorName = StringPrototypeSlice(getCtxStyle(value, ctorName, tag), 0, -1);
    if (ctorName !== null) constructorName = `[${constructorName}]`;
    return constructorName;
  }
  recurseTimes += 1;

  ArrayPrototypePush(ctx.seen, value);
  ctx.currentDepth = recurseTimes;
  const output = formatter(ctx, value, recurseTimes);
  for (let i = 0; i < keys.length; i++) {
    ArrayPrototypePush(
      output,
      formatProperty(ctx, value, recurseTimes, keys[i], extrasType, builtinDescriptor(value, keys[i])),
    );
  }
  if (ctx.circular !== undefined) {
    const index = MapPrototypeGet(ctx.circular, value);
    if (index !== undefined) {
      const reference = `<ref *${index}>`;
      if (ctx.compact !== true) {
        base = base === '' ? reference : `${reference} ${base}`;
      } else {
        braces[0] = `${reference} ${braces[0]}`;
      }
    }
  }
  ArrayPrototypePop(ctx.seen);

  if (ctx.sorted) {
    const comparator = ctx.sorted === true ? undefined : ctx.sorted;
    if (extrasType === kObjectType) {
      ArrayPrototypeSort(output, comparator);
    } else if (keys.length > 1) {
      const start = output.length - keys.length;
      const tail = [];
      for (let i = start; i < output.length; i++) ArrayPrototypePush(tail, output[i]);
      ArrayPrototypeSort(tail, comparator);
      for (let i = 0; i < tail.length; i++) output[start + i] = tail[i];
    }
  }

  const res = reduceToSingleString(ctx, output, base, braces, extrasType, recurseTimes, value);
  const budget = ctx.budget[ctx.indentationLvl] || 0;
  const newLength = budget + res.length;
  ctx.budget[ctx.indentationLvl] = newLength;
  if (newLength > 2 ** 27) ctx.depth = -1;
  return res;
}

/** Descriptors for the keys Node reads through built-in getters (ArrayBuffer/DataView sizes). */
function builtinDescriptor(value, key) {
  if (key === 'byteLength' || key === 'byteOffset' || key === 'buffer') {
    if (ObjectGetOwnPropertyDescriptor(value, key) !== undefined) return undefined;
    if (isArrayBuffer(value) && key === 'byteLength') {
      return { value: ArrayBufferPrototypeGetByteLength(value), enumerable: true };
    }
    if (isDataView(value)) {
      const v =
        key === 'byteLength'
          ? DataViewPrototypeGetByteLength(value)
          : key === 'byteOffset'
            ? DataViewPrototypeGetByteOffset(value)
            : DataViewPrototypeGetBuffer(value);
      return { value: v, enumerable: true };
    }
  }
  return undefined;
}

function getEmptyFormatArray() {
  return [];
}

function getBoxedBase(value, ctx, keys, ctorName, tag) {
  let primitive;
  let type;
  if (isBranded(NumberPrototypeValueOf, value)) {
    primitive = NumberPrototypeValueOf(value);
    type = 'Number';
  } else if (isBranded(StringPrototypeValueOf, value)) {
    primitive = StringPrototypeValueOf(value);
    type = 'String';
    // Drop the index keys of the boxed string.
    let n = 0;
    while (n < keys.length && isIndexKey(keys[n]) && +keys[n] < primitive.length) n++;
    for (let i = 0; i < n; i++) arrayRemoveAt(keys, 0);
  } else if (isBranded(BooleanPrototypeValueOf, value)) {
    primitive = BooleanPrototypeValueOf(value);
    type = 'Boolean';
  } else if (isBranded(BigIntPrototypeValueOf, value)) {
    primitive = BigIntPrototypeValueOf(value);
    type = 'BigInt';
  } else {
    primitive = SymbolPrototypeValueOf(value);
    type = 'Symbol';
  }
  let base = `[${type}`;
  if (type !== ctorName) {
    base += ctorName === null ? ' (null prototype)' : ` (${ctorName})`;
  }
  base += `: ${formatPrimitive(primitive, ctx)}]`;
  if (tag !== '' && tag !== ctorName) base += ` [${tag}]`;
  return base;
}

export function getClassBase(value, ctorName, tag) {
  const hasName = ObjectPrototypeHasOwnProperty(value, 'name');
  const name = (hasName && functionName(value)) || '(anonymous)';
  let base = `class ${name}`;
  if (ctorName !== 'Function' && ctorName !== null) base += ` [${ctorName}]`;
  if (tag !== '' && ctorName !== tag) base += ` [${tag}]`;
  if (ctorName !== null) {
    const superName = functionName(ObjectGetPrototypeOf(value));
    if (superName) base += ` extends ${superName}`;
  } else {
    base += ' extends [null prototype]';
  }
  return `[${base}]`;
}
