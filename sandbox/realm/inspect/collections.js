// Realm-side source: part of the inspector (inspect/index.js).
// Arrays, typed arrays, ArrayBuffers, Maps, Sets, Promises and properties.

import {
  ArrayPrototypePush,
  isAccessor,
  isObjectLike,
  MapIteratorPrototypeNext,
  MapPrototypeEntries,
  MapPrototypeGetSize,
  MathMax,
  MathMin,
  NumberPrototypeToString,
  ObjectGetOwnPropertyDescriptor,
  ObjectKeys,
  SetIteratorPrototypeNext,
  SetPrototypeGetSize,
  SetPrototypeValues,
  StringPrototypeCharCodeAt,
  StringPrototypeRepeat,
  SymbolPrototypeToString,
  TypedArrayPrototypeGetBuffer,
  TypedArrayPrototypeGetByteLength,
  TypedArrayPrototypeGetByteOffset,
  TypedArrayPrototypeGetLength,
  Uint8ArrayCtor,
} from '../primordials.js';
import { isIndexKey, lookupDescriptor, lookupValue, ownDataValue, toStr } from './access.js';
import { formatValue } from './format-value.js';
import { kArrayType, kObjectType } from './options.js';
import { escapeBody, formatBigInt, formatNumber, getStringWidth, strEscape } from './primitives.js';

function remainingText(remaining) {
  return `... ${remaining} more item${remaining > 1 ? 's' : ''}`;
}

export function formatArrayBuffer(ctx, value) {
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

export function formatArray(ctx, value, recurseTimes) {
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

export function formatTypedArray(ctx, value, recurseTimes) {
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

export function formatSet(ctx, value, recurseTimes) {
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

export function formatMap(ctx, value, recurseTimes) {
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

export function formatWeakCollection() {
  return ['<items unknown>'];
}

/**
 * Promise state is not observable from inside the realm; the caller may know
 * it (it awaited the promise) and pass `promiseState(promise)` returning
 * `{ status: 'pending' | 'fulfilled' | 'rejected', value }`, or undefined.
 */
export function formatPromise(ctx, value, recurseTimes) {
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

export function formatProperty(ctx, value, recurseTimes, key, type, desc) {
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
