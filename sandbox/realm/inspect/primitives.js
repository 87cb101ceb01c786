// Realm-side source: part of the inspector (inspect/index.js).
// Strings (quoting, escaping, display width) and primitives.

import {
  ArrayPrototypeJoin,
  ArrayPrototypePush,
  NumberPrototypeToString,
  ObjectIs,
  StringPrototypeCharCodeAt,
  StringPrototypeCodePointAt,
  StringPrototypeIncludes,
  StringPrototypeIndexOf,
  StringPrototypeNormalize,
  StringPrototypePadStart,
  StringPrototypeRepeat,
  StringPrototypeSlice,
  StringPrototypeToUpperCase,
  SymbolPrototypeToString,
} from '../primordials.js';
import { kMinLineLength } from './options.js';

// Escapes for control characters, the single quote and the backslash (C0 and
// C1 ranges), built on first use: most realms never render a string.
let meta;
function escapes() {
  if (meta !== undefined) return meta;
  meta = [];
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
  return meta;
}

function addQuotes(str, quotes) {
  if (quotes === -1) return `"${str}"`;
  if (quotes === -2) return `\`${str}\``;
  return `'${str}'`;
}

/** Escapes control characters, lone surrogates, the backslash and the quote code `singleQuote`. */
export function escapeBody(str, singleQuote) {
  let result = '';
  let last = 0;
  const length = str.length;
  for (let i = 0; i < length; i++) {
    const point = StringPrototypeCharCodeAt(str, i);
    if (point === singleQuote || point === 92 || point < 32 || (point > 126 && point < 160)) {
      result += StringPrototypeSlice(str, last, i) + escapes()[point];
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

export function strEscape(str) {
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
export function getStringWidth(str) {
  let width = 0;
  for (let i = 0; i < str.length; i++) {
    const code = StringPrototypeCharCodeAt(str, i);
    if (code >= 127) {
      const rest = StringPrototypeNormalize(StringPrototypeSlice(str, i), 'NFC');
      for (let j = 0; j < rest.length; j++) {
        const point = /** @type {number} */ (StringPrototypeCodePointAt(rest, j));
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

// Primitives.

export function formatNumber(number) {
  if (ObjectIs(number, -0)) return '-0';
  return `${number}`;
}

export function formatBigInt(bigint) {
  return `${bigint}n`;
}

export function formatPrimitive(value, ctx) {
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
