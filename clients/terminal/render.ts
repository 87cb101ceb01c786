import type { Hello, ServerFrame } from './connection';

/**
 * How the terminal client shows frames. Results are the server's `text` (the
 * Node REPL's rendering), colored the way the Node REPL colors them; errors
 * are red, warnings yellow, logs by level, notices dim. Every text that came
 * from a session is shown with its control characters escaped (`visible`).
 */

/** C0 controls but `\t` and `\n`, DEL, and C1 controls (0x9B is a one-byte CSI to some terminals). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;

/**
 * Text from a session, safe to write to a terminal: control characters (all
 * but newline and tab) become `\xHH`, as `util.inspect` writes them, so a
 * string another user stored cannot retitle the window (OSC 0), write the
 * clipboard (OSC 52), erase lines or move the cursor.
 */
export function visible(text: string): string {
  return text.replace(CONTROL, (ch) => `\\x${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

const SGR = {
  reset: '\x1b[0m',
  bold: '\x1b[1m',
  dim: '\x1b[2m',
  red: '\x1b[31m',
  green: '\x1b[32m',
  yellow: '\x1b[33m',
  blue: '\x1b[34m',
  magenta: '\x1b[35m',
  cyan: '\x1b[36m',
  grey: '\x1b[90m',
} as const;

export type StyleName = Exclude<keyof typeof SGR, 'reset'>;

export class Style {
  readonly enabled: boolean;
  constructor(enabled: boolean) {
    this.enabled = enabled;
  }
  /** `text` escaped (`visible`: it may hold a session's text), in the style when colors are on. */
  apply(name: StyleName, text: string): string {
    const safe = visible(text);
    if (!this.enabled || safe === '') return safe;
    // Per line, so a reset never has to cross a line another writer redraws.
    return safe
      .split('\n')
      .map((line) => (line === '' ? line : `${SGR[name]}${line}${SGR.reset}`))
      .join('\n');
  }
}

/**
 * Whether to color: `--color`/`--no-color` when given, else off with a
 * non-empty `NO_COLOR` (no-color.org), else on when stdout is a TTY
 * (`FORCE_COLOR` other than `0` turns it on as well).
 */
export function colorEnabled(flag: boolean | undefined, env: NodeJS.ProcessEnv, isTTY: boolean): boolean {
  if (flag !== undefined) return flag;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '' && env.FORCE_COLOR !== '0') return true;
  return isTTY;
}

export interface EvalStats {
  readonly ms: number;
  readonly cpuMs: number;
  readonly dbMs: number;
  readonly queries: number;
}

export function renderHello(hello: Hello, style: Style): string {
  const parts = [`vmgate ${hello.server?.version ?? '?'}`, `session ${hello.session}`];
  parts.push(hello.shared ? `shared state ${hello.shared.version}` : 'no shared state');
  if (hello.user) parts.push(`user ${hello.user}`);
  if (!hello.resume) parts.push('no resume');
  return style.apply('dim', `${parts.join(' · ')} — .help for help`);
}

const LOG_STYLES: Readonly<Record<string, StyleName | undefined>> = {
  error: 'red',
  warn: 'yellow',
  info: 'cyan',
  debug: 'grey',
  log: undefined,
};

export function renderLog(frame: ServerFrame, style: Style): string {
  const text = visible(String(frame.text ?? ''));
  const name = LOG_STYLES[String(frame.level)];
  return name ? style.apply(name, text) : text;
}

export interface ErrorBody {
  readonly code: string;
  readonly message: string;
  readonly text?: string;
  readonly [field: string]: unknown;
}

/** An error as text mode shows it: the REPL's text when there is one, else `Error [CODE]: message`. */
export function errorText(error: ErrorBody): string {
  if (typeof error.text === 'string' && error.text !== '') return error.text;
  return `Error [${error.code}]: ${error.message}`;
}

/** A terminal frame (result, error, ok, pong) as the user sees it. */
export function renderTerminal(frame: ServerFrame, style: Style): string {
  switch (frame.type) {
    case 'result':
      return highlightInspect(String(frame.text ?? ''), style);
    case 'error':
      return style.apply('red', errorText(frame.error as ErrorBody));
    case 'ok':
      return style.apply('dim', 'ok');
    case 'pong':
      return style.apply('dim', 'pong');
    default:
      return style.apply('dim', JSON.stringify(frame));
  }
}

export function renderStats(stats: EvalStats | undefined): string {
  if (!stats) return 'no evaluation has finished yet';
  const n = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(2));
  return `${n(stats.ms)} ms total, ${n(stats.cpuMs)} ms JavaScript, ${n(stats.dbMs)} ms database (${stats.queries} ${
    stats.queries === 1 ? 'query' : 'queries'
  })`;
}

export function helpText(): string {
  return [
    'Type JavaScript to evaluate it in the session; bindings persist, top-level await works.',
    "An incomplete input continues on the next line (prompt '... ').",
    "  shared        the gateway's shared, read-only state",
    "  db            the session's database (Kysely), when the gateway has one",
    'Commands:',
    '  .commit      commit the open transaction',
    '  .rollback    roll back the open transaction',
    '  .stats       where the last evaluation spent its time',
    '  .break       abandon a multi-line input',
    '  .exit        end the session and quit (its open transaction is rolled back)',
    '  .help        this text',
    'Keys: Ctrl+C interrupts a running evaluation, clears the line at the prompt,',
    '      and twice in a row quits; Ctrl+D quits; Up/Down walk the history;',
    '      Tab completes names (twice: lists the candidates).',
  ].join('\n');
}

// ---- result highlighting -----------------------------------------------------

const SPECIAL =
  /^\[(?:(?:Async|Generator|AsyncGenerator)?Function|class|Getter|Setter|Getter\/Setter|Circular \*\d+|Array|Object)\b[^\]\n]*\]/;
const DATE = /^\d{4,}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z/;
const NUMBER = /^-?(?:\d[\d_]*(?:\.\d[\d_]*)?(?:e[+-]?\d+)?n?|Infinity|NaN)/;
const WORD = /^[A-Za-z_$][\w$]*/;
const EMPTY_ITEMS = /^<\d+ empty items?>/;
const REF = /^<ref \*\d+>/;

/**
 * Colors a value as `util.inspect(value, { colors: true })` would, from its
 * text: strings green, numbers, bigints and booleans yellow, `undefined`
 * grey, `null` bold, dates magenta, functions, classes, getters and circular
 * markers cyan. Keys stay plain. Never changes the characters.
 */
export function highlightInspect(raw: string, style: Style): string {
  const text = visible(raw);
  if (!style.enabled) return text;
  let out = '';
  let i = 0;
  const wordBefore = () => i > 0 && /[\w$.]/.test(text[i - 1] as string);
  const isKey = (end: number) => /^\s*:/.test(text.slice(end, end + 40)) && !/^\s*::/.test(text.slice(end));
  while (i < text.length) {
    const rest = text.slice(i);
    const ch = text[i] as string;
    if (ch === "'" || ch === '"' || ch === '`') {
      const end = closingQuote(text, i);
      out += style.apply('green', text.slice(i, end)); // quoted keys too, as util.inspect does
      i = end;
      continue;
    }
    if (!wordBefore()) {
      const match =
        (ch === '[' && SPECIAL.exec(rest)) ||
        (ch === '<' && (REF.exec(rest) || EMPTY_ITEMS.exec(rest))) ||
        (/\d/.test(ch) && DATE.exec(rest));
      if (match) {
        const token = match[0];
        const name: StyleName =
          token.startsWith('<') && !token.startsWith('<ref') ? 'grey' : /^\d/.test(token) ? 'magenta' : 'cyan';
        out += style.apply(name, token);
        i += token.length;
        continue;
      }
      const number = /[-\dIN]/.test(ch) ? NUMBER.exec(rest) : null;
      if (number && !/^[\w$]/.test(text.slice(i + number[0].length))) {
        out += style.apply('yellow', number[0]);
        i += number[0].length;
        continue;
      }
      const word = WORD.exec(rest);
      if (word) {
        const token = word[0];
        const end = i + token.length;
        let name: StyleName | undefined;
        if (!isKey(end)) {
          if (token === 'true' || token === 'false') name = 'yellow';
          else if (token === 'undefined') name = 'grey';
          else if (token === 'null') name = 'bold';
        }
        out += name ? style.apply(name, token) : token;
        i = end;
        continue;
      }
    }
    out += ch;
    i++;
  }
  return out;
}

/** Index just past the string literal that starts at `start` (or the end of the text). */
function closingQuote(text: string, start: number): number {
  const quote = text[start];
  for (let i = start + 1; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\\') {
      i++;
      continue;
    }
    if (ch === quote) return i + 1;
    if (ch === '\n' && quote !== '`') return i;
  }
  return text.length;
}
