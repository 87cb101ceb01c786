import { type Token, tokenizer, tokTypes } from 'acorn';

/**
 * What a completion request asks about, read from the text alone (no realm
 * involved): the identifier being typed at the cursor and, when it follows a
 * dot, the dotted path of identifiers before it (`shared.rates.EU|` → path
 * `['shared', 'rates']`, prefix `EU`). Anything else before the dot (a call,
 * an index, a literal) is never evaluated: no candidates. Inside a string, a
 * comment or a template's text there is nothing to complete either.
 */

export interface CompletionTarget {
  /** Identifiers before the last dot; empty for a bare identifier (globals, bindings, keywords). */
  readonly path: readonly string[];
  /** The part of the identifier already typed. */
  readonly prefix: string;
  /** Where the candidates go: they replace `code.slice(from, to)`. */
  readonly from: number;
  readonly to: number;
}

/** A path longer than this is not followed (each step is a property read in the realm). */
export const MAX_COMPLETION_PATH = 32;

export const KEYWORDS: readonly string[] = [
  'async',
  'await',
  'break',
  'case',
  'catch',
  'class',
  'const',
  'continue',
  'debugger',
  'default',
  'delete',
  'do',
  'else',
  'extends',
  'false',
  'finally',
  'for',
  'function',
  'if',
  'in',
  'instanceof',
  'let',
  'new',
  'null',
  'of',
  'return',
  'static',
  'super',
  'switch',
  'this',
  'throw',
  'true',
  'try',
  'typeof',
  'var',
  'void',
  'while',
  'yield',
];

const WORD = /^[\p{ID_Start}$_][\p{ID_Continue}$\u200c\u200d]*$/u;

/** The target at `cursor` in `code`, or undefined when there is nothing to complete there. */
export function completionTarget(code: string, cursor: number): CompletionTarget | undefined {
  const before = code.slice(0, cursor);
  const tokens: Token[] = [];
  let commentEnd = -1;
  try {
    for (const token of tokenizer(before, {
      ecmaVersion: 'latest',
      allowAwaitOutsideFunction: true,
      allowReturnOutsideFunction: true,
      allowHashBang: true,
      onComment: (_block, _text, _start, end) => {
        commentEnd = end;
      },
    })) {
      tokens.push(token);
    }
  } catch {
    // An unterminated string, comment, template or regular expression: the cursor is inside it.
    return undefined;
  }
  if (commentEnd === before.length) return undefined; // in a line comment (or right after a block comment)
  let i = tokens.length - 1;
  let prefix = '';
  let last = tokens[i];
  if (last && last.end === before.length && isWord(last)) {
    prefix = before.slice(last.start, last.end);
    i--;
    last = tokens[i];
  }
  const to = cursor;
  const from = cursor - prefix.length;
  if (!last || (last.type !== tokTypes.dot && last.type !== tokTypes.questionDot)) {
    // A bare identifier. Nothing is being typed right after a value (`f()`, `1`, `'s'`): no candidates.
    if (prefix === '' && last && last.end === before.length && endsValue(last)) return undefined;
    return { path: [], prefix, from, to };
  }
  const path: string[] = [];
  while (last && (last.type === tokTypes.dot || last.type === tokTypes.questionDot)) {
    // Only `name.name.…`: after a call, an index or a literal (`f().a.`, `a[0].`, `1.5.`) nothing is evaluated.
    const name = tokens[i - 1];
    if (!name || name.type !== tokTypes.name) return undefined;
    path.unshift(before.slice(name.start, name.end));
    if (path.length > MAX_COMPLETION_PATH) return undefined;
    i -= 2;
    last = tokens[i];
  }
  return { path, prefix, from, to };
}

function endsValue(token: Token): boolean {
  const type = token.type;
  return (
    isWord(token) ||
    type === tokTypes.num ||
    type === tokTypes.string ||
    type === tokTypes.regexp ||
    type === tokTypes.parenR ||
    type === tokTypes.bracketR ||
    type === tokTypes.braceR ||
    type === tokTypes.backQuote
  );
}

function isWord(token: Token): boolean {
  return (
    (token.type === tokTypes.name || token.type.keyword !== undefined) &&
    WORD.test(String((token as Token & { value: unknown }).value))
  );
}
