// The code input: a <textarea> (so it stays a native, accessible text field)
// over a <pre> that shows the same text highlighted. Enter runs the input when
// it is complete, Shift+Enter always starts a new line, Ctrl/Cmd+Enter always
// runs, Up/Down on the first/last line walk the history (kept in
// localStorage, so it survives reloads), Escape interrupts a running eval,
// Tab completes (completion.js, through the `onKeyDown` hook).

import { highlight, isComplete } from './tokenize.js';

const HISTORY_KEY = 'vmgate.history';
const HISTORY_MAX = 500;

export class History {
  constructor(storage = globalThis.localStorage) {
    this.storage = storage;
    this.items = [];
    try {
      const saved = JSON.parse(storage?.getItem(HISTORY_KEY) ?? '[]');
      if (Array.isArray(saved)) this.items = saved.filter((x) => typeof x === 'string').slice(-HISTORY_MAX);
    } catch {
      // a damaged entry: start over
    }
    this.cursor = this.items.length;
    this.draft = '';
  }

  add(code) {
    if (code.trim() === '') return;
    // Keep one copy of an entry, at its most recent place.
    const at = this.items.lastIndexOf(code);
    if (at !== -1) this.items.splice(at, 1);
    this.items.push(code);
    if (this.items.length > HISTORY_MAX) this.items.splice(0, this.items.length - HISTORY_MAX);
    this.cursor = this.items.length;
    this.draft = '';
    try {
      this.storage?.setItem(HISTORY_KEY, JSON.stringify(this.items));
    } catch {
      // storage full or disabled: history stays in memory
    }
  }

  /** The entry before (`-1`) or after (`+1`) the cursor; `current` is what the input holds now. */
  move(step, current) {
    if (this.cursor === this.items.length) this.draft = current;
    const next = this.cursor + step;
    if (next < 0 || next > this.items.length) return undefined;
    this.cursor = next;
    return next === this.items.length ? this.draft : this.items[next];
  }

  reset() {
    this.cursor = this.items.length;
  }
}

export class Editor {
  /**
   * @param {HTMLTextAreaElement} textarea
   * @param {HTMLElement} mirror the <pre> behind it
   * @param {{ onRun(code: string): boolean, onInterrupt(): void, onKeyDown?(event: KeyboardEvent): boolean }} handlers
   *   `onRun` returns false when it cannot run now (the input is kept);
   *   `onKeyDown` sees every key first (the completion list) and returns true when it handled it.
   */
  constructor(textarea, mirror, handlers) {
    this.textarea = textarea;
    this.mirror = mirror;
    this.handlers = handlers;
    this.history = new History();
    textarea.addEventListener('input', () => {
      this.history.reset();
      this.refresh();
    });
    textarea.addEventListener('scroll', () => {
      mirror.scrollTop = textarea.scrollTop;
      mirror.scrollLeft = textarea.scrollLeft;
    });
    textarea.addEventListener('keydown', (event) => this.#onKey(event));
    this.refresh();
  }

  get value() {
    return this.textarea.value;
  }

  set value(text) {
    this.textarea.value = text;
    this.refresh();
  }

  refresh() {
    const text = this.textarea.value;
    // A trailing newline needs something after it, or the <pre> is one line short.
    this.mirror.innerHTML = `${highlight(text)}\n`;
    const lines = text.split('\n').length;
    this.textarea.rows = Math.min(Math.max(lines, 1), 16);
    this.mirror.scrollTop = this.textarea.scrollTop;
  }

  /** Runs the input now (if the console can take it). */
  run() {
    const code = this.textarea.value;
    if (code.trim() === '') return;
    if (this.handlers.onRun(code) === false) return;
    this.history.add(code);
    this.value = '';
  }

  #onKey(event) {
    const ta = this.textarea;
    if (event.isComposing) return;
    if (this.handlers.onKeyDown?.(event)) return;
    if (event.key === 'Enter') {
      if (event.ctrlKey || event.metaKey) {
        event.preventDefault();
        this.run();
        return;
      }
      if (event.shiftKey || event.altKey) {
        event.preventDefault();
        this.#newline();
        return;
      }
      // Enter in the middle of the text edits; at the end it runs complete input.
      const atEnd = ta.value.slice(ta.selectionEnd).trim() === '';
      if (atEnd && isComplete(ta.value)) {
        event.preventDefault();
        this.run();
      } else {
        event.preventDefault();
        this.#newline();
      }
      return;
    }
    if (event.key === 'Escape') {
      this.handlers.onInterrupt();
      return;
    }
    if ((event.key === 'ArrowUp' || event.key === 'ArrowDown') && !event.shiftKey && !event.altKey) {
      const before = ta.value.slice(0, ta.selectionStart);
      const after = ta.value.slice(ta.selectionEnd);
      const up = event.key === 'ArrowUp';
      if (up ? before.includes('\n') : after.includes('\n')) return; // move inside the text
      const entry = this.history.move(up ? -1 : 1, ta.value);
      if (entry === undefined) return;
      event.preventDefault();
      this.textarea.value = entry;
      this.refresh();
      const at = up ? (entry.indexOf('\n') === -1 ? entry.length : entry.indexOf('\n')) : entry.length;
      ta.setSelectionRange(at, at);
    }
  }

  /** A new line, indented like the current one (one step more after an opening bracket). */
  #newline() {
    const ta = this.textarea;
    const before = ta.value.slice(0, ta.selectionStart);
    const line = before.slice(before.lastIndexOf('\n') + 1);
    let indent = /^[ \t]*/.exec(line)[0];
    if (/[{[(]\s*$/.test(line)) indent += '  ';
    // execCommand keeps the browser's undo stack; fall back to setRangeText.
    const text = `\n${indent}`;
    if (!document.execCommand?.('insertText', false, text)) {
      ta.setRangeText(text, ta.selectionStart, ta.selectionEnd, 'end');
      this.refresh();
    }
  }
}
