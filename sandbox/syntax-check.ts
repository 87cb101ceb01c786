import vm from 'node:vm';
import * as acorn from 'acorn';

/**
 * V8's own verdict on a console input, before the REPL transform: the
 * message, position and source excerpt the Node REPL would print for a syntax
 * error. The user's text is only compiled (`new vm.Script`, never run, bound
 * to no context), so nothing in it executes; compiling is not code
 * generation from strings, so this works in executors too.
 *
 * A script cannot hold top-level `await`, which sessions allow. When the
 * text mentions `await`, it is compiled as the body of an async function
 * first: when that compiles, the input is fine as far as V8 goes and the
 * parser behind the transform has the last word (see repl-transform.ts);
 * the script compile, which then fails in the common case, is left until
 * that parser too refuses the text. When both fail, the compile that got
 * further through the text names the real problem (a script stops at the
 * first `await` it cannot take as a name).
 */

export interface V8SyntaxError {
  readonly message: string;
  /** 1-based, counted as V8 counts lines (`\n`, `\r\n`, `\r`, U+2028, U+2029). */
  readonly line: number;
  readonly column: number;
  /** The offending line and V8's underline, as Node prints them (absent for very long lines). */
  readonly excerpt?: string;
}

export type SyntaxVerdict =
  | { readonly kind: 'ok' }
  /**
   * Fine as an async function body: the input uses top-level `await` (or
   * also compiles as a script: `scriptError()` is then undefined). Compiled
   * as a script only when asked, which is when the parser refuses the text.
   */
  | { readonly kind: 'async'; readonly scriptError: () => V8SyntaxError | undefined }
  | { readonly kind: 'error'; readonly error: V8SyntaxError };

const FILENAME = 'vmgate:syntax';
const ASYNC_HEAD = '(async function () {\n';
/** Node leaves out longer source lines from the frames it builds; so do we. */
const MAX_EXCERPT_LINE = 1000;

export function checkSyntax(code: string): SyntaxVerdict {
  const verdict = v8Verdict(code);
  if (verdict.kind !== 'error' || verdict.error.excerpt !== undefined) return verdict;
  return { kind: 'error', error: { ...verdict.error, column: longLineColumn(code, verdict.error) } };
}

function v8Verdict(code: string): SyntaxVerdict {
  if (!/\bawait\b/.test(code)) {
    const scriptError = compileError(code, 0);
    return scriptError ? { kind: 'error', error: scriptError } : { kind: 'ok' };
  }
  // One compile that succeeds instead of a script compile that fails (a
  // thrown SyntaxError and its stack) followed by this one: every `await db…`
  // input took both.
  const closed = compileError(`${ASYNC_HEAD}${code}\n})`, 1);
  if (!closed) return { kind: 'async', scriptError: () => compileError(code, 0) };
  const scriptError = compileError(code, 0);
  if (!scriptError) return { kind: 'ok' };
  if (closed.line <= lineCount(code)) {
    return { kind: 'error', error: before(closed, scriptError) ? scriptError : closed };
  }
  // The complaint is about the wrapper's own closing: the input is
  // unfinished. Without the closing, V8 says where, in its own words.
  const open = compileError(`${ASYNC_HEAD}${code}`, 1);
  if (open && open.line <= lineCount(code) && !isEndOfInput(code, open)) return { kind: 'error', error: open };
  return { kind: 'error', error: endOfInput(code) };
}

function compileError(source: string, lineOffset: number): V8SyntaxError | undefined {
  try {
    new vm.Script(source, { filename: FILENAME });
    return undefined;
  } catch (error) {
    // A host SyntaxError made by V8 for this compile: safe to read. (Not
    // checked with instanceof: a test runner's realm has its own Error.)
    const { message, stack } = error as { message?: unknown; stack?: unknown };
    return {
      message: typeof message === 'string' ? message : String(error),
      ...position(typeof stack === 'string' ? stack : undefined, lineOffset),
    };
  }
}

/**
 * Node puts `<file>:<line>`, the source line and V8's underline in front of
 * a compile error's stack (its "arrow"). Without it (never seen on Node 20),
 * the error is reported at 1:1.
 */
function position(stack: string | undefined, lineOffset: number): Omit<V8SyntaxError, 'message'> {
  const match = stack === undefined ? null : /^vmgate:syntax:(\d+)\n([^\n]*)\n([ \t]*)(\^*)[^\n]*\n\n/.exec(stack);
  if (!match) return { line: 1, column: 1 };
  const [, line = '1', sourceLine = '', indent = '', carets = ''] = match;
  const excerpt = sourceLine.length <= MAX_EXCERPT_LINE ? `${sourceLine}\n${indent}${carets}` : undefined;
  return { line: Math.max(1, Number(line) - lineOffset), column: indent.length + 1, ...(excerpt ? { excerpt } : {}) };
}

/**
 * Node's underline stops after about a thousand columns. On a longer line
 * the column is the JavaScript parser's, when it fails on the same line.
 */
function longLineColumn(code: string, error: V8SyntaxError): number {
  try {
    acorn.parse(code, { ecmaVersion: 'latest', allowAwaitOutsideFunction: true, locations: true });
  } catch (err) {
    const loc = (err as { loc?: { line?: unknown; column?: unknown } }).loc;
    if (loc?.line === error.line && typeof loc.column === 'number') return loc.column + 1;
  }
  return error.column;
}

/** `a` is at an earlier position than `b`. */
function before(a: V8SyntaxError, b: V8SyntaxError): boolean {
  return a.line < b.line || (a.line === b.line && a.column < b.column);
}

function isEndOfInput(code: string, error: V8SyntaxError): boolean {
  const offset = offsetOf(code, error.line, error.column);
  return offset === undefined || code.slice(offset).trim() === '';
}

/** V8's complaint about unfinished input, at its end. */
function endOfInput(code: string): V8SyntaxError {
  const starts = lineStarts(code);
  const last = code.slice(starts.at(-1) ?? 0);
  const excerpt = last.length <= MAX_EXCERPT_LINE ? `${last}\n${last.replace(/[^\t]/g, ' ')}` : undefined;
  return {
    message: 'Unexpected end of input',
    line: starts.length,
    column: last.length + 1,
    ...(excerpt !== undefined ? { excerpt } : {}),
  };
}

const LINE_BREAK = /\r\n|[\n\r\u2028\u2029]/g;

/** Where each line starts, lines counted as V8 counts them (also in stack positions). */
export function lineStarts(code: string): number[] {
  const starts = [0];
  for (const match of code.matchAll(LINE_BREAK)) starts.push((match.index ?? 0) + match[0].length);
  return starts;
}

function lineCount(code: string): number {
  return lineStarts(code).length;
}

function offsetOf(code: string, line: number, column: number): number | undefined {
  const start = lineStarts(code)[line - 1];
  return start === undefined ? undefined : start + column - 1;
}

/** The line at a 1-based position and a caret under the column, for errors V8 did not report. */
export function excerptAt(code: string, line: number, column: number): string | undefined {
  const starts = lineStarts(code);
  const start = starts[line - 1];
  if (start === undefined) return undefined;
  const next = starts[line];
  const text = code.slice(start, next === undefined ? code.length : next).replace(/(\r\n|[\n\r\u2028\u2029])$/, '');
  if (text.length > MAX_EXCERPT_LINE) return undefined;
  return `${text}\n${text.slice(0, column - 1).replace(/[^\t]/g, ' ')}^`;
}
