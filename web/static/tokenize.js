// A small JavaScript tokenizer for the console: syntax highlighting and
// "is this input complete?" (Enter runs complete input, and starts a new line
// in incomplete input). It is not a parser: it knows strings, template
// literals (with nested `${}`), comments, regular expression literals (by the
// usual previous-token rule), numbers, words and brackets. Anything it cannot
// judge counts as complete, so the server reports the syntax error.

const KEYWORDS = new Set(
  (
    'break case catch class const continue debugger default delete do else export extends finally for function if ' +
    'import in instanceof let new return super switch throw try typeof var void while with yield async await of ' +
    'static get set'
  ).split(' '),
);
const LITERALS = new Set(['true', 'false', 'null', 'undefined', 'NaN', 'Infinity', 'this']);
const GLOBALS = new Set(['db', 'shared', 'sql', 'console']);
// After these words an expression starts, so `/` begins a regular expression.
const BEFORE_EXPRESSION = new Set([
  'return',
  'typeof',
  'instanceof',
  'in',
  'of',
  'new',
  'delete',
  'void',
  'throw',
  'case',
  'do',
  'else',
  'yield',
  'await',
]);
// Longest first: maximal munch.
const OPERATORS = [
  '>>>=',
  '...',
  '===',
  '!==',
  '**=',
  '<<=',
  '>>=',
  '>>>',
  '&&=',
  '||=',
  '??=',
  '=>',
  '==',
  '!=',
  '<=',
  '>=',
  '&&',
  '||',
  '??',
  '?.',
  '++',
  '--',
  '+=',
  '-=',
  '*=',
  '/=',
  '%=',
  '&=',
  '|=',
  '^=',
  '**',
  '<<',
  '>>',
];
// An input whose last token is one of these continues on the next line.
const CONTINUES = new Set([
  ',',
  '.',
  '?.',
  '=>',
  '=',
  '+',
  '-',
  '*',
  '/',
  '%',
  '**',
  '&&',
  '||',
  '??',
  '?',
  ':',
  '&',
  '|',
  '^',
  '<',
  '>',
  '<=',
  '>=',
  '==',
  '===',
  '!=',
  '!==',
  '<<',
  '>>',
  '>>>',
  '+=',
  '-=',
  '*=',
  '/=',
  '%=',
  '**=',
  '&&=',
  '||=',
  '??=',
  '&=',
  '|=',
  '^=',
  '<<=',
  '>>=',
  '>>>=',
  '!',
  '~',
  '...',
]);

const OPEN = { '(': ')', '[': ']', '{': '}' };
const isIdentStart = (c) => /[A-Za-z_$#\u0080-\uffff]/.test(c);
const isIdentPart = (c) => /[\w$\u0080-\uffff]/.test(c);
const NUMBER =
  /^(?:0[xX][\da-fA-F_]+n?|0[oO][0-7_]+n?|0[bB][01_]+n?|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?n?)/;

/**
 * Splits `src` into tokens `{ type, start, end }` covering it completely.
 * Types: ws, comment, string, template, regex, number, keyword, literal,
 * global, property, function, ident, punct. Also returns the brackets still
 * open at the end and what is unterminated (`template`, `comment`, `string`
 * with a line continuation) when the input ends inside it.
 */
export function tokenize(src) {
  const tokens = [];
  const stack = [];
  const n = src.length;
  let i = 0;
  let prev = null; // the previous significant token: { type, text }
  let unterminated = null;
  let mismatched = false;

  const push = (type, start, end) => {
    tokens.push({ type, start, end });
    if (type !== 'ws' && type !== 'comment') prev = { type, text: src.slice(start, end) };
  };

  const regexAllowed = () => {
    if (prev === null) return true;
    if (prev.type === 'punct') return !(prev.text === ')' || prev.text === ']' || prev.text === '}');
    if (prev.type === 'keyword') return BEFORE_EXPRESSION.has(prev.text);
    return false;
  };

  // Reads template text from `i` up to the closing backtick or the next `${`.
  const readTemplate = (start) => {
    while (i < n) {
      const c = src[i];
      if (c === '\\') {
        i += 2;
        continue;
      }
      if (c === '`') {
        i++;
        push('template', start, i);
        return;
      }
      if (c === '$' && src[i + 1] === '{') {
        if (i > start) push('template', start, i);
        push('punct', i, i + 2);
        i += 2;
        stack.push('${');
        return;
      }
      i++;
    }
    i = n;
    push('template', start, n);
    unterminated = 'template';
  };

  while (i < n) {
    const start = i;
    const c = src[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v' || c === '\u00a0') {
      while (i < n && /\s/.test(src[i])) i++;
      push('ws', start, i);
    } else if (c === '/' && src[i + 1] === '/') {
      while (i < n && src[i] !== '\n') i++;
      push('comment', start, i);
    } else if (c === '/' && src[i + 1] === '*') {
      const close = src.indexOf('*/', i + 2);
      if (close === -1) {
        i = n;
        unterminated = 'comment';
      } else i = close + 2;
      push('comment', start, i);
    } else if (c === '"' || c === "'") {
      i++;
      let continued = false;
      for (;;) {
        if (i >= n) {
          if (continued) unterminated = 'string';
          break;
        }
        const d = src[i];
        if (d === '\\') {
          continued = src[i + 1] === '\n' || (src[i + 1] === '\r' && src[i + 2] === '\n');
          i += src[i + 1] === '\r' && src[i + 2] === '\n' ? 3 : 2;
          if (i >= n && src[n - 1] === '\\') unterminated = 'string';
          continue;
        }
        continued = false;
        if (d === '\n') break; // an unterminated string: a syntax error for the server to report
        i++;
        if (d === c) break;
      }
      push('string', start, Math.min(i, n));
    } else if (c === '`') {
      i++;
      readTemplate(start);
    } else if (c === '}' && stack[stack.length - 1] === '${') {
      stack.pop();
      push('punct', i, i + 1);
      i++;
      readTemplate(i);
    } else if (/\d/.test(c) || (c === '.' && /\d/.test(src[i + 1] ?? ''))) {
      const match = NUMBER.exec(src.slice(i, i + 400));
      i += match ? match[0].length : 1;
      while (i < n && isIdentPart(src[i])) i++; // `1px`: keep it one (invalid) token
      push('number', start, i);
    } else if (isIdentStart(c)) {
      i++;
      while (i < n && isIdentPart(src[i])) i++;
      const word = src.slice(start, i);
      const afterDot = prev !== null && prev.type === 'punct' && (prev.text === '.' || prev.text === '?.');
      let j = i;
      while (j < n && (src[j] === ' ' || src[j] === '\t')) j++;
      const called = src[j] === '(' || (src[j] === '`' && !KEYWORDS.has(word));
      let type = 'ident';
      if (afterDot) type = called ? 'function' : 'property';
      else if (LITERALS.has(word)) type = 'literal';
      else if (KEYWORDS.has(word)) type = 'keyword';
      else if (GLOBALS.has(word)) type = 'global';
      else if (called) type = 'function';
      push(type, start, i);
    } else if (c === '/' && regexAllowed()) {
      // A regular expression literal: up to an unescaped `/` outside a class, on this line.
      let j = i + 1;
      let inClass = false;
      let ok = false;
      while (j < n && src[j] !== '\n') {
        const d = src[j];
        if (d === '\\') j += 2;
        else {
          if (d === '[') inClass = true;
          else if (d === ']') inClass = false;
          else if (d === '/' && !inClass) {
            ok = true;
            j++;
            break;
          }
          j++;
        }
      }
      if (ok) {
        while (j < n && /[a-z]/i.test(src[j])) j++;
        i = j;
        push('regex', start, i);
      } else {
        i++;
        push('punct', start, i);
      }
    } else {
      const op = OPERATORS.find((candidate) => src.startsWith(candidate, i));
      // `?.` followed by a digit is `? .5`, not optional chaining.
      if (op && !(op === '?.' && /\d/.test(src[i + 2] ?? ''))) i += op.length;
      else i++;
      const text = src.slice(start, i);
      if (OPEN[text]) stack.push(text);
      else if (text === ')' || text === ']' || text === '}') {
        const top = stack[stack.length - 1];
        if (top !== undefined && OPEN[top] === text) stack.pop();
        else mismatched = true;
      }
      push('punct', start, i);
    }
  }
  return { tokens, open: stack, unterminated, mismatched, last: prev };
}

/**
 * Whether Enter should run `src` (rather than start a new line): brackets
 * balanced, no template literal, block comment or continued string left
 * open, and not ending with an operator that needs a right-hand side.
 * Unbalanced closing brackets count as complete: the server says why.
 */
export function isComplete(src) {
  if (src.trim() === '') return false;
  const { open, unterminated, mismatched, last } = tokenize(src);
  if (mismatched) return true;
  if (unterminated !== null || open.length > 0) return false;
  if (last !== null && last.type === 'punct' && CONTINUES.has(last.text)) return false;
  return true;
}

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' };
export const escapeHtml = (text) => text.replace(/[&<>"]/g, (c) => ESCAPES[c]);

const CLASSES = {
  comment: 'tok-com',
  string: 'tok-str',
  template: 'tok-str',
  regex: 'tok-re',
  number: 'tok-num',
  keyword: 'tok-kw',
  literal: 'tok-lit',
  global: 'tok-glob',
  property: 'tok-prop',
  function: 'tok-fn',
  punct: 'tok-punct',
};

/** HTML for `src` with token spans (`tok-*` classes); the text is escaped. */
export function highlight(src) {
  const { tokens } = tokenize(src);
  let html = '';
  for (const token of tokens) {
    const text = escapeHtml(src.slice(token.start, token.end));
    const cls = CLASSES[token.type];
    html += cls ? `<span class="${cls}">${text}</span>` : text;
  }
  return html;
}
