// Realm-side source: part of the inspector (inspect/index.js).
// `util.format` over console arguments (`%s`, `%d`, `%j`, `%o`…).

import {
  isAccessor,
  isObjectLike,
  JSONStringify,
  NumberCtor,
  NumberParseFloat,
  NumberParseInt,
  ObjectGetOwnPropertyDescriptor,
  ObjectGetPrototypeOf,
  ObjectPrototypeHasOwnProperty,
  SafeSet,
  SetPrototypeAdd,
  SetPrototypeHas,
  StringPrototypeCharCodeAt,
  StringPrototypeIndexOf,
  StringPrototypeSlice,
  SymbolToPrimitive,
  TypeErrorCtor,
} from '../primordials.js';
import { functionName, lookupDescriptor, ownDataValue, toStr } from './access.js';
import { formatWithDefaults } from './index.js';
import { THREW } from './options.js';
import { formatBigInt, formatNumber } from './primitives.js';

// Global constructor names Node treats as built in (used by `%s`), built on first use.
let builtInObjects;
function builtInNames() {
  if (builtInObjects !== undefined) return builtInObjects;
  builtInObjects = new SafeSet();
  const builtInList =
    'Object Function Array Number Boolean String Symbol BigInt Date RegExp Error AggregateError EvalError ' +
    'RangeError ReferenceError SyntaxError TypeError URIError Map Set WeakMap WeakSet WeakRef ' +
    'FinalizationRegistry Promise Proxy ArrayBuffer SharedArrayBuffer DataView Int8Array Uint8Array ' +
    'Uint8ClampedArray Int16Array Uint16Array Int32Array Uint32Array Float32Array Float64Array ' +
    'BigInt64Array BigUint64Array JSON Math Reflect Atomics Intl WebAssembly';
  let start = 0;
  for (let i = 0; i <= builtInList.length; i++) {
    if (i === builtInList.length || StringPrototypeCharCodeAt(builtInList, i) === 32) {
      SetPrototypeAdd(builtInObjects, StringPrototypeSlice(builtInList, start, i));
      start = i + 1;
    }
  }
  return builtInObjects;
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
    SetPrototypeHas(builtInNames(), functionName(desc.value))
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
export function formatLogArgs(args) {
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
