import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { parse } from 'acorn';

/**
 * Input: telling an incomplete input (continue on the next line) from a real
 * syntax error (send it: the server reports it), dot commands, and the
 * persistent history file.
 */

/**
 * Whether `code` is a prefix of a valid program: acorn stops at the end of
 * the input ("Unexpected token" at its very end, an unterminated template
 * or comment, or a string continued with a backslash). A real syntax error
 * elsewhere is not incomplete: the server reports it. The parse is lenient
 * where the session is (top-level await), so it never refuses what the
 * server would run.
 */
export function isIncomplete(code: string): boolean {
  if (code.trim() === '') return false;
  try {
    parse(code, {
      ecmaVersion: 'latest',
      sourceType: 'script',
      allowAwaitOutsideFunction: true,
      allowReturnOutsideFunction: true,
      allowHashBang: true,
    });
    return false;
  } catch (error) {
    const { message, pos } = error as SyntaxError & { pos?: number };
    if (/^Unterminated (template|comment)/.test(message)) return true;
    if (/^Unterminated string constant/.test(message)) return /\\\r?$/.test(code);
    return typeof pos === 'number' && pos >= code.length && /^Unexpected token/.test(message);
  }
}

export type DotCommand = 'commit' | 'rollback' | 'stats' | 'exit' | 'help' | 'break';

const COMMANDS: ReadonlySet<string> = new Set(['commit', 'rollback', 'stats', 'exit', 'help', 'break']);

/**
 * A line that is a dot command (`.commit`), an unknown one (`.foo`), or code.
 * `.5 + 1` is code: a command is a dot and a word.
 */
export function parseCommand(
  line: string,
): { kind: 'command'; name: DotCommand } | { kind: 'unknown'; name: string } | { kind: 'code' } {
  const match = /^\s*\.([A-Za-z]+)\s*$/.exec(line);
  if (!match) return { kind: 'code' };
  const name = (match[1] as string).toLowerCase();
  return COMMANDS.has(name) ? { kind: 'command', name: name as DotCommand } : { kind: 'unknown', name: `.${name}` };
}

export const HISTORY_SIZE = 1000;

/** `--history`, then `VMGATE_HISTORY`, then `~/.vmgate_history`; `false`/empty = no history. */
export function historyFile(flag: string | boolean | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (flag === false) return undefined;
  if (typeof flag === 'string') return flag === '' ? undefined : flag;
  if (env.VMGATE_HISTORY !== undefined) return env.VMGATE_HISTORY === '' ? undefined : env.VMGATE_HISTORY;
  return path.join(homedir(), '.vmgate_history');
}

/** Reads the history file: one entry a line, oldest first. Returns newest first, as readline wants. */
export function loadHistory(file: string | undefined): string[] {
  if (!file) return [];
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .slice(-HISTORY_SIZE)
    .reverse();
}

/** Writes readline's history (newest first) to the file, oldest first, readable by its owner only. */
export function saveHistory(file: string | undefined, newestFirst: readonly string[]): void {
  if (!file) return;
  const lines = newestFirst.slice(0, HISTORY_SIZE).reverse();
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, lines.length ? `${lines.join('\n')}\n` : '', { mode: 0o600 });
  try {
    chmodSync(file, 0o600);
  } catch {
    // not ours to fix (e.g. another owner): the write itself succeeded
  }
}
