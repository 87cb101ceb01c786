import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  colorEnabled,
  highlightInspect,
  historyFile,
  isIncomplete,
  loadHistory,
  parseCommand,
  renderStats,
  Style,
  saveHistory,
} from '../../../clients/terminal';

/** The terminal client's pure parts: continuation, commands, history, colors. */

const ESC = String.fromCharCode(27);
const strip = (text: string) => text.replace(new RegExp(`${ESC}\\[[0-9;]*m`, 'g'), '');

describe('terminal client input', () => {
  test.each([
    'function f() {',
    'let s = `abc',
    'let s = `a ${',
    '/* a comment',
    'f(1,',
    'x =',
    'if (x)',
    'class A {',
    '[1, 2,',
    'let s = "a\\',
    'await (async () => {',
  ])('incomplete: %s', (code) => {
    expect(isIncomplete(code)).toBe(true);
  });

  test.each([
    'let a = 6',
    'a * 7',
    'await x',
    'return 1',
    '', // nothing to continue
    'let = =', // a real syntax error: the server reports it
    '"abc', // an unterminated string is an error, as in the Node REPL
    ')',
    '{a: 1, b: 2}', // not a block, but the server reads it as an object
    'x // a comment',
  ])('complete (or a real error): %s', (code) => {
    expect(isIncomplete(code)).toBe(false);
  });

  test('dot commands are a dot and a word; .5 + 1 is code', () => {
    expect(parseCommand('.commit')).toEqual({ kind: 'command', name: 'commit' });
    expect(parseCommand('  .EXIT ')).toEqual({ kind: 'command', name: 'exit' });
    expect(parseCommand('.nope')).toEqual({ kind: 'unknown', name: '.nope' });
    expect(parseCommand('.5 + 1')).toEqual({ kind: 'code' });
    expect(parseCommand('a.commit')).toEqual({ kind: 'code' });
  });

  test('history file: flag, then VMGATE_HISTORY, then ~/.vmgate_history; empty or --no-history = none', () => {
    expect(historyFile('/tmp/h', { VMGATE_HISTORY: '/tmp/e' })).toBe('/tmp/h');
    expect(historyFile(undefined, { VMGATE_HISTORY: '/tmp/e' })).toBe('/tmp/e');
    expect(historyFile(undefined, {})).toBe(path.join(os.homedir(), '.vmgate_history'));
    expect(historyFile(false, { VMGATE_HISTORY: '/tmp/e' })).toBeUndefined();
    expect(historyFile('', {})).toBeUndefined();
    expect(historyFile(undefined, { VMGATE_HISTORY: '' })).toBeUndefined();
  });

  test('history is kept oldest first, readable by its owner only, and read back newest first', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vmgate-history-'));
    try {
      const file = path.join(dir, 'sub', 'history');
      expect(loadHistory(file)).toEqual([]);
      saveHistory(file, ['newest', 'middle', 'oldest']);
      expect(readFileSync(file, 'utf8')).toBe('oldest\nmiddle\nnewest\n');
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(loadHistory(file)).toEqual(['newest', 'middle', 'oldest']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('terminal client colors', () => {
  test('--color/--no-color, then NO_COLOR, then FORCE_COLOR, then whether stdout is a TTY', () => {
    expect(colorEnabled(undefined, {}, true)).toBe(true);
    expect(colorEnabled(undefined, {}, false)).toBe(false);
    expect(colorEnabled(undefined, { NO_COLOR: '1' }, true)).toBe(false);
    expect(colorEnabled(undefined, { NO_COLOR: '' }, true)).toBe(true);
    expect(colorEnabled(undefined, { FORCE_COLOR: '1' }, false)).toBe(true);
    expect(colorEnabled(true, { NO_COLOR: '1' }, false)).toBe(true);
    expect(colorEnabled(false, {}, true)).toBe(false);
  });

  const on = new Style(true);
  const samples = [
    "{ a: 1, 'b-c': 'x', d: [ true, null, undefined ], e: 10n, f: -1.5e+3 }",
    "[Function: f] [class A] <ref *1> { self: [Circular *1] } 2024-01-02T03:04:05.000Z [ <2 empty items>, 'it\\'s' ]",
    "Map(2) { 'k' => 1, x1: 'a\\nb' }",
    '`unterminated',
  ];

  test.each(samples)('highlighting never changes the text: %s', (text) => {
    expect(strip(highlightInspect(text, on))).toBe(text);
    expect(highlightInspect(text, new Style(false))).toBe(text);
  });

  test('colors like util.inspect: numbers and booleans yellow, strings green, undefined grey, null bold', () => {
    const colored = highlightInspect("{ a: 1, b: 'x', c: true, d: undefined, e: null, undefined: 2, x1: 3 }", on);
    expect(colored).toContain(`${ESC}[33m1${ESC}[0m`);
    expect(colored).toContain(`${ESC}[32m'x'${ESC}[0m`);
    expect(colored).toContain(`${ESC}[33mtrue${ESC}[0m`);
    expect(colored).toContain(`${ESC}[90mundefined${ESC}[0m`);
    expect(colored).toContain(`${ESC}[1mnull${ESC}[0m`);
    expect(colored).toContain(' undefined: '); // a key stays plain
    expect(colored).toContain(' x1: '); // no number inside a name
    expect(highlightInspect('[Function: f]', on)).toBe(`${ESC}[36m[Function: f]${ESC}[0m`);
  });

  test('stats read like the server text mode', () => {
    expect(renderStats(undefined)).toBe('no evaluation has finished yet');
    expect(renderStats({ ms: 12.345, cpuMs: 1, dbMs: 10.5, queries: 1 })).toBe(
      '12.35 ms total, 1 ms JavaScript, 10.50 ms database (1 query)',
    );
  });
});
