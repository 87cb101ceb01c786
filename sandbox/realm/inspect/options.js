// Realm-side source: part of the inspector (inspect/index.js).
// The inspector's options: defaults, and the context one call formats with.

import { isAccessor, isObjectLike, NumberPOSITIVE_INFINITY, ObjectGetOwnPropertyDescriptor } from '../primordials.js';
import { newContext } from './format-value.js';

export const kObjectType = 0;
export const kArrayType = 1;
export const kArrayExtrasType = 2;
export const kMinLineLength = 16;
export const THREW = '[inspection threw]';

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

function readOption(options, key) {
  if (!isObjectLike(options)) return DEFAULTS[key];
  const desc = ObjectGetOwnPropertyDescriptor(options, key);
  if (desc === undefined || isAccessor(desc) || desc.value === undefined) return DEFAULTS[key];
  return desc.value;
}

export function makeContext(options) {
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
