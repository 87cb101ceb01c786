// Tab completion in the code input, like DevTools' console: Tab asks the
// session for the names that can follow the text before the cursor (the
// `complete` op, docs/protocol.md). One candidate is inserted at once;
// several open a list above the caret: ↑/↓ choose, Enter or Tab accepts, Esc
// closes, typing narrows the list. Tab in an empty line, or after a space,
// keeps its usual meaning (the next control), so the page stays usable from
// the keyboard. Candidates are rendered as text, never as HTML.

const WORD_CHAR = /[\p{ID_Continue}$\u200c\u200d]/u;
const MAX_SHOWN = 200;

export class Completion {
  /**
   * @param {HTMLTextAreaElement} textarea
   * @param {HTMLElement} list the popup (a listbox inside the editor)
   * @param {(code: string, cursor: number) => Promise<{from: number, to: number, candidates: string[], truncated?: boolean} | null>} request
   * @param {() => void} changed called after the text was changed
   */
  constructor(textarea, list, request, changed) {
    this.textarea = textarea;
    this.list = list;
    this.request = request;
    this.changed = changed;
    this.state = null; // { from, all, shown, selected, truncated } while the list is open
    this.asked = 0;
    textarea.addEventListener('input', () => this.#narrow());
    textarea.addEventListener('blur', () => this.close());
    textarea.addEventListener('click', () => this.close());
    // Keep the focus in the textarea when a candidate is clicked.
    list.addEventListener('mousedown', (event) => event.preventDefault());
    list.addEventListener('click', (event) => {
      const item = event.target.closest?.('[data-index]');
      if (item) this.#accept(Number(item.dataset.index));
    });
  }

  get isOpen() {
    return this.state !== null;
  }

  /** The editor's keydown hook: returns true when the key was handled here. */
  onKey(event) {
    if (event.isComposing) return false;
    if (this.state) {
      switch (event.key) {
        case 'ArrowDown':
        case 'ArrowUp': {
          const step = event.key === 'ArrowDown' ? 1 : -1;
          const n = this.state.shown.length;
          this.#select((this.state.selected + step + n) % n);
          event.preventDefault();
          return true;
        }
        case 'PageDown':
        case 'PageUp': {
          const step = event.key === 'PageDown' ? 8 : -8;
          this.#select(Math.min(Math.max(this.state.selected + step, 0), this.state.shown.length - 1));
          event.preventDefault();
          return true;
        }
        case 'Enter':
        case 'Tab':
          if (event.shiftKey || event.ctrlKey || event.metaKey || event.altKey) break;
          event.preventDefault();
          this.#accept(this.state.selected);
          return true;
        case 'Escape':
          event.preventDefault();
          this.close();
          return true;
        case 'ArrowLeft':
        case 'ArrowRight':
        case 'Home':
        case 'End':
          // The caret leaves the word being completed.
          this.close();
          return false;
        default:
          return false;
      }
      this.close();
      return false;
    }
    if (event.key !== 'Tab' || event.shiftKey || event.ctrlKey || event.metaKey || event.altKey) return false;
    const ta = this.textarea;
    if (ta.selectionStart !== ta.selectionEnd) return false;
    const before = ta.value.slice(0, ta.selectionStart);
    const last = before.slice(-1);
    if (last === '' || !(WORD_CHAR.test(last) || last === '.')) return false;
    event.preventDefault();
    void this.#ask(ta.value, ta.selectionStart);
    return true;
  }

  close() {
    if (!this.state) return;
    this.state = null;
    this.list.hidden = true;
    this.list.replaceChildren();
    this.textarea.removeAttribute('aria-activedescendant');
  }

  async #ask(code, cursor) {
    const asked = ++this.asked;
    const answer = await this.request(code, cursor);
    // Stale: the text or the cursor moved while the session answered, or a newer Tab asked again.
    const ta = this.textarea;
    if (asked !== this.asked || ta.value !== code || ta.selectionStart !== cursor || !answer) return;
    const { from, candidates } = answer;
    if (!Array.isArray(candidates) || candidates.length === 0) return;
    if (candidates.length === 1) {
      this.#insert(from, candidates[0]);
      return;
    }
    this.state = { from, all: candidates, shown: [], selected: 0, truncated: Boolean(answer.truncated) };
    this.#render(code.slice(from, cursor));
  }

  /** After typing with the list open: keep the candidates that still match, or close. */
  #narrow() {
    const state = this.state;
    if (!state) return;
    const ta = this.textarea;
    const typed = ta.value.slice(state.from, ta.selectionStart);
    if (ta.selectionStart < state.from || [...typed].some((c) => !WORD_CHAR.test(c))) {
      this.close();
      return;
    }
    this.#render(typed);
  }

  #render(typed) {
    const state = this.state;
    const previous = state.shown[state.selected];
    state.shown = state.all.filter((name) => name.startsWith(typed));
    if (state.shown.length === 0) {
      this.close();
      return;
    }
    const keep = state.shown.indexOf(previous);
    state.selected = keep === -1 ? 0 : keep;
    const items = state.shown.slice(0, MAX_SHOWN).map((name, index) => {
      const li = document.createElement('div');
      li.id = `completion-${index}`;
      li.setAttribute('role', 'option');
      li.dataset.index = String(index);
      const match = document.createElement('b');
      match.textContent = typed;
      li.append(match, name.slice(typed.length));
      return li;
    });
    const hidden = state.shown.length - items.length + (state.truncated ? 1 : 0);
    if (hidden > 0) {
      const more = document.createElement('div');
      more.className = 'more';
      more.setAttribute('aria-disabled', 'true');
      more.textContent = state.truncated ? '… more: type to narrow' : `… ${hidden} more: type to narrow`;
      items.push(more);
    }
    this.list.replaceChildren(...items);
    this.list.hidden = false;
    this.#place(state.from);
    this.#select(Math.min(state.selected, MAX_SHOWN - 1));
  }

  #select(index) {
    const state = this.state;
    state.selected = Math.min(index, MAX_SHOWN - 1);
    for (const li of this.list.children) {
      li.setAttribute('aria-selected', String(li.dataset.index === String(state.selected)));
    }
    const item = this.list.children[state.selected];
    if (item) {
      this.textarea.setAttribute('aria-activedescendant', item.id);
      item.scrollIntoView({ block: 'nearest' });
    }
  }

  #accept(index) {
    const state = this.state;
    const name = state?.shown[index];
    this.close();
    if (name !== undefined) this.#insert(state.from, name);
  }

  /** Replaces the text from `from` to the cursor by `name` (one undo step when the browser allows). */
  #insert(from, name) {
    const ta = this.textarea;
    ta.setSelectionRange(from, ta.selectionStart);
    if (!document.execCommand?.('insertText', false, name)) {
      ta.setRangeText(name, from, ta.selectionEnd, 'end');
    }
    this.close();
    this.changed();
  }

  /** Puts the list just above the line of `from`, starting at its column (the font is monospaced). */
  #place(from) {
    const ta = this.textarea;
    const style = getComputedStyle(ta);
    const lines = ta.value.slice(0, from).split('\n');
    const column = lines[lines.length - 1].length;
    const fontSize = Number.parseFloat(style.fontSize) || 14;
    const lineHeight = Number.parseFloat(style.lineHeight) || fontSize * 1.4;
    const charWidth = measureCharWidth(style.font) || fontSize * 0.6;
    const lineTop = Number.parseFloat(style.paddingTop) + (lines.length - 1) * lineHeight - ta.scrollTop;
    const left = Number.parseFloat(style.paddingLeft) + column * charWidth - ta.scrollLeft;
    const editor = this.list.offsetParent ?? ta.parentElement;
    const width = editor?.clientWidth ?? ta.clientWidth;
    this.list.style.left = `${Math.max(0, Math.min(left, width - this.list.offsetWidth))}px`;
    this.list.style.bottom = `${(editor?.clientHeight ?? ta.clientHeight) - lineTop}px`;
  }
}

let measured = { font: '', width: 0 };
function measureCharWidth(font) {
  if (measured.font !== font) {
    const context = document.createElement('canvas').getContext('2d');
    let width = 0;
    if (context) {
      context.font = font;
      width = context.measureText('x'.repeat(20)).width / 20;
    }
    measured = { font, width };
  }
  return measured.width;
}
