// The vmgate web console: one page, one session (see docs/protocol.md).

import codec from './codec.js';
import { Completion } from './completion.js';
import { Connection, short } from './connection.js';
import { Editor } from './editor.js';
import { highlight } from './tokenize.js';
import { TranscriptStore } from './transcript-store.js';
import { createTreeRenderer } from './tree.js';

const $ = (id) => document.getElementById(id);
const h = (tag, className, text) => {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
};

const ui = {
  status: $('status'),
  statusText: $('status-text'),
  sessionId: $('session-id'),
  sharedVersion: $('shared-version'),
  serverVersion: $('server-version'),
  newSession: $('new-session'),
  helpToggle: $('help-toggle'),
  helpPanel: $('help-panel'),
  completions: $('completions'),
  logLevel: $('log-level'),
  tokenPanel: $('token-panel'),
  tokenHelp: $('token-help'),
  tokenForm: $('token-form'),
  token: $('token'),
  txState: $('tx-state'),
  txAge: $('tx-age'),
  commit: $('commit'),
  rollback: $('rollback'),
  transcript: $('transcript'),
  form: $('input-form'),
  code: $('code'),
  mirror: $('code-mirror'),
  run: $('run'),
  interrupt: $('interrupt'),
  timeout: $('timeout'),
  clear: $('clear'),
};

const tree = createTreeRenderer(codec);
// The transcript scrolls: keyboard users need to be able to focus it to scroll it.
ui.transcript.tabIndex = 0;
const pageTag = Math.random().toString(36).slice(2, 6);
let nextId = 0;
const newId = (kind) => `${kind}-${pageTag}-${++nextId}`;

/** Requests waiting for their terminal frame, by id. */
const pending = new Map();
/** Every eval entry of this page by id (also finished ones, for late log lines). */
const entries = new Map();
/** What the console knows of the transaction: inferred from stats and replies. */
const tx = { open: false, since: 0 };
/** The stats of the last eval that finished (for `.stats`). */
let lastStats;
/** The transcript, kept across a reload that resumes the session. */
const store = new TranscriptStore();

const storedToken = () => {
  try {
    return sessionStorage.getItem('vmgate.token') ?? '';
  } catch {
    return '';
  }
};

const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/`;
const connection = new Connection({ url: wsUrl, onEvent });
// A token can come in the page's fragment (never sent to the server): #token=...
const fragment = new URLSearchParams(location.hash.slice(1));
if (fragment.get('token')) {
  rememberToken(fragment.get('token'));
  history.replaceState(null, '', location.pathname + location.search);
}
connection.token = storedToken();

const editor = new Editor(ui.code, ui.mirror, {
  onRun: (code) => runCode(code),
  onInterrupt: () => interrupt(),
  onKeyDown: (event) => completion.onKey(event),
});
const completion = new Completion(ui.code, ui.completions, complete, () => editor.refresh());

// ---- connection events -----------------------------------------------------

function onEvent(type, detail) {
  switch (type) {
    case 'status':
      ui.status.dataset.state = detail.state;
      ui.statusText.textContent = detail.text;
      updateControls();
      return;
    case 'hello':
      return onHello(detail.hello);
    case 'resumed':
      return onResumed(detail);
    case 'frame':
      return onFrame(detail.frame);
    case 'lost':
      return onLost(detail);
    case 'failed':
      return onFailed(detail);
  }
}

function onHello(hello) {
  showSession(hello);
  store.start(hello.session);
  setTransaction(false);
  const resume = hello.resume
    ? `; it survives a dropped connection for ${Math.round(hello.resume.graceMs / 1000)} s`
    : '';
  notice(`Session ${short(hello.session)} started${hello.user ? ` for ${hello.user}` : ''}${resume}.`, 'info');
}

/** The header (session, shared state version, gateway) and the timeout field's bounds. */
function showSession(hello) {
  ui.tokenPanel.hidden = true;
  ui.sessionId.textContent = short(hello.session);
  ui.sessionId.title = hello.session;
  ui.sharedVersion.textContent = hello.shared?.version ?? 'none';
  ui.serverVersion.textContent = `${hello.server?.name ?? 'vmgate'} ${hello.server?.version ?? ''}`.trim();
  if (!ui.timeout.value && hello.limits?.defaultTimeoutMs) {
    ui.timeout.placeholder = String(hello.limits.defaultTimeoutMs / 1000);
  }
  if (hello.limits?.maxTimeoutMs) ui.timeout.max = String(hello.limits.maxTimeoutMs / 1000);
}

function onResumed({ frame, dropMs, fromReload }) {
  const replayed = frame.replayed ?? 0;
  if (fromReload) {
    if (connection.hello) showSession(connection.hello);
    const records = store.load(frame.session);
    restoreTranscript(records);
    store.start(frame.session, records);
    try {
      const saved = JSON.parse(sessionStorage.getItem('vmgate.tx') ?? 'null');
      if (saved?.session === frame.session) setTransaction(saved.open, saved.since);
    } catch {
      // nothing saved
    }
  }
  notice(
    fromReload
      ? `Resumed session ${short(frame.session)} after the page was reloaded (${replayed} missed frame${replayed === 1 ? '' : 's'}).`
      : `Connection restored after ${(dropMs / 1000).toFixed(1)} s: same session, ${replayed} missed frame${replayed === 1 ? '' : 's'} replayed.`,
    'info',
  );
}

function onLost({ text, replaced }) {
  // Whatever was waiting will not be answered by this session.
  for (const [id, request] of pending) {
    if (request.entry) finishEntry(request.entry, 'lost', 'No answer: the session ended.');
    request.resolve?.(null);
    pending.delete(id);
  }
  setTransaction(false);
  if (replaced) {
    notice(`${capitalize(text)}.`, 'warn');
    return;
  }
  const box = notice(
    `Session lost: ${text}. Its bindings are gone and its open transaction was rolled back.`,
    'error',
    'alert',
  );
  const again = h('button', 'inline', 'Start a new session');
  again.type = 'button';
  again.addEventListener('click', () => {
    again.disabled = true;
    connection.newSession();
    ui.code.focus();
  });
  box.append(' ', again);
  updateControls();
}

async function onFailed({ first }) {
  // A browser cannot see the HTTP status of a refused upgrade. Ask /healthz whether the gateway is up.
  let up = false;
  try {
    up = (await fetch('/healthz', { cache: 'no-store' })).ok;
  } catch {
    up = false;
  }
  ui.tokenPanel.hidden = false;
  ui.tokenHelp.textContent = up
    ? `The gateway is running but refused the connection${connection.token ? ' with this token' : ''}. It probably requires an access token${connection.token ? ' (check it)' : ''}; it may also be refusing this origin or be at its session limit.`
    : 'The gateway cannot be reached. Check that it is running, then connect again (enter a token if it requires one).';
  if (first || connection.token) ui.token.focus();
}

// ---- frames ----------------------------------------------------------------

function onFrame(frame) {
  const stick = atEnd();
  if (['log', 'result', 'error', 'ok'].includes(frame.type)) store.add({ t: 'frame', frame });
  applyFrame(frame);
  if (stick) toEnd();
}

/** After a reload that resumed the session: what the page showed before, rendered again. */
function restoreTranscript(records) {
  if (records.length === 0) return;
  store.paused = true;
  try {
    for (const record of records) {
      if (record.t === 'eval') {
        const entry = createEntry(record.code, record.id);
        pending.set(record.id, { kind: 'eval', entry });
      } else if (record.t === 'frame') applyFrame(record.frame);
      else if (record.t === 'notice') notice(record.text, record.level);
    }
  } finally {
    store.paused = false;
  }
  toEnd();
}

function applyFrame(frame) {
  const request = frame.id === null || frame.id === undefined ? undefined : pending.get(frame.id);
  switch (frame.type) {
    case 'log': {
      const entry = entries.get(frame.id);
      const line = logLine(frame);
      if (entry && !entry.done) entry.out.append(line);
      else {
        // Written after its eval finished (a timer), or by a request of an earlier page.
        const late = h('div', 'late');
        late.append(line);
        if (entry) late.dataset.from = entry.label;
        append(late);
      }
      if (frame.level === 'warn' && /rolled back|committed the open transaction implicitly/.test(frame.text)) {
        setTransaction(false);
      }
      return;
    }
    case 'completions':
      if (request?.kind === 'complete') {
        pending.delete(frame.id);
        request.resolve(frame);
      }
      return;
    case 'result':
    case 'error': {
      if (request?.kind === 'complete') {
        // No candidates this time (e.g. a huge object ran past the completion's budget).
        pending.delete(frame.id);
        request.resolve(null);
        return;
      }
      if (!request) {
        if (frame.type === 'error' && (frame.id === null || frame.id === undefined)) {
          notice(`Error [${frame.error?.code}]: ${frame.error?.message}`, 'error');
        } else if (!String(frame.id ?? '').includes(`-${pageTag}-`)) {
          // The answer to a request of an earlier page (after a reload): show it on its own.
          const entry = createEntry('(earlier request)', String(frame.id));
          completeEval(entry, frame);
        }
        return;
      }
      pending.delete(frame.id);
      if (request.kind === 'eval') completeEval(request.entry, frame);
      else completeOp(request, frame);
      updateControls();
      return;
    }
    case 'ok':
      if (request) {
        pending.delete(frame.id);
        completeOp(request, frame);
        updateControls();
      }
      return;
    case 'pong':
      pending.delete(frame.id);
      return;
    default:
      return;
  }
}

function completeEval(entry, frame) {
  const stats = frame.stats;
  if (stats) lastStats = stats;
  if (stats) {
    const age = stats.session?.transactionAgeMs;
    if (typeof age === 'number') {
      // A gateway that reports the transaction's age (0: none): take its word. Its clock has
      // millisecond steps, so a transaction opened in the last millisecond may still read 0.
      const open = age > 0 || (stats.queries > 0 && transactionAfter(entry.code) === 'open');
      setTransaction(open, tx.open && age === 0 ? tx.since : Date.now() - age);
    } else if (stats.queries > 0) {
      if (transactionAfter(entry.code) === 'ended') setTransaction(false);
      else if (!tx.open) setTransaction(true, entry.started);
    }
  }
  if (
    frame.type === 'error' &&
    frame.error?.code === 'DB_UNAVAILABLE' &&
    /rolled back|lost/.test(frame.error.message)
  ) {
    setTransaction(false);
  }
  if (frame.type === 'result') renderResult(entry, frame);
  else renderError(entry, frame.error ?? { code: 'INTERNAL', message: 'malformed error frame' });
  if (stats) entry.el.append(statsLine(stats));
  finishEntry(entry, frame.type === 'result' ? 'ok' : 'error');
}

/**
 * The gateway does not say whether a transaction is open, so the console
 * infers it: an eval that ran statements opened one (the first statement
 * does), unless the last statement-like thing in its code ends it: a commit
 * or rollback (`db.commit()`, `sql\`COMMIT\``), or DDL, which MySQL and
 * MariaDB commit implicitly (the gateway treats CREATE/ALTER/DROP/RENAME/
 * TRUNCATE as ending the transaction).
 */
const STATEMENTS =
  /\b(?:(commit|rollback)\b(?!\s+to\b)|(create|alter|drop|rename|truncate)\s|(select|insert|update|delete|replace|call|with|selectFrom|insertInto|updateTable|deleteFrom|replaceInto|mergeInto|savepoint|rollbackToSavepoint|releaseSavepoint)\b)/gi;
function transactionAfter(code) {
  let verdict = 'open';
  for (const match of code.matchAll(STATEMENTS)) verdict = match[3] ? 'open' : 'ended';
  return verdict;
}

function completeOp(request, frame) {
  if (frame.type === 'ok') {
    if (request.kind === 'commit' || request.kind === 'rollback') {
      setTransaction(false);
      notice(request.kind === 'commit' ? 'Committed.' : 'Rolled back.', 'ok');
    } else if (request.kind === 'interrupt') {
      // The interrupted eval answers INTERRUPTED itself.
    }
    return;
  }
  const error = frame.error ?? {};
  notice(`${capitalize(request.kind)} failed: ${error.code}: ${error.message}`, 'error');
}

// ---- running code ----------------------------------------------------------

/** The dot commands of text mode (docs/protocol.md), and `.clear`. */
const COMMANDS = {
  help: () => toggleHelp(true),
  commit: () => endTransaction('commit'),
  rollback: () => endTransaction('rollback'),
  interrupt: () => {
    if (![...pending.values()].some((r) => r.kind === 'eval')) notice('Nothing is running.', 'info');
    interrupt();
  },
  stats: () => notice(statsText(lastStats), 'info'),
  clear: () => clearTranscript(),
};

function runCode(code) {
  // A dot and a word is a command (`.5 + 1` is code).
  const command = /^\s*\.([A-Za-z]+)\s*$/.exec(code);
  if (command) {
    const run = COMMANDS[command[1].toLowerCase()];
    if (run) {
      const needsSession = !['help', 'stats', 'clear'].includes(command[1].toLowerCase());
      if (needsSession && !connection.connected) {
        notice('Not connected: the command was not sent.', 'warn');
        return false;
      }
      run();
    } else notice(`Unknown command .${command[1]}. Type .help for the commands.`, 'warn');
    return true;
  }
  if (!connection.connected) {
    notice('Not connected: the code was not sent (it is still in the input).', 'warn');
    return false;
  }
  const id = newId('e');
  store.add({ t: 'eval', id, code });
  const entry = createEntry(code, id);
  const frame = { op: 'eval', id, code };
  const seconds = Number.parseFloat(ui.timeout.value);
  if (Number.isFinite(seconds) && seconds > 0) frame.timeoutMs = Math.round(seconds * 1000);
  pending.set(id, { kind: 'eval', entry });
  connection.send(frame);
  updateControls();
  return true;
}

/** Asks the session for completion candidates (the `complete` op); null when there are none. */
function complete(code, cursor) {
  if (!connection.connected) return Promise.resolve(null);
  return new Promise((resolve) => {
    const id = newId('c');
    const timer = setTimeout(() => {
      pending.delete(id);
      resolve(null);
    }, 5000);
    pending.set(id, {
      kind: 'complete',
      resolve: (frame) => {
        clearTimeout(timer);
        resolve(frame);
      },
    });
    connection.send({ op: 'complete', id, code, cursor });
  });
}

function interrupt() {
  if (!connection.connected || ![...pending.values()].some((r) => r.kind === 'eval')) return;
  const id = newId('i');
  pending.set(id, { kind: 'interrupt' });
  connection.send({ op: 'interrupt', id });
}

function endTransaction(kind) {
  if (!connection.connected) return;
  const id = newId(kind[0]);
  pending.set(id, { kind });
  connection.send({ op: kind, id });
  updateControls();
}

function createEntry(code, id) {
  const n = entries.size + 1;
  const el = h('article', 'entry running');
  el.setAttribute('aria-label', `Eval ${n}`);
  el.dataset.id = id;
  const input = h('div', 'in');
  const prompt = h('span', 'prompt', '›');
  prompt.setAttribute('aria-hidden', 'true');
  const pre = h('pre', 'src');
  pre.innerHTML = highlight(code);
  input.append(prompt, pre);
  const out = h('div', 'out');
  const spinner = h('p', 'spinner', 'running…');
  el.append(input, out, spinner);
  const entry = { id, code, el, out, pre, spinner, label: `eval ${n}`, started: Date.now(), done: false };
  entries.set(id, entry);
  append(el, true); // what the user just ran comes into view
  return entry;
}

function finishEntry(entry, outcome, text) {
  if (entry.done) return;
  entry.done = true;
  entry.spinner.remove();
  entry.el.classList.remove('running');
  entry.el.classList.add(`is-${outcome}`);
  if (text) entry.el.append(h('p', 'note', text));
}

function logLine(frame) {
  const line = h('div', `log level-${frame.level}`);
  const label = h('span', 'level', frame.level);
  line.append(label, h('span', 'text', frame.text));
  return line;
}

function renderResult(entry, frame) {
  const value = frame.value;
  const box = h('div', 'result');
  entry.el.append(box);
  try {
    globalThis.$_ = codec.decode(JSON.stringify(value));
  } catch (error) {
    box.append(h('p', 'note warn', `The value could not be decoded: ${error.message}`));
  }
  if (value?.$type === 'promise' && typeof frame.text === 'string') {
    // The encoding cannot carry a promise's state; the REPL text has it (`Promise { 42 }`).
    box.append(h('pre', 'repl-text promise', frame.text));
    return;
  }
  const rows = tree.rowsOf(value);
  const isLeaf = value === null || typeof value !== 'object' || (!Array.isArray(value) && isSimpleTag(value));
  if (isLeaf) {
    box.append(tree.renderTree(value));
    return;
  }
  const views = { tree: () => tree.renderTree(value), text: () => h('pre', 'repl-text', frame.text ?? '') };
  if (rows) views.table = () => tree.renderTable(rows);
  const order = rows ? ['table', 'tree', 'text'] : ['tree', 'text'];
  const bar = h('div', 'views');
  bar.setAttribute('role', 'group');
  bar.setAttribute('aria-label', 'Show the result as');
  const body = h('div', 'view');
  const buttons = {};
  const show = (name) => {
    for (const [key, button] of Object.entries(buttons)) button.setAttribute('aria-pressed', String(key === name));
    body.replaceChildren(views[name]());
  };
  for (const name of order) {
    const button = h('button', 'view-button', capitalize(name));
    button.type = 'button';
    button.dataset.view = name;
    button.addEventListener('click', () => show(name));
    buttons[name] = button;
    bar.append(button);
  }
  box.append(bar, body);
  show(order[0]);
}

const isSimpleTag = (v) => typeof v.$type === 'string' && !['object', 'map', 'set', 'error', 'bytes'].includes(v.$type);

function renderError(entry, error) {
  const box = h('div', 'error-box');
  let text;
  switch (error.code) {
    case 'UNCAUGHT':
      text = error.text ?? `Uncaught ${error.name ?? 'Error'}: ${error.message}`;
      break;
    case 'SYNTAX_ERROR':
      text = `${error.name ?? 'SyntaxError'}: ${error.message}${error.line ? ` (line ${error.line}, column ${error.column})` : ''}`;
      markSyntaxError(entry, error.line, error.column);
      break;
    case 'TIMEOUT':
      text = `Timed out: the eval ran past its ${error.timeoutMs ?? ''} ms budget (set a longer timeout next to Run).`;
      break;
    case 'INTERRUPTED':
      text = `Interrupted: ${error.message}`;
      break;
    case 'DB_ERROR':
      text = `${error.text ?? `Error [DB_ERROR]: ${error.message}`}${error.errno ? `\n(errno ${error.errno}, SQLSTATE ${error.sqlState})` : ''}`;
      break;
    default:
      text = error.text ?? `Error [${error.code}]: ${error.message}${error.hint ? `\n${error.hint}` : ''}`;
  }
  const pre = h('pre', 'error-text', text);
  const code = h('span', 'error-code', error.code);
  box.append(code, pre);
  const value = error.value;
  if (value && typeof value === 'object' && (value.cause !== undefined || value.props || value.errors)) {
    const details = h('div', 'error-value');
    details.append(tree.renderTree(value));
    box.append(details);
  }
  entry.el.append(box);
}

/** Underlines the position of a syntax error in the echoed input. */
function markSyntaxError(entry, line, column) {
  if (!line || !column) return;
  const lines = entry.code.split('\n');
  if (line > lines.length) return;
  let offset = 0;
  for (let i = 0; i < line - 1; i++) offset += lines[i].length + 1;
  offset += Math.min(column - 1, lines[line - 1].length);
  const before = entry.code.slice(0, offset);
  const at = entry.code.slice(offset, offset + 1) || ' ';
  const after = entry.code.slice(offset + 1);
  entry.pre.innerHTML = highlight(before);
  const mark = h('mark', 'syntax-error', at);
  mark.title = 'syntax error here';
  const rest = h('span');
  rest.innerHTML = highlight(after);
  entry.pre.append(mark, rest);
}

/** The `.stats` line, as text mode prints it. */
function statsText(stats) {
  if (!stats) return 'No evaluation has finished yet.';
  const q = `${stats.queries} ${stats.queries === 1 ? 'query' : 'queries'}`;
  return `Last evaluation: ${stats.ms} ms total, ${stats.cpuMs} ms JavaScript, ${stats.dbMs} ms database (${q}).`;
}

function statsLine(stats) {
  const ms = (x) => `${Number(x ?? 0).toFixed(x >= 100 ? 0 : 1)} ms`;
  const p = h('p', 'stats');
  p.textContent = `${ms(stats.ms)} · CPU ${ms(stats.cpuMs)} · DB ${ms(stats.dbMs)} · ${stats.queries} quer${stats.queries === 1 ? 'y' : 'ies'}`;
  p.title = 'wall-clock time · time running JavaScript · time waiting for the database · statements';
  return p;
}

// ---- transcript, notices, controls ------------------------------------------

/** Whether the transcript is scrolled to (near) its end: new output then keeps it there. */
const atEnd = () => {
  const t = ui.transcript;
  return t.scrollHeight - t.scrollTop - t.clientHeight < 80;
};
const toEnd = () => {
  ui.transcript.scrollTop = ui.transcript.scrollHeight;
};

function append(el, force = false) {
  const stick = force || atEnd();
  ui.transcript.append(el);
  if (stick) toEnd();
}

function notice(text, level, role) {
  store.add({ t: 'notice', text, level });
  const p = h('p', `notice notice-${level}`, text);
  // An alert must have its role when it is inserted, or screen readers may not announce it.
  if (role) p.setAttribute('role', role);
  append(p, level === 'error');
  return p;
}

function setTransaction(open, since = Date.now()) {
  tx.open = open;
  tx.since = open ? since : 0;
  try {
    // Kept for a reload that resumes the session (the page forgets everything else).
    sessionStorage.setItem('vmgate.tx', JSON.stringify({ session: connection.session, ...tx }));
  } catch {
    // no storage
  }
  ui.txState.textContent = open ? 'open' : 'none';
  ui.txState.dataset.open = String(open);
  renderTxAge();
  updateControls();
}

function renderTxAge() {
  if (!tx.open) {
    ui.txAge.textContent = '';
    return;
  }
  const s = Math.max(0, Math.floor((Date.now() - tx.since) / 1000));
  ui.txAge.textContent = s < 60 ? `for ${s} s` : `for ${Math.floor(s / 60)} min ${s % 60} s`;
}
setInterval(renderTxAge, 1000);

function updateControls() {
  const connected = connection.connected;
  const evalRunning = [...pending.values()].some((r) => r.kind === 'eval');
  ui.run.disabled = !connected;
  ui.interrupt.disabled = !connected || !evalRunning;
  // Only with a transaction open (what the frames say: stats carry its age).
  ui.commit.disabled = !connected || !tx.open;
  ui.rollback.disabled = !connected || !tx.open;
  ui.newSession.disabled = connection.state === 'connecting';
}

function rememberToken(token) {
  try {
    if (token) sessionStorage.setItem('vmgate.token', token);
    else sessionStorage.removeItem('vmgate.token');
  } catch {
    // storage disabled: the token lasts as long as the page
  }
}

const capitalize = (s) => s.charAt(0).toUpperCase() + s.slice(1);

// ---- wiring ----------------------------------------------------------------

ui.form.addEventListener('submit', (event) => {
  event.preventDefault();
  editor.run();
  ui.code.focus();
});
ui.interrupt.addEventListener('click', () => interrupt());
ui.commit.addEventListener('click', () => endTransaction('commit'));
ui.rollback.addEventListener('click', () => endTransaction('rollback'));
/** Clears the output (button, Ctrl+L, `.clear`); evals still running stay. */
function clearTranscript() {
  completion.close();
  ui.transcript.replaceChildren();
  store.clear();
  for (const entry of entries.values()) {
    if (entry.done) continue;
    ui.transcript.append(entry.el);
    store.add({ t: 'eval', id: entry.id, code: entry.code });
  }
  ui.code.focus();
}

function toggleHelp(show = ui.helpPanel.hidden) {
  ui.helpPanel.hidden = !show;
  ui.helpToggle.setAttribute('aria-expanded', String(show));
  ui.helpToggle.setAttribute('aria-pressed', String(show));
}

function setLogLevel(level) {
  ui.logLevel.value = level;
  ui.transcript.dataset.minLevel = ui.logLevel.value || 'debug';
}

ui.clear.addEventListener('click', () => clearTranscript());
ui.helpToggle.addEventListener('click', () => toggleHelp());
document.addEventListener('keydown', (event) => {
  if (event.ctrlKey && !event.altKey && !event.metaKey && !event.shiftKey && event.key.toLowerCase() === 'l') {
    event.preventDefault();
    clearTranscript();
  } else if (event.key === 'F1') {
    event.preventDefault();
    toggleHelp();
  }
});
ui.logLevel.addEventListener('change', () => {
  setLogLevel(ui.logLevel.value);
  try {
    localStorage.setItem('vmgate.logLevel', ui.logLevel.value);
  } catch {
    // no storage
  }
});
try {
  setLogLevel(localStorage.getItem('vmgate.logLevel') ?? 'debug');
} catch {
  setLogLevel('debug');
}
ui.newSession.addEventListener('click', () => {
  notice(`Ending session ${short(connection.session)} (its open transaction is rolled back).`, 'info');
  for (const [id, request] of pending) {
    if (request.entry) finishEntry(request.entry, 'lost', 'No answer: the session was ended.');
    pending.delete(id);
  }
  connection.newSession();
  ui.code.focus();
});
ui.tokenForm.addEventListener('submit', (event) => {
  event.preventDefault();
  connection.token = ui.token.value.trim();
  rememberToken(connection.token);
  ui.tokenHelp.textContent = 'Connecting…';
  connection.retry();
});
try {
  const savedTimeout = localStorage.getItem('vmgate.timeoutSeconds');
  if (savedTimeout) ui.timeout.value = savedTimeout;
} catch {
  // no storage
}
ui.timeout.addEventListener('change', () => {
  try {
    localStorage.setItem('vmgate.timeoutSeconds', ui.timeout.value);
  } catch {
    // no storage
  }
});

// For tests and for curious people in the devtools: `vmgate.connection.snapshot()`; `$_` is the last result, decoded.
globalThis.vmgate = { connection, codec, entries, pending, tx, store };

updateControls();
connection.start();
ui.code.focus();
