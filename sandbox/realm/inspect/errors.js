// Realm-side source: part of the inspector (inspect/index.js).
// Errors: their stack text, name and message as Node prints them.

import {
  ArrayIsArray,
  ArrayPrototypeIncludes,
  ArrayPrototypeIndexOf,
  ArrayPrototypeJoin,
  ArrayPrototypePush,
  isAccessor,
  isError,
  MathMin,
  NumberNaN,
  ObjectGetOwnPropertyDescriptor,
  RegExpPrototypeExec,
  StringPrototypeCharCodeAt,
  StringPrototypeEndsWith,
  StringPrototypeIncludes,
  StringPrototypeIndexOf,
  StringPrototypeRepeat,
  StringPrototypeSlice,
  StringPrototypeStartsWith,
} from '../primordials.js';
import { arrayRemoveAt, lookupValue, replaceAllStr, safeToStr, splitStr } from './access.js';
import { getPrefix } from './format-value.js';

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

export function formatError(err, ctorName, tag, ctx, keys) {
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
