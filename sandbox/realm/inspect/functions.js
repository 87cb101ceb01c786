// Realm-side source: part of the inspector (inspect/index.js).
// Classes and functions: `[class A extends B]`, `[Function: f]`, `[AsyncFunction: g]`.

import {
  AsyncFunctionPrototype,
  AsyncGeneratorFunctionPrototype,
  FunctionPrototypeToString,
  GeneratorFunctionPrototype,
  ObjectGetPrototypeOf,
  RegExpPrototypeExec,
  StringPrototypeCharCodeAt,
  StringPrototypeIncludes,
  StringPrototypeIndexOf,
  StringPrototypeSlice,
  StringPrototypeStartsWith,
} from '../primordials.js';
import { functionName } from './access.js';
import { getClassBase } from './format-value.js';

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

export function getFunctionBase(value, ctorName, tag) {
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
