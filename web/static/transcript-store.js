// The transcript of the current session, kept in sessionStorage so that a
// reload which resumes the session (connection.js) shows what was there
// before. It holds what the page rendered, as records it can render again:
// the code of each eval, the frames that answered it, and the notices.
// Bounded: oldest records go first beyond MAX_BYTES; a frame too large to
// keep is stored without its value.

const KEY = 'vmgate.transcript';
const MAX_BYTES = 512 * 1024;
const MAX_RECORD_BYTES = 64 * 1024;
const SAVE_DELAY_MS = 250;

export class TranscriptStore {
  constructor(storage = globalThis.sessionStorage) {
    this.storage = storage;
    this.session = null;
    this.records = [];
    this.bytes = 0;
    this.timer = 0;
    this.paused = false;
    globalThis.addEventListener?.('pagehide', () => this.flush());
    globalThis.document?.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'hidden') this.flush();
    });
  }

  /** The records kept for `session` (after a reload), or none. */
  load(session) {
    try {
      const saved = JSON.parse(this.storage?.getItem(KEY) ?? 'null');
      if (saved?.session === session && Array.isArray(saved.records)) return saved.records;
    } catch {
      // damaged or no storage
    }
    return [];
  }

  /** From now on records belong to `session`; `records` are those it already has (restored). */
  start(session, records = []) {
    this.session = session;
    this.records = [];
    this.bytes = 0;
    for (const record of records) this.#push(record);
    this.#schedule();
  }

  /** `{ t: 'eval', id, code }`, `{ t: 'frame', frame }` or `{ t: 'notice', text, level }`. */
  add(record) {
    if (this.paused || this.session === null) return;
    this.#push(record);
    this.#schedule();
  }

  clear() {
    this.records = [];
    this.bytes = 0;
    this.#schedule();
  }

  flush() {
    clearTimeout(this.timer);
    this.timer = 0;
    if (this.session === null) return;
    try {
      this.storage?.setItem(KEY, JSON.stringify({ session: this.session, records: this.records }));
    } catch {
      // storage full or disabled: the transcript is not kept
    }
  }

  #push(record) {
    let text = JSON.stringify(record);
    if (text.length > MAX_RECORD_BYTES && record.t === 'frame') {
      const note = '[too large to keep across reloads]';
      const frame = { ...record.frame, value: { $type: 'truncated', reason: 'size' }, text: note };
      if (frame.error) frame.error = { code: frame.error.code, message: String(frame.error.message).slice(0, 1000) };
      record = { t: 'frame', frame };
      text = JSON.stringify(record);
    }
    if (text.length > MAX_RECORD_BYTES) return;
    this.records.push(record);
    this.bytes += text.length;
    while (this.bytes > MAX_BYTES && this.records.length > 1) {
      this.bytes -= JSON.stringify(this.records.shift()).length;
    }
  }

  #schedule() {
    if (this.timer) return;
    this.timer = setTimeout(() => this.flush(), SAVE_DELAY_MS);
  }
}
