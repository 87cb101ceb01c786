import type { EngineInput, EngineOutput, EvalStats } from '../sandbox/engine-messages';

/**
 * Text mode: what `wscat -c ws://host:port` speaks. Each text frame is code
 * to evaluate, or one of the dot commands; replies are plain text, rendered as
 * the Node REPL prints them.
 */

export type TextCommand =
  | { readonly kind: 'eval'; readonly code: string }
  | { readonly kind: 'commit' }
  | { readonly kind: 'rollback' }
  | { readonly kind: 'interrupt' }
  | { readonly kind: 'stats' }
  | { readonly kind: 'help' }
  /** `.timeout` shows the budget of this session's evals; `.timeout <ms>` sets it. */
  | { readonly kind: 'timeout'; readonly value: string | undefined }
  | { readonly kind: 'complete'; readonly code: string }
  | { readonly kind: 'unknown'; readonly name: string };

const COMMANDS: Readonly<Record<string, TextCommand['kind']>> = {
  '.commit': 'commit',
  '.rollback': 'rollback',
  '.interrupt': 'interrupt',
  '.stats': 'stats',
  '.help': 'help',
};

export function parseTextFrame(text: string): TextCommand {
  // `.complete <code>`: the candidates at the end of the code (the rest of the frame, as typed).
  const complete = /^\s*\.complete(?:[ \t]([\s\S]*))?$/i.exec(text);
  if (complete) return { kind: 'complete', code: complete[1] ?? '' };
  const trimmed = text.trim();
  // The one command with an argument (`.timeout 30000` is not JavaScript either).
  const timeout = /^\.timeout(?:\s+(\S+))?$/i.exec(trimmed);
  if (timeout) return { kind: 'timeout', value: timeout[1] };
  // A dot command is a single word; `.5 + 1` is code.
  if (/^\.[a-z]+$/i.test(trimmed)) {
    const kind = COMMANDS[trimmed.toLowerCase()];
    if (kind === undefined) return { kind: 'unknown', name: trimmed };
    return { kind } as TextCommand;
  }
  return { kind: 'eval', code: text };
}

export function helpText(): string {
  return [
    'Type JavaScript to evaluate it in this session. Bindings persist; top-level await works.',
    "  shared        the server's shared, read-only state",
    "  db            the session's database (when one is configured)",
    '  _, _error     the last result, the last error',
    'Commands:',
    '  .commit      commit the open transaction',
    '  .rollback    roll back the open transaction',
    '  .interrupt   stop the running evaluation',
    '  .stats       where the last evaluation spent its time',
    "  .timeout [ms] show or set this session's evaluation time budget",
    '  .complete <code>   what can follow <code>, e.g. .complete shared.',
    '  .help        this text',
  ].join('\n');
}

export function bannerText(session: string, version: string, sharedVersion: string | undefined): string {
  const shared = sharedVersion ? `, shared state ${sharedVersion}` : '';
  return `vmgate ${version} — session ${session}${shared}. Type .help for help.`;
}

/** The text frame for an engine message, or undefined when nothing is shown. */
export function renderEngineOutput(message: EngineOutput): string | undefined {
  switch (message.type) {
    case 'log':
      return message.text;
    case 'result':
      return message.text;
    case 'error': {
      const { error } = message;
      const hint = error.code === 'SYNTAX_ERROR' ? incompleteInputHint(error) : '';
      if (error.text !== undefined) return error.text + hint;
      return `Error [${error.code}]: ${error.message}${hint}`;
    }
    case 'ok':
      return 'ok';
    case 'completions':
      if (message.candidates.length === 0) return '(no completions)';
      return `${message.candidates.join('  ')}${message.truncated ? '  …' : ''}`;
    case 'closed':
    case 'transaction':
      return undefined;
  }
}

/** Said once per transaction, under the result of the eval that left changes uncommitted. */
export const OPEN_WRITES_NOTE =
  '(this session has uncommitted changes: .commit to keep them, .rollback to undo them; closing the session rolls them back)';

export function renderStats(stats: EvalStats | undefined): string {
  if (!stats) return 'no evaluation has finished yet';
  return `${stats.ms} ms total, ${stats.cpuMs} ms JavaScript, ${stats.dbMs} ms database (${stats.queries} ${stats.queries === 1 ? 'query' : 'queries'})`;
}

/**
 * `.timeout [ms]`: the reply, and the new budget when one was set. A budget
 * above the server's maximum is lowered to it (and the reply says so).
 */
export function applyTimeoutCommand(
  value: string | undefined,
  current: number,
  limits: { readonly defaultMs: number; readonly maxMs: number },
): { readonly reply: string; readonly timeoutMs?: number } {
  if (value === undefined) {
    return {
      reply: `evaluations may run ${current} ms (server default ${limits.defaultMs} ms, maximum ${limits.maxMs} ms)`,
    };
  }
  const ms = value.toLowerCase() === 'default' ? limits.defaultMs : Number(value);
  if (!Number.isInteger(ms) || ms <= 0) {
    return { reply: `.timeout takes a whole number of milliseconds (1 to ${limits.maxMs}) or "default"` };
  }
  const timeoutMs = Math.min(ms, limits.maxMs);
  const capped = timeoutMs < ms ? ` (the server's maximum; ${ms} ms asked)` : '';
  return { reply: `evaluations may now run ${timeoutMs} ms${capped}`, timeoutMs };
}

/** V8's messages for input that stops before it is complete (the Node REPL waits for more lines instead). */
const INCOMPLETE = /^(?:Unexpected end of input|Unterminated template literal|missing \) after argument list)$/;

/**
 * Text mode evaluates each frame on its own, and wscat sends each line as a
 * frame: an input cut short gets its position and the way to send more lines.
 */
function incompleteInputHint(error: {
  readonly message: string;
  readonly line?: number;
  readonly column?: number;
}): string {
  if (!INCOMPLETE.test(error.message)) return '';
  const at = error.line !== undefined ? ` at line ${error.line}, column ${error.column ?? 1}` : '';
  return `\n(the input ends${at} before it is complete: each frame is a whole input, so send a multi-line input as one frame — vmgate connect and the web console do)`;
}

/** What a text frame asks of its session: an engine request (`ref` is set by the session), a reply, or nothing. */
export type TextAction =
  | { readonly kind: 'dispatch'; readonly input: EngineInput; readonly code?: string }
  | { readonly kind: 'reply'; readonly text: string }
  | { readonly kind: 'none' };

/**
 * A text-mode session's own state: the budget set with `.timeout` (JSON mode
 * names one per eval), the last eval's stats for `.stats`, and whether the
 * open transaction's uncommitted changes were pointed out already.
 */
export class TextModeSession {
  readonly #evalTimeouts: { readonly defaultMs: number; readonly maxMs: number };
  #timeoutMs: number | undefined;
  #lastStats: EvalStats | undefined;
  #toldOpenWrites = false;

  constructor(evalTimeouts: { readonly defaultMs: number; readonly maxMs: number }) {
    this.#evalTimeouts = evalTimeouts;
  }

  /** What the frame asks for; dot commands the session answers itself are answered here. */
  onFrame(text: string): TextAction {
    const command = parseTextFrame(text);
    switch (command.kind) {
      case 'eval': {
        if (command.code.trim() === '') return { kind: 'none' };
        const budget = this.#timeoutMs !== undefined ? { timeoutMs: this.#timeoutMs } : {};
        return { kind: 'dispatch', input: { type: 'eval', ref: 0, code: command.code, ...budget }, code: command.code };
      }
      case 'timeout': {
        const limits = this.#evalTimeouts;
        const { reply, timeoutMs } = applyTimeoutCommand(command.value, this.#timeoutMs ?? limits.defaultMs, limits);
        if (timeoutMs !== undefined) this.#timeoutMs = timeoutMs;
        return { kind: 'reply', text: reply };
      }
      case 'help':
        return { kind: 'reply', text: helpText() };
      case 'stats':
        return { kind: 'reply', text: renderStats(this.#lastStats) };
      case 'unknown':
        return { kind: 'reply', text: `Unknown command ${command.name}. Type .help for help.` };
      case 'complete':
        return {
          kind: 'dispatch',
          input: { type: 'complete', ref: 0, code: command.code, cursor: command.code.length },
        };
      default:
        return { kind: 'dispatch', input: { type: command.kind, ref: 0 } };
    }
  }

  /** The stats of the last eval that finished, for `.stats`. */
  recordStats(stats: EvalStats): void {
    this.#lastStats = stats;
  }

  /** The engine's message, and once per transaction a note when an eval leaves changes uncommitted. */
  render(message: EngineOutput): string | undefined {
    const text = renderEngineOutput(message);
    // `ok` answers .commit / .rollback: the next changes are a new transaction's.
    if (message.type === 'ok') this.#toldOpenWrites = false;
    if (text === undefined || (message.type !== 'result' && message.type !== 'error') || !message.stats) return text;
    if (!message.stats.transactionWrites) {
      this.#toldOpenWrites = false;
      return text;
    }
    if (this.#toldOpenWrites) return text;
    this.#toldOpenWrites = true;
    return `${text}\n${OPEN_WRITES_NOTE}`;
  }
}
