/**
 * `Uncaught` in front of an error's text, as the Node REPL puts it: before
 * the first `…Error…` line, on a line of its own when that line is wider
 * than 80 columns (the REPL's width without a terminal); for any other
 * thrown value, before its rendering (on its own line when that has several).
 * The realm applies the same rule to errors of timer callbacks
 * (sandbox/realm/bootstrap.js, `uncaughtText`).
 */
const ERROR_LINE = /^\[?([A-Z][a-z0-9_]*)*Error/;
const WIDTH = 80;

export function uncaughtText(text: string): string {
  // Lines keep their line break, which counts towards the width, as in Node.
  const lines = text.split(/(?<=\n)/);
  const index = lines.findIndex((line) => ERROR_LINE.test(line));
  if (index === -1) return `Uncaught${lines.length === 1 ? ' ' : ':\n'}${text}`;
  const line = lines[index] as string;
  lines[index] = line.length <= WIDTH ? `Uncaught ${line}` : `Uncaught:\n${line}`;
  return lines.join('');
}
