// Realm-side source (runs inside each session realm, never in the host).
// Not a module: concatenated after primordials.js.
//
// `util.inspect` / `util.format` for realm values, following Node 20's
// lib/internal/util/inspect.js so results and console output read exactly as
// the Node REPL prints them. Differences, all forced by running without
// V8-internal helpers and without ever running a getter:
// - Proxies cannot be told apart from their targets: they are formatted
//   through their traps (under the realm's CPU budget).
// - Promise state is unknowable: `Promise { <unknown> }`.
// - Map/Set iterators cannot be previewed: `[Map Iterator] { <items unknown> }`.
// - Getters are never called (not even a `Symbol.toStringTag` getter, nor a
//   `name`/`message`/`stack` getter of an error): they are `[Getter]` etc.
// - No `[util.inspect.custom]` hooks, no colors, no `showProxy`; `showHidden`
//   shows non-enumerable own keys but not prototype properties.
// - Anything that throws while one value is formatted (a hostile Proxy, a
//   throwing `toString` in `%s`) renders as `[inspection threw]` for that
//   value; `inspect` itself never throws.
// Everything uses intrinsics captured by primordials.js, never methods that
// user code could have replaced on the realm's prototypes.

import { isObjectLike } from '../completion.js';
import {
  ArrayBufferPrototypeGetByteLength,
  ArrayIsArray,
  ArrayPrototypeIncludes,
  ArrayPrototypeIndexOf,
  ArrayPrototypeJoin,
  ArrayPrototypePop,
  ArrayPrototypePush,
  ArrayPrototypeSort,
  AsyncFunctionPrototype,
  AsyncGeneratorFunctionPrototype,
  BigIntPrototypeValueOf,
  BooleanPrototypeValueOf,
  DataViewPrototypeGetBuffer,
  DataViewPrototypeGetByteLength,
  DataViewPrototypeGetByteOffset,
  DatePrototypeGetTime,
  DatePrototypeToISOString,
  DatePrototypeToString,
  FunctionPrototype,
  FunctionPrototypeToString,
  GeneratorFunctionPrototype,
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
  JSONStringify,
  MapIteratorPrototype,
  MapIteratorPrototypeNext,
  MapPrototypeEntries,
  MapPrototypeGet,
  MapPrototypeGetSize,
  MapPrototypeSet,
  MathFloor,
  MathMax,
  MathMin,
  MathRound,
  MathSqrt,
  NumberCtor,
  NumberIsNaN,
  NumberNaN,
  NumberParseFloat,
  NumberParseInt,
  NumberPOSITIVE_INFINITY,
  NumberPrototypeToString,
  NumberPrototypeValueOf,
  ObjectCreate,
  ObjectGetOwnPropertyDescriptor,
  ObjectGetOwnPropertyNames,
  ObjectGetOwnPropertySymbols,
  ObjectGetPrototypeOf,
  ObjectIs,
  ObjectKeys,
  ObjectPrototype,
  ObjectPrototypeHasOwnProperty,
  ObjectPrototypePropertyIsEnumerable,
  ObjectPrototypeToString,
  RegExpFlagGetters,
  RegExpPrototypeExec,
  regExpSourceGetter,
  SafeMap,
  SafeSet,
  SetIteratorPrototype,
  SetIteratorPrototypeNext,
  SetPrototypeAdd,
  SetPrototypeGetSize,
  SetPrototypeHas,
  SetPrototypeValues,
  StringPrototypeCharCodeAt,
  StringPrototypeCodePointAt,
  StringPrototypeEndsWith,
  StringPrototypeIncludes,
  StringPrototypeIndexOf,
  StringPrototypeNormalize,
  StringPrototypePadEnd,
  StringPrototypePadStart,
  StringPrototypeRepeat,
  StringPrototypeSlice,
  StringPrototypeStartsWith,
  StringPrototypeToUpperCase,
  StringPrototypeValueOf,
  SymbolIterator,
  SymbolPrototypeToString,
  SymbolPrototypeValueOf,
  SymbolToPrimitive,
  SymbolToStringTag,
  TypedArrayPrototypeGetBuffer,
  TypedArrayPrototypeGetByteLength,
  TypedArrayPrototypeGetByteOffset,
  TypedArrayPrototypeGetLength,
  TypedArrayPrototypeGetSymbolToStringTag,
  TypedArrayPrototypeSymbolToStringTagGetter,
  TypeErrorCtor,
  Uint8ArrayCtor,
} from '../primordials.js';

export function createInspector() {
  const kObjectType = 0;
  const kArrayType = 1;
  const kArrayExtrasType = 2;
  const kMinLineLength = 16;
  const THREW = '[inspection threw]';

  const DEFAULTS = {
    depth: 2,
    maxArrayLength: 100,
    maxStringLength: 10000,
    breakLength: 80,
    compact: 3,
    sorted: false,
    showHidden: false,
    promiseState: undefined,
  };

  // Escapes for control characters, the single quote and the backslash (C0 and C1 ranges).
  const meta = [];
  for (let i = 0; i < 0xa0; i++) {
    let escaped = '';
    if (i < 0x20 || (i >= 0x7f && i < 0xa0)) {
      escaped = `\\x${StringPrototypePadStart(StringPrototypeToUpperCase(NumberPrototypeToString(i, 16)), 2, '0')}`;
    }
    ArrayPrototypePush(meta, escaped);
  }
  meta[8] = '\\b';
  meta[9] = '\\t';
  meta[10] = '\\n';
  meta[12] = '\\f';
  meta[13] = '\\r';
  meta[39] = "\\'";
  meta[92] = '\\\\';

  // Global constructor names Node treats as built in (used by `%s`).
  const builtInObjects = new SafeSet();
  const builtInList =
    'Object Function Array Number Boolean String Symbol BigInt Date RegExp Error AggregateError EvalError ' +
    'RangeError ReferenceError SyntaxError TypeError URIError Map Set WeakMap WeakSet WeakRef ' +
    'FinalizationRegistry Promise Proxy ArrayBuffer SharedArrayBuffer DataView Int8Array Uint8Array ' +
    'Uint8ClampedArray Int16Array Uint16Array Int32Array Uint32Array Float32Array Float64Array ' +
    'BigInt64Array BigUint64Array JSON Math Reflect Atomics Intl WebAssembly';
  {
    let start = 0;
    for (let i = 0; i <= builtInList.length; i++) {
      if (i === builtInList.length || StringPrototypeCharCodeAt(builtInList, i) === 32) {
        SetPrototypeAdd(builtInObjects, StringPrototypeSlice(builtInList, start, i));
        start = i + 1;
      }
    }
  }

  // ---------------------------------------------------------------------------
  // Safe property access: descriptors only, never getters.

  function isObjectLike(v) {
    return (typeof v === 'object' && v !== null) || typeof v === 'function';
  }

  function isAccessor(desc) {
    return ObjectPrototypeHasOwnProperty(desc, 'get');
  }

  /** Descriptor of `key` on `obj` or the first prototype that has it. */
  function lookupDescriptor(obj, key) {
    let o = obj;
    for (let i = 0; i < 10000 && o !== null; i++) {
      const desc = ObjectGetOwnPropertyDescriptor(o, key);
      if (desc !== undefined) return desc;
      o = ObjectGetPrototypeOf(o);
    }
    return undefined;
  }

  /** `obj[key]` for data properties (own or inherited); undefined for accessors. */
  function lookupValue(obj, key) {
    const desc = lookupDescriptor(obj, key);
    return desc === undefined || isAccessor(desc) ? undefined : desc.value;
  }

  function ownDataValue(obj, key) {
    const desc = ObjectGetOwnPropertyDescriptor(obj, key);
    return desc === undefined || isAccessor(desc) ? undefined : desc.value;
  }

  /** ToString without surprises for primitives; objects run their own conversion (guarded by callers). */
  function toStr(v) {
    if (typeof v === 'string') return v;
    if (typeof v === 'symbol') return SymbolPrototypeToString(v);
    return `${v}`;
  }

  function functionName(fn) {
    const name = lookupValue(fn, 'name');
    return typeof name === 'string' ? name : name === undefined ? '' : safeToStr(name);
  }

  function safeToStr(v) {
    try {
      return toStr(v);
    } catch {
      return THREW;
    }
  }

  function hasInstance(ctor, obj) {
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

  function getTag(value) {
    // value[Symbol.toStringTag], data properties only (plus the typed array intrinsic getter).
    const desc = lookupDescriptor(value, SymbolToStringTag);
    if (desc === undefined) return undefined;
    if (!isAccessor(desc)) return desc.value;
    if (desc.get === TypedArrayPrototypeSymbolToStringTagGetter) return TypedArrayPrototypeGetSymbolToStringTag(value);
    return undefined;
  }

  // Small array helpers (no species lookups on user-patchable prototypes).
  function arrayUnshift(arr, ...items) {
    const n = items.length;
    for (let i = arr.length - 1; i >= 0; i--) arr[i + n] = arr[i];
    for (let i = 0; i < n; i++) arr[i] = items[i];
  }
  function arrayRemoveAt(arr, index) {
    for (let i = index; i < arr.length - 1; i++) arr[i] = arr[i + 1];
    arr.length -= 1;
  }
  function replaceAllStr(str, find, replacement) {
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
  function splitStr(str, sep) {
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

  function isIndexKey(key) {
    if (typeof key !== 'string' || key.length === 0 || key.length > 10) return false;
    const first = StringPrototypeCharCodeAt(key, 0);
    if (first === 48) return key.length === 1;
    for (let i = 0; i < key.length; i++) {
      const c = StringPrototypeCharCodeAt(key, i);
      if (c < 48 || c > 57) return false;
    }
    return +key < 4294967295;
  }

  // ---------------------------------------------------------------------------
  // Strings.

  function addQuotes(str, quotes) {
    if (quotes === -1) return `"${str}"`;
    if (quotes === -2) return `\`${str}\``;
    return `'${str}'`;
  }

  /** Escapes control characters, lone surrogates, the backslash and the quote code `singleQuote`. */
  function escapeBody(str, singleQuote) {
    let result = '';
    let last = 0;
    const length = str.length;
    for (let i = 0; i < length; i++) {
      const point = StringPrototypeCharCodeAt(str, i);
      if (point === singleQuote || point === 92 || point < 32 || (point > 126 && point < 160)) {
        result += StringPrototypeSlice(str, last, i) + meta[point];
        last = i + 1;
      } else if (point >= 0xd800 && point <= 0xdfff) {
        if (point <= 0xdbff && i + 1 < length) {
          const next = StringPrototypeCharCodeAt(str, i + 1);
          if (next >= 0xdc00 && next <= 0xdfff) {
            i++;
            continue;
          }
        }
        result += `${StringPrototypeSlice(str, last, i)}\\u${NumberPrototypeToString(point, 16)}`;
        last = i + 1;
      }
    }
    if (last === 0) return str;
    if (last !== length) result += StringPrototypeSlice(str, last);
    return result;
  }

  function strEscape(str) {
    let singleQuote = 39;
    if (StringPrototypeIncludes(str, "'")) {
      if (!StringPrototypeIncludes(str, '"')) {
        singleQuote = -1;
      } else if (!StringPrototypeIncludes(str, '`') && !StringPrototypeIncludes(str, '${')) {
        singleQuote = -2;
      }
    }
    return addQuotes(escapeBody(str, singleQuote), singleQuote);
  }

  function isFullWidthCodePoint(code) {
    return (
      code >= 0x1100 &&
      (code <= 0x115f ||
        code === 0x2329 ||
        code === 0x232a ||
        (code >= 0x2e80 && code <= 0x3247 && code !== 0x303f) ||
        (code >= 0x3250 && code <= 0x4dbf) ||
        (code >= 0x4e00 && code <= 0xa4c6) ||
        (code >= 0xa960 && code <= 0xa97c) ||
        (code >= 0xac00 && code <= 0xd7a3) ||
        (code >= 0xf900 && code <= 0xfaff) ||
        (code >= 0xfe10 && code <= 0xfe19) ||
        (code >= 0xfe30 && code <= 0xfe6b) ||
        (code >= 0xff01 && code <= 0xff60) ||
        (code >= 0xffe0 && code <= 0xffe6) ||
        (code >= 0x1b000 && code <= 0x1b001) ||
        (code >= 0x1f200 && code <= 0x1f251) ||
        (code >= 0x1f300 && code <= 0x1f64f) ||
        (code >= 0x20000 && code <= 0x3fffd))
    );
  }

  function isZeroWidthCodePoint(code) {
    return (
      code <= 0x1f ||
      (code >= 0x7f && code <= 0x9f) ||
      (code >= 0x300 && code <= 0x36f) ||
      (code >= 0x200b && code <= 0x200f) ||
      (code >= 0x20d0 && code <= 0x20ff) ||
      (code >= 0xfe00 && code <= 0xfe0f) ||
      (code >= 0xfe20 && code <= 0xfe2f) ||
      (code >= 0xe0100 && code <= 0xe01ef)
    );
  }

  /** Columns needed to display `str` (Node's non-ICU estimate). */
  function getStringWidth(str) {
    let width = 0;
    for (let i = 0; i < str.length; i++) {
      const code = StringPrototypeCharCodeAt(str, i);
      if (code >= 127) {
        const rest = StringPrototypeNormalize(StringPrototypeSlice(str, i), 'NFC');
        for (let j = 0; j < rest.length; j++) {
          const point = StringPrototypeCodePointAt(rest, j);
          if (point > 0xffff) j++;
          if (isFullWidthCodePoint(point)) width += 2;
          else if (!isZeroWidthCodePoint(point)) width++;
        }
        return width;
      }
      width += code >= 32 ? 1 : 0;
    }
    return width;
  }

  // ---------------------------------------------------------------------------
  // Primitives.

  function formatNumber(number) {
    if (ObjectIs(number, -0)) return '-0';
    return `${number}`;
  }

  function formatBigInt(bigint) {
    return `${bigint}n`;
  }

  function formatPrimitive(value, ctx) {
    if (typeof value === 'string') {
      let trailer = '';
      if (value.length > ctx.maxStringLength) {
        const remaining = value.length - ctx.maxStringLength;
        value = StringPrototypeSlice(value, 0, ctx.maxStringLength);
        trailer = `... ${remaining} more character${remaining > 1 ? 's' : ''}`;
      }
      if (
        ctx.compact !== true &&
        value.length > kMinLineLength &&
        value.length > ctx.breakLength - ctx.indentationLvl - 4
      ) {
        // Split after each line break (like `value.split(/(?<=\n)/)`).
        const lines = [];
        let last = 0;
        for (;;) {
          const pos = StringPrototypeIndexOf(value, '\n', last);
          if (pos === -1 || pos === value.length - 1) break;
          ArrayPrototypePush(lines, strEscape(StringPrototypeSlice(value, last, pos + 1)));
          last = pos + 1;
        }
        ArrayPrototypePush(lines, strEscape(StringPrototypeSlice(value, last)));
        return ArrayPrototypeJoin(lines, ` +\n${StringPrototypeRepeat(' ', ctx.indentationLvl + 2)}`) + trailer;
      }
      return strEscape(value) + trailer;
    }
    if (typeof value === 'number') return formatNumber(value);
    if (typeof value === 'bigint') return formatBigInt(value);
    if (typeof value === 'boolean') return value ? 'true' : 'false';
    if (typeof value === 'undefined') return 'undefined';
    return SymbolPrototypeToString(value);
  }

  // ---------------------------------------------------------------------------
  // Objects.

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

  function getPrefix(ctorName, tag, fallback, size = '') {
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
      lookupDescriptor(value, SymbolToStringTag) === undefined &&
      ObjectPrototypeToString(value) === '[object Arguments]'
    );
  }

  function regExpToString(value) {
    let flags = '';
    for (let i = 0; i < RegExpFlagGetters.length; i++) {
      if (RegExpFlagGetters[i][1](value)) flags += RegExpFlagGetters[i][0];
    }
    return `/${regExpSourceGetter(value)}/${flags}`;
  }

  function newContext(from) {
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

  function formatValue(ctx, value, recurseTimes, typedArray) {
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
    let keys;
    const ctorName = getConstructorName(value, ctx, recurseTimes);
    let tag = getTag(value);
    if (
      typeof tag !== 'string' ||
      (tag !== '' &&
        (ctx.showHidden ? ObjectPrototypeHasOwnProperty : ObjectPrototypePropertyIsEnumerable)(
          value,
          SymbolToStringTag,
        ))
    ) {
      tag = '';
    }
    let base = '';
    let formatter = getEmptyFormatArray;
    let braces;
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
        base = NumberIsNaN(DatePrototypeGetTime(value))
          ? DatePrototypeToString(value)
          : DatePrototypeToISOString(value);
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

  function getClassBase(value, ctorName, tag) {
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

  const classRegExp = /^(\s+[^(]*?)\s*{/;

  function stripComments(src) {
    // Equivalent of src.replace(/(\/\/.*?\n)|(\/\*(.|\n)*?\*\/)/g, '').
    let out = '';
    let i = 0;
    while (i < src.length) {
      const c = StringPrototypeCharCodeAt(src, i);
      if (c === 47 && StringPrototypeCharCodeAt(src, i + 1) === 47) {
        const end = StringPrototypeIndexOf(src, '\n', i + 2);
        if (end !== -1) {
          i = end + 1;
          continue;
        }
      } else if (c === 47 && StringPrototypeCharCodeAt(src, i + 1) === 42) {
        const end = StringPrototypeIndexOf(src, '*/', i + 2);
        if (end !== -1) {
          i = end + 2;
          continue;
        }
      }
      out += StringPrototypeSlice(src, i, i + 1);
      i++;
    }
    return out;
  }

  function isClassSource(stringified) {
    if (
      !StringPrototypeStartsWith(stringified, 'class') ||
      StringPrototypeCharCodeAt(stringified, stringified.length - 1) !== 125
    ) {
      return false;
    }
    const slice = StringPrototypeSlice(stringified, 5, -1);
    const bracketIndex = StringPrototypeIndexOf(slice, '{');
    return (
      bracketIndex !== -1 &&
      (!StringPrototypeIncludes(StringPrototypeSlice(slice, 0, bracketIndex), '(') ||
        RegExpPrototypeExec(classRegExp, stripComments(slice)) !== null)
    );
  }

  function functionKind(fn) {
    const proto = ObjectGetPrototypeOf(fn);
    if (proto === AsyncFunctionPrototype) return 'AsyncFunction';
    if (proto === GeneratorFunctionPrototype) return 'GeneratorFunction';
    if (proto === AsyncGeneratorFunctionPrototype) return 'AsyncGeneratorFunction';
    return 'Function';
  }

  function getFunctionBase(value, ctorName, tag) {
    let stringified = '';
    try {
      stringified = FunctionPrototypeToString(value);
    } catch {
      // A Proxy of a function in some engines; not a class then.
    }
    if (isClassSource(stringified)) return getClassBase(value, ctorName, tag);
    const type = functionKind(value);
    let base = `[${type}`;
    if (ctorName === null) base += ' (null prototype)';
    const name = functionName(value);
    base += name === '' ? ' (anonymous)' : `: ${name}`;
    base += ']';
    if (ctorName !== type && ctorName !== null) base += ` ${ctorName}`;
    if (tag !== '' && ctorName !== tag) base += ` [${tag}]`;
    return base;
  }

  // ---- errors

  function errorToString(err) {
    const name = lookupValue(err, 'name');
    const message = lookupValue(err, 'message');
    const n = name === undefined ? 'Error' : safeToStr(name);
    const m = message === undefined ? '' : safeToStr(message);
    if (n === '') return m;
    if (m === '') return n;
    return `${n}: ${m}`;
  }

  function getStackString(err) {
    const stack = lookupValue(err, 'stack');
    return stack ? safeToStr(stack) : errorToString(err);
  }

  function identicalSequenceRange(a, b) {
    for (let i = 0; i < a.length - 3; i++) {
      const pos = ArrayPrototypeIndexOf(b, a[i]);
      if (pos !== -1) {
        const rest = b.length - pos;
        if (rest > 3) {
          let len = 1;
          const maxLen = MathMin(a.length - i, rest);
          while (maxLen > len && a[i + len] === b[pos + len]) len++;
          if (len > 3) return { len, offset: i };
        }
      }
    }
    return { len: 0, offset: 0 };
  }

  function getStackFrames(err, stack) {
    const frames = splitStr(stack, '\n');
    const cause = lookupValue(err, 'cause');
    if (cause != null && isError(cause)) {
      const causeStack = getStackString(cause);
      const causeStackStart = StringPrototypeIndexOf(causeStack, '\n    at');
      if (causeStackStart !== -1) {
        const causeFrames = splitStr(StringPrototypeSlice(causeStack, causeStackStart + 1), '\n');
        const range = identicalSequenceRange(frames, causeFrames);
        if (range.len > 0) {
          const skipped = range.len - 2;
          const msg = `    ... ${skipped} lines matching cause stack trace ...`;
          const out = [];
          for (let i = 0; i <= range.offset; i++) ArrayPrototypePush(out, frames[i]);
          ArrayPrototypePush(out, msg);
          for (let i = range.offset + 1 + skipped; i < frames.length; i++) ArrayPrototypePush(out, frames[i]);
          return out;
        }
      }
    }
    return frames;
  }

  const errorNameRegExp = /^([A-Z][a-z_ A-Z0-9[\]()-]+)(?::|\n {4}at)/;
  const errorNameOnlyRegExp = /^([a-z_A-Z0-9-]*Error)$/;

  function improveStack(stack, ctorName, name, tag) {
    let len = name.length;
    if (
      ctorName === null ||
      (StringPrototypeEndsWith(name, 'Error') &&
        StringPrototypeStartsWith(stack, name) &&
        (stack.length === len ||
          StringPrototypeCharCodeAt(stack, len) === 58 ||
          StringPrototypeCharCodeAt(stack, len) === 10))
    ) {
      let fallback = 'Error';
      if (ctorName === null) {
        const start = RegExpPrototypeExec(errorNameRegExp, stack) || RegExpPrototypeExec(errorNameOnlyRegExp, stack);
        fallback = start?.[1] || '';
        len = fallback.length;
        fallback = fallback || 'Error';
      }
      const prefix = StringPrototypeSlice(getPrefix(ctorName, tag, fallback), 0, -1);
      if (name !== prefix) {
        if (StringPrototypeIncludes(prefix, name)) {
          stack = len === 0 ? `${prefix}: ${stack}` : `${prefix}${StringPrototypeSlice(stack, len)}`;
        } else {
          stack = `${prefix} [${name}]${StringPrototypeSlice(stack, len)}`;
        }
      }
    }
    return stack;
  }

  function removeDuplicateErrorKeys(ctx, keys, err, stack) {
    if (!ctx.showHidden && keys.length !== 0) {
      const names = ['name', 'message', 'stack'];
      for (let n = 0; n < names.length; n++) {
        const index = ArrayPrototypeIndexOf(keys, names[n]);
        if (index !== -1) {
          const desc = ObjectGetOwnPropertyDescriptor(err, names[n]);
          if (desc !== undefined && !isAccessor(desc) && StringPrototypeIncludes(stack, safeToStr(desc.value))) {
            arrayRemoveAt(keys, index);
          }
        }
      }
    }
  }

  function formatError(err, ctorName, tag, ctx, keys) {
    const nameValue = lookupValue(err, 'name');
    const name = nameValue != null ? safeToStr(nameValue) : 'Error';
    let stack = getStackString(err);
    removeDuplicateErrorKeys(ctx, keys, err, stack);
    if ('cause' in err && (keys.length === 0 || !ArrayPrototypeIncludes(keys, 'cause'))) {
      ArrayPrototypePush(keys, 'cause');
    }
    if (ArrayIsArray(lookupValue(err, 'errors')) && (keys.length === 0 || !ArrayPrototypeIncludes(keys, 'errors'))) {
      ArrayPrototypePush(keys, 'errors');
    }
    stack = improveStack(stack, ctorName, name, tag);

    const message = lookupValue(err, 'message');
    let pos = -1;
    if (message) {
      const text = safeToStr(message);
      pos = StringPrototypeIndexOf(stack, text) || -1;
      if (pos !== -1) pos += typeof message === 'string' ? message.length : NumberNaN;
    }
    const stackStart = StringPrototypeIndexOf(stack, '\n    at', pos);
    if (stackStart === -1) {
      stack = `[${stack}]`;
    } else {
      const lines = getStackFrames(err, StringPrototypeSlice(stack, stackStart + 1));
      stack = `${StringPrototypeSlice(stack, 0, stackStart)}\n${ArrayPrototypeJoin(lines, '\n')}`;
    }
    if (ctx.indentationLvl !== 0) {
      stack = replaceAllStr(stack, '\n', `\n${StringPrototypeRepeat(' ', ctx.indentationLvl)}`);
    }
    return stack;
  }

  // ---- formatters

  function remainingText(remaining) {
    return `... ${remaining} more item${remaining > 1 ? 's' : ''}`;
  }

  function formatArrayBuffer(ctx, value) {
    let bytes;
    try {
      bytes = new Uint8ArrayCtor(value);
    } catch {
      return ['(detached)'];
    }
    const length = TypedArrayPrototypeGetLength(bytes);
    const shown = MathMin(ctx.maxArrayLength, length);
    let str = '';
    for (let i = 0; i < shown; i++) {
      const hex = NumberPrototypeToString(bytes[i], 16);
      str += (i === 0 ? '' : ' ') + (hex.length === 1 ? `0${hex}` : hex);
    }
    const remaining = length - ctx.maxArrayLength;
    if (remaining > 0) str += ` ... ${remaining} more byte${remaining > 1 ? 's' : ''}`;
    return [`[Uint8Contents]: <${str}>`];
  }

  function formatArray(ctx, value, recurseTimes) {
    const valLen = value.length;
    const len = MathMin(MathMax(0, ctx.maxArrayLength), valLen);
    const remaining = valLen - len;
    const output = [];
    for (let i = 0; i < len; i++) {
      const desc = ObjectGetOwnPropertyDescriptor(value, i);
      if (desc === undefined) return formatSpecialArray(ctx, value, recurseTimes, len, output, i);
      ArrayPrototypePush(output, formatProperty(ctx, value, recurseTimes, i, kArrayType, desc));
    }
    if (remaining > 0) ArrayPrototypePush(output, remainingText(remaining));
    return output;
  }

  function formatSpecialArray(ctx, value, recurseTimes, maxLength, output, i) {
    const keys = ObjectKeys(value);
    let index = i;
    for (; i < keys.length && output.length < maxLength; i++) {
      const key = keys[i];
      const tmp = +key;
      if (tmp > 2 ** 32 - 2) break;
      if (`${index}` !== key) {
        if (!isIndexKey(key)) break;
        const emptyItems = tmp - index;
        ArrayPrototypePush(output, `<${emptyItems} empty item${emptyItems > 1 ? 's' : ''}>`);
        index = tmp;
        if (output.length === maxLength) break;
      }
      ArrayPrototypePush(output, formatProperty(ctx, value, recurseTimes, key, kArrayType));
      index++;
    }
    const remaining = value.length - index;
    if (output.length !== maxLength) {
      if (remaining > 0) ArrayPrototypePush(output, `<${remaining} empty item${remaining > 1 ? 's' : ''}>`);
    } else if (remaining > 0) {
      ArrayPrototypePush(output, remainingText(remaining));
    }
    return output;
  }

  function formatTypedArray(ctx, value, recurseTimes) {
    const length = TypedArrayPrototypeGetLength(value);
    const maxLength = MathMin(MathMax(0, ctx.maxArrayLength), length);
    const remaining = length - maxLength;
    const output = [];
    for (let i = 0; i < maxLength; ++i) {
      const element = value[i];
      ArrayPrototypePush(output, typeof element === 'number' ? formatNumber(element) : formatBigInt(element));
    }
    if (remaining > 0) ArrayPrototypePush(output, remainingText(remaining));
    if (ctx.showHidden) {
      ctx.indentationLvl += 2;
      const buffer = TypedArrayPrototypeGetBuffer(value);
      const hidden = [
        ['BYTES_PER_ELEMENT', lookupValue(value, 'BYTES_PER_ELEMENT')],
        ['length', length],
        ['byteLength', TypedArrayPrototypeGetByteLength(value)],
        ['byteOffset', TypedArrayPrototypeGetByteOffset(value)],
        ['buffer', buffer],
      ];
      for (let i = 0; i < hidden.length; i++) {
        ArrayPrototypePush(output, `[${hidden[i][0]}]: ${formatValue(ctx, hidden[i][1], recurseTimes, true)}`);
      }
      ctx.indentationLvl -= 2;
    }
    return output;
  }

  function formatSet(ctx, value, recurseTimes) {
    const length = SetPrototypeGetSize(value);
    const maxLength = MathMin(MathMax(0, ctx.maxArrayLength), length);
    const remaining = length - maxLength;
    const output = [];
    ctx.indentationLvl += 2;
    const iterator = SetPrototypeValues(value);
    for (let i = 0; i < maxLength; i++) {
      const step = SetIteratorPrototypeNext(iterator);
      if (step.done) break;
      ArrayPrototypePush(output, formatValue(ctx, step.value, recurseTimes));
    }
    if (remaining > 0) ArrayPrototypePush(output, remainingText(remaining));
    ctx.indentationLvl -= 2;
    return output;
  }

  function formatMap(ctx, value, recurseTimes) {
    const length = MapPrototypeGetSize(value);
    const maxLength = MathMin(MathMax(0, ctx.maxArrayLength), length);
    const remaining = length - maxLength;
    const output = [];
    ctx.indentationLvl += 2;
    const iterator = MapPrototypeEntries(value);
    for (let i = 0; i < maxLength; i++) {
      const step = MapIteratorPrototypeNext(iterator);
      if (step.done) break;
      const entry = step.value;
      ArrayPrototypePush(
        output,
        `${formatValue(ctx, entry[0], recurseTimes)} => ${formatValue(ctx, entry[1], recurseTimes)}`,
      );
    }
    if (remaining > 0) ArrayPrototypePush(output, remainingText(remaining));
    ctx.indentationLvl -= 2;
    return output;
  }

  function formatWeakCollection() {
    return ['<items unknown>'];
  }

  /**
   * Promise state is not observable from inside the realm; the caller may know
   * it (it awaited the promise) and pass `promiseState(promise)` returning
   * `{ status: 'pending' | 'fulfilled' | 'rejected', value }`, or undefined.
   */
  function formatPromise(ctx, value, recurseTimes) {
    let state;
    if (ctx.promiseState !== undefined) {
      const details = ctx.promiseState(value);
      if (isObjectLike(details)) state = details;
    }
    const status = state === undefined ? undefined : ownDataValue(state, 'status');
    if (status === 'pending') return ['<pending>'];
    if (status !== 'fulfilled' && status !== 'rejected') return ['<unknown>'];
    ctx.indentationLvl += 2;
    const str = formatValue(ctx, ownDataValue(state, 'value'), recurseTimes);
    ctx.indentationLvl -= 2;
    return [status === 'rejected' ? `<rejected> ${str}` : str];
  }

  function formatProperty(ctx, value, recurseTimes, key, type, desc) {
    let name;
    let str;
    let extra = ' ';
    if (desc === undefined) desc = ObjectGetOwnPropertyDescriptor(value, key);
    if (desc === undefined) {
      const inherited = lookupDescriptor(value, key);
      desc =
        inherited === undefined
          ? { value: undefined, enumerable: true }
          : isAccessor(inherited)
            ? { get: inherited.get, set: inherited.set, enumerable: true }
            : { value: inherited.value, enumerable: true };
    }
    const accessor = isAccessor(desc);
    if (!accessor && desc.value !== undefined) {
      const diff = ctx.compact !== true || type !== kObjectType ? 2 : 3;
      ctx.indentationLvl += diff;
      str = formatValue(ctx, desc.value, recurseTimes);
      if (diff === 3 && ctx.breakLength < getStringWidth(str)) {
        extra = `\n${StringPrototypeRepeat(' ', ctx.indentationLvl)}`;
      }
      ctx.indentationLvl -= diff;
    } else if (accessor && desc.get !== undefined) {
      str = desc.set !== undefined ? '[Getter/Setter]' : '[Getter]';
    } else if (accessor && desc.set !== undefined) {
      str = '[Setter]';
    } else {
      str = 'undefined';
    }
    if (type === kArrayType) return str;
    if (typeof key === 'symbol') {
      name = `[${escapeBody(SymbolPrototypeToString(key), 39)}]`;
    } else if (key === '__proto__') {
      name = "['__proto__']";
    } else if (desc.enumerable === false) {
      name = `[${escapeBody(toStr(key), 39)}]`;
    } else if (isIdentifierKey(key)) {
      name = key;
    } else {
      name = strEscape(toStr(key));
    }
    return `${name}:${extra}${str}`;
  }

  function isIdentifierKey(key) {
    // /^[a-zA-Z_][a-zA-Z_0-9]*$/
    if (typeof key !== 'string' || key.length === 0) return false;
    for (let i = 0; i < key.length; i++) {
      const c = StringPrototypeCharCodeAt(key, i);
      const alpha = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
      if (!alpha && (i === 0 || c < 48 || c > 57)) return false;
    }
    return true;
  }

  // ---- layout

  function groupArrayElements(ctx, output, value) {
    let totalLength = 0;
    let maxLength = 0;
    let i = 0;
    let outputLength = output.length;
    if (ctx.maxArrayLength < output.length) outputLength--;
    const separatorSpace = 2;
    const dataLen = [];
    for (; i < outputLength; i++) {
      const len = getStringWidth(output[i]);
      dataLen[i] = len;
      totalLength += len + separatorSpace;
      if (maxLength < len) maxLength = len;
    }
    const actualMax = maxLength + separatorSpace;
    if (actualMax * 3 + ctx.indentationLvl < ctx.breakLength && (totalLength / actualMax > 5 || maxLength <= 6)) {
      const approxCharHeights = 2.5;
      const averageBias = MathSqrt(actualMax - totalLength / output.length);
      const biasedMax = MathMax(actualMax - 3 - averageBias, 1);
      const columns = MathMin(
        MathRound(MathSqrt(approxCharHeights * biasedMax * outputLength) / biasedMax),
        MathFloor((ctx.breakLength - ctx.indentationLvl) / actualMax),
        ctx.compact * 4,
        15,
      );
      if (columns <= 1) return output;
      const tmp = [];
      const maxLineLength = [];
      for (let c = 0; c < columns; c++) {
        let lineLength = 0;
        for (let j = c; j < output.length; j += columns) {
          if (dataLen[j] > lineLength) lineLength = dataLen[j];
        }
        ArrayPrototypePush(maxLineLength, lineLength + separatorSpace);
      }
      let padStart = true;
      if (value !== undefined) {
        const typed = isTypedArray(value);
        for (let k = 0; k < output.length; k++) {
          const element = typed ? value[k] : ownDataValue(value, k);
          if (typeof element !== 'number' && typeof element !== 'bigint') {
            padStart = false;
            break;
          }
        }
      }
      for (let k = 0; k < outputLength; k += columns) {
        const max = MathMin(k + columns, outputLength);
        let str = '';
        let j = k;
        for (; j < max - 1; j++) {
          const padding = maxLineLength[j - k] + output[j].length - dataLen[j];
          str += padStart
            ? StringPrototypePadStart(`${output[j]}, `, padding, ' ')
            : StringPrototypePadEnd(`${output[j]}, `, padding, ' ');
        }
        if (padStart) {
          const padding = maxLineLength[j - k] + output[j].length - dataLen[j] - separatorSpace;
          str += StringPrototypePadStart(output[j], padding, ' ');
        } else {
          str += output[j];
        }
        ArrayPrototypePush(tmp, str);
      }
      if (ctx.maxArrayLength < output.length) ArrayPrototypePush(tmp, output[outputLength]);
      return tmp;
    }
    return output;
  }

  function isBelowBreakLength(ctx, output, start, base) {
    let totalLength = output.length + start;
    if (totalLength + output.length > ctx.breakLength) return false;
    for (let i = 0; i < output.length; i++) {
      totalLength += output[i].length;
      if (totalLength > ctx.breakLength) return false;
    }
    return base === '' || !StringPrototypeIncludes(base, '\n');
  }

  function reduceToSingleString(ctx, output, base, braces, extrasType, recurseTimes, value) {
    if (ctx.compact !== true) {
      if (typeof ctx.compact === 'number' && ctx.compact >= 1) {
        const entries = output.length;
        if (extrasType === kArrayExtrasType && entries > 6) output = groupArrayElements(ctx, output, value);
        if (ctx.currentDepth - recurseTimes < ctx.compact && entries === output.length) {
          const start = output.length + ctx.indentationLvl + braces[0].length + base.length + 10;
          if (isBelowBreakLength(ctx, output, start, base)) {
            const joinedOutput = ArrayPrototypeJoin(output, ', ');
            if (!StringPrototypeIncludes(joinedOutput, '\n')) {
              return `${base ? `${base} ` : ''}${braces[0]} ${joinedOutput} ${braces[1]}`;
            }
          }
        }
      }
      const indentation = `\n${StringPrototypeRepeat(' ', ctx.indentationLvl)}`;
      return `${base ? `${base} ` : ''}${braces[0]}${indentation}  ${ArrayPrototypeJoin(output, `,${indentation}  `)}${indentation}${braces[1]}`;
    }
    if (isBelowBreakLength(ctx, output, 0, base)) {
      return `${braces[0]}${base ? ` ${base}` : ''} ${ArrayPrototypeJoin(output, ', ')} ${braces[1]}`;
    }
    const indentation = StringPrototypeRepeat(' ', ctx.indentationLvl);
    const ln = base === '' && braces[0].length === 1 ? ' ' : `${base ? ` ${base}` : ''}\n${indentation}  `;
    return `${braces[0]}${ln}${ArrayPrototypeJoin(output, `,\n${indentation}  `)} ${braces[1]}`;
  }

  // ---------------------------------------------------------------------------
  // Public API.

  function readOption(options, key) {
    if (!isObjectLike(options)) return DEFAULTS[key];
    const desc = ObjectGetOwnPropertyDescriptor(options, key);
    if (desc === undefined || isAccessor(desc) || desc.value === undefined) return DEFAULTS[key];
    return desc.value;
  }

  function makeContext(options) {
    const ctx = newContext({
      depth: readOption(options, 'depth'),
      maxArrayLength: readOption(options, 'maxArrayLength'),
      maxStringLength: readOption(options, 'maxStringLength'),
      breakLength: readOption(options, 'breakLength'),
      compact: readOption(options, 'compact'),
      sorted: readOption(options, 'sorted'),
      showHidden: readOption(options, 'showHidden') === true,
      promiseState: readOption(options, 'promiseState'),
    });
    if (typeof ctx.promiseState !== 'function') ctx.promiseState = undefined;
    if (ctx.depth === NumberPOSITIVE_INFINITY) ctx.depth = null;
    if (ctx.maxArrayLength === null) ctx.maxArrayLength = NumberPOSITIVE_INFINITY;
    if (ctx.maxStringLength === null) ctx.maxStringLength = NumberPOSITIVE_INFINITY;
    if (typeof ctx.sorted !== 'function') ctx.sorted = ctx.sorted === true;
    return ctx;
  }

  /** Node's `util.inspect(value, options)` for a value of this realm. Never throws. */
  function inspect(value, options) {
    try {
      return formatValue(makeContext(options), value, 0);
    } catch {
      return THREW;
    }
  }

  function formatWithDefaults(value, depth, showHidden) {
    const ctx = makeContext(undefined);
    if (depth !== undefined) ctx.depth = depth;
    ctx.showHidden = showHidden === true;
    return formatValue(ctx, value, 0);
  }

  function hasBuiltInToString(value) {
    const toStringDesc = lookupDescriptor(value, 'toString');
    const toPrimitiveDesc = lookupDescriptor(value, SymbolToPrimitive);
    const toStringFn = toStringDesc === undefined || isAccessor(toStringDesc) ? undefined : toStringDesc.value;
    const toPrimitiveFn =
      toPrimitiveDesc === undefined || isAccessor(toPrimitiveDesc) ? undefined : toPrimitiveDesc.value;
    if (
      (toStringDesc !== undefined && isAccessor(toStringDesc)) ||
      (toPrimitiveDesc !== undefined && isAccessor(toPrimitiveDesc))
    ) {
      return false;
    }
    let checkToString = true;
    let checkToPrimitive = true;
    if (typeof toStringFn !== 'function') {
      if (typeof toPrimitiveFn !== 'function') return true;
      if (ObjectPrototypeHasOwnProperty(value, SymbolToPrimitive)) return false;
      checkToString = false;
    } else if (ObjectPrototypeHasOwnProperty(value, 'toString')) {
      return false;
    } else if (typeof toPrimitiveFn !== 'function') {
      checkToPrimitive = false;
    } else if (ObjectPrototypeHasOwnProperty(value, SymbolToPrimitive)) {
      return false;
    }
    let pointer = value;
    do {
      pointer = ObjectGetPrototypeOf(pointer);
      if (pointer === null) return true;
    } while (
      !(checkToString && ObjectPrototypeHasOwnProperty(pointer, 'toString')) &&
      !(checkToPrimitive && ObjectPrototypeHasOwnProperty(pointer, SymbolToPrimitive))
    );
    const desc = ObjectGetOwnPropertyDescriptor(pointer, 'constructor');
    return (
      desc !== undefined &&
      !isAccessor(desc) &&
      typeof desc.value === 'function' &&
      SetPrototypeHas(builtInObjects, functionName(desc.value))
    );
  }

  let circularErrorMessage;
  function tryStringify(arg) {
    try {
      return JSONStringify(arg);
    } catch (err) {
      if (circularErrorMessage === undefined) {
        try {
          const a = {};
          a.a = a;
          JSONStringify(a);
        } catch (circularError) {
          circularErrorMessage = firstLine(ownDataValue(circularError, 'message'));
        }
      }
      // Only trust an error raised by JSON.stringify itself (an intrinsic TypeError of this realm).
      if (isObjectLike(err) && ObjectGetPrototypeOf(err) === TypeErrorCtor.prototype) {
        if (firstLine(ownDataValue(err, 'message')) === circularErrorMessage) return '[Circular]';
      }
      return THREW;
    }
  }

  function firstLine(message) {
    if (typeof message !== 'string') return '';
    const pos = StringPrototypeIndexOf(message, '\n');
    return pos === -1 ? message : StringPrototypeSlice(message, 0, pos);
  }

  function formatArg(arg, spec) {
    switch (spec) {
      case 115: {
        // %s
        if (typeof arg === 'number') return formatNumber(arg);
        if (typeof arg === 'bigint') return formatBigInt(arg);
        if (typeof arg !== 'object' || arg === null || !hasBuiltInToString(arg)) return toStr(arg);
        return formatWithDefaults(arg, 0, false);
      }
      case 106: // %j
        return tryStringify(arg);
      case 100: {
        // %d
        if (typeof arg === 'bigint') return formatBigInt(arg);
        if (typeof arg === 'symbol') return 'NaN';
        return formatNumber(NumberCtor(arg));
      }
      case 79: // %O
        return formatWithDefaults(arg, undefined, false);
      case 111: // %o
        return formatWithDefaults(arg, 4, true);
      case 105: {
        // %i
        if (typeof arg === 'bigint') return formatBigInt(arg);
        if (typeof arg === 'symbol') return 'NaN';
        return formatNumber(NumberParseInt(arg));
      }
      case 102: {
        // %f
        if (typeof arg === 'symbol') return 'NaN';
        return formatNumber(NumberParseFloat(arg));
      }
      default:
        return '';
    }
  }

  /** Node's `util.format(...args)` over an array of arguments (console.log). Never throws. */
  function formatLogArgs(args) {
    try {
      const count = args.length;
      const first = args[0];
      let a = 0;
      let str = '';
      let join = '';
      if (typeof first === 'string') {
        if (count === 1) return first;
        let lastPos = 0;
        for (let i = 0; i < first.length - 1; i++) {
          if (StringPrototypeCharCodeAt(first, i) === 37) {
            const nextChar = StringPrototypeCharCodeAt(first, ++i);
            if (a + 1 !== count) {
              let tempStr;
              switch (nextChar) {
                case 115:
                case 106:
                case 100:
                case 79:
                case 111:
                case 105:
                case 102:
                  try {
                    tempStr = formatArg(args[++a], nextChar);
                  } catch {
                    tempStr = THREW;
                  }
                  break;
                case 99: // %c
                  a += 1;
                  tempStr = '';
                  break;
                case 37: // %%
                  str += StringPrototypeSlice(first, lastPos, i);
                  lastPos = i + 1;
                  continue;
                default:
                  continue;
              }
              if (lastPos !== i - 1) str += StringPrototypeSlice(first, lastPos, i - 1);
              str += tempStr;
              lastPos = i + 1;
            } else if (nextChar === 37) {
              str += StringPrototypeSlice(first, lastPos, i);
              lastPos = i + 1;
            }
          }
        }
        if (lastPos !== 0) {
          a++;
          join = ' ';
          if (lastPos < first.length) str += StringPrototypeSlice(first, lastPos);
        }
      }
      while (a < count) {
        const value = args[a];
        str += join;
        str += typeof value !== 'string' ? formatWithDefaults(value, undefined, false) : value;
        join = ' ';
        a++;
      }
      return str;
    } catch {
      return THREW;
    }
  }

  return { inspect, formatLogArgs };
}
