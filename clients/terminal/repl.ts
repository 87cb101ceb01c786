import { clearScreenDown, createInterface, cursorTo, type Interface, moveCursor } from 'node:readline';
import {
  type ClientRequest,
  type ConnectionEvent,
  type ConnectionOptions,
  type ServerFrame,
  SessionConnection,
  SessionLostError,
} from './connection';
import { HISTORY_SIZE, isIncomplete, loadHistory, parseCommand, saveHistory } from './input';
import {
  type EvalStats,
  helpText,
  renderHello,
  renderLog,
  renderStats,
  renderTerminal,
  Style,
  visible,
} from './render';

/**
 * The interactive console of `vmgate connect`: readline with history and
 * multi-line continuation on one side, a SessionConnection on the other.
 * One request runs at a time; lines typed meanwhile wait their turn.
 */

export interface TerminalStreams {
  readonly input: NodeJS.ReadableStream & { isTTY?: boolean };
  readonly output: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Notices and errors when output is not a terminal (default: output). */
  readonly errorOutput?: NodeJS.WritableStream;
}

export interface TerminalClientOptions extends TerminalStreams {
  readonly url: string;
  readonly token?: string;
  /** History file; undefined = no history. */
  readonly historyFile?: string;
  readonly color: boolean;
  /** Time budget asked for each eval (the server clamps it). */
  readonly timeoutMs?: number;
  /** Tuning of the connection (backoff, ping), mostly for tests. */
  readonly connection?: Partial<Omit<ConnectionOptions, 'url' | 'token'>>;
}

type CompleterCallback = (error: Error | null, result: [string[], string]) => void;
/** How long Tab waits for the session's candidates. */
const COMPLETION_WAIT_MS = 3_000;

const EXIT_HINT = '(To exit, press Ctrl+C again or Ctrl+D or type .exit)';
const NEW_SESSION_PROMPT = 'Start a new session? (Y/n) ';

type Phase = 'opening' | 'ready' | 'lost' | 'done';

interface Busy {
  readonly id: number;
  readonly op: string;
  ctrlC: number;
}

/** `vmgate connect <url> --eval <code>`: one eval, its output, exit code 0 (result) or 1 (error). */
export async function runOnce(options: TerminalClientOptions, code: string): Promise<number> {
  const style = new Style(options.color);
  const out = options.output;
  const err = options.errorOutput ?? out;
  const conn = new SessionConnection({ ...options.connection, url: options.url, token: options.token });
  try {
    await conn.open();
  } catch (error) {
    err.write(`vmgate connect: ${visible((error as Error).message)}\n`);
    return 1;
  }
  conn.on((event) => {
    if (event.type === 'frame' && event.frame.type === 'log') {
      const level = String(event.frame.level);
      (level === 'error' || level === 'warn' ? err : out).write(`${renderLog(event.frame, style)}\n`);
    } else if (event.type === 'dropped') {
      err.write(`${style.apply('yellow', 'connection lost; reconnecting to resume the session…')}\n`);
    } else if (event.type === 'resumed') {
      err.write(`${style.apply('dim', 'reconnected: session resumed')}\n`);
    }
  });
  const request: ClientRequest =
    options.timeoutMs !== undefined ? { op: 'eval', code, timeoutMs: options.timeoutMs } : { op: 'eval', code };
  // Ctrl+C interrupts the eval (it then ends with INTERRUPTED, exit 1); a second one quits.
  let interrupts = 0;
  const onSigint = () => {
    if (++interrupts === 1) conn.request({ op: 'interrupt' }).done.catch(() => {});
    else void conn.close().then(() => process.exit(130));
  };
  process.on('SIGINT', onSigint);
  try {
    const frame = await conn.request(request).done;
    if (frame.type === 'result') {
      out.write(`${renderTerminal(frame, style)}\n`);
      return 0;
    }
    err.write(`${renderTerminal(frame, style)}\n`);
    return 1;
  } catch (error) {
    err.write(`${style.apply('red', `the session was lost: ${(error as Error).message}`)}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSigint);
    await conn.close();
  }
}

/** The interactive console. Resolves with the process exit code. */
export function runInteractive(options: TerminalClientOptions): Promise<number> {
  return new TerminalRepl(options).start();
}

class TerminalRepl {
  readonly #options: TerminalClientOptions;
  readonly #style: Style;
  readonly #out: TerminalStreams['output'];
  readonly #err: NodeJS.WritableStream;
  /** readline draws the line itself (raw mode, cursor keys, history). */
  readonly #terminal: boolean;
  /** A person types (show prompts, ask before a new session, Ctrl+D quits at once). */
  readonly #interactive: boolean;
  #conn!: SessionConnection;
  #unsubscribe: (() => void) | undefined;
  #rl!: Interface;
  #rlClosed = false;
  #phase: Phase = 'opening';
  #buffer: string[] = [];
  #queue: string[] = [];
  #busy: Busy | undefined;
  #lastStats: EvalStats | undefined;
  #sawSigint = false;
  #inputEnded = false;
  #historyWarned = false;
  #exit!: (code: number) => void;
  readonly #onProcessSigint = () => this.#onInterruptKey();

  constructor(options: TerminalClientOptions) {
    this.#options = options;
    this.#style = new Style(options.color);
    this.#out = options.output;
    this.#err = options.errorOutput ?? options.output;
    this.#terminal = Boolean(options.input.isTTY && options.output.isTTY);
    this.#interactive = Boolean(options.input.isTTY);
  }

  async start(): Promise<number> {
    const exited = new Promise<number>((resolve) => {
      this.#exit = resolve;
    });
    if (!(await this.#openSession())) return 1;
    this.#rl = createInterface({
      input: this.#options.input,
      output: this.#out,
      terminal: this.#terminal,
      prompt: '> ',
      history: loadHistory(this.#options.historyFile),
      historySize: HISTORY_SIZE,
      removeHistoryDuplicates: true,
      tabSize: 2,
      // Tab completes like the Node REPL's, with the session's own names (the `complete` op).
      ...(this.#terminal ? { completer: (line: string, done: CompleterCallback) => this.#complete(line, done) } : {}),
    });
    this.#rl.on('history', (history: string[]) => this.#onHistory(history));
    this.#rl.on('line', (line) => this.#onLine(line));
    this.#rl.on('SIGINT', () => this.#onInterruptKey());
    this.#rl.on('close', () => this.#onInputClosed());
    process.on('SIGINT', this.#onProcessSigint);
    this.#phase = 'ready';
    this.#showPrompt();
    const code = await exited;
    process.off('SIGINT', this.#onProcessSigint);
    return code;
  }

  // ---- the session ---------------------------------------------------------

  async #openSession(): Promise<boolean> {
    this.#phase = 'opening';
    if (this.#rl && !this.#rlClosed) this.#rl.setPrompt('');
    this.#unsubscribe?.();
    const conn = new SessionConnection({
      ...this.#options.connection,
      url: this.#options.url,
      token: this.#options.token,
    });
    this.#conn = conn;
    this.#unsubscribe = conn.on((event) => this.#onConnectionEvent(conn, event));
    try {
      const hello = await conn.open();
      this.#notice(renderHello(hello, this.#style));
      return true;
    } catch (error) {
      this.#notice(this.#style.apply('red', `vmgate connect: ${(error as Error).message}`));
      return false;
    }
  }

  #onConnectionEvent(conn: SessionConnection, event: ConnectionEvent): void {
    if (conn !== this.#conn || this.#phase === 'done') return;
    const style = this.#style;
    switch (event.type) {
      case 'frame':
        this.#onFrame(conn, event.frame);
        return;
      case 'dropped':
        this.#notice(
          style.apply(
            'yellow',
            `connection lost${event.code === 1006 ? '' : ` (${event.code}${event.reason ? ` ${event.reason}` : ''})`}; reconnecting to resume the session (for up to ${Math.round(event.graceMs / 1000)} s)…`,
          ),
        );
        return;
      case 'retrying':
        if (event.attempt === 3) this.#notice(style.apply('dim', `still reconnecting (${event.why})…`));
        return;
      case 'resumed': {
        const replayed = event.replayed
          ? `; ${event.replayed} frame${event.replayed === 1 ? '' : 's'} sent meanwhile replayed`
          : '';
        this.#notice(style.apply('green', `reconnected: session resumed${replayed}`));
        return;
      }
      case 'replayed':
        if (event.unanswered > 0) {
          this.#notice(
            style.apply(
              'dim',
              'no answer yet to the request sent before the drop; if the server never got it, press Ctrl+C to stop waiting',
            ),
          );
        }
        return;
      case 'lost':
        this.#onLost(event.message);
        return;
    }
  }

  #onFrame(conn: SessionConnection, frame: ServerFrame): void {
    if (frame.type === 'log') {
      this.#print(renderLog(frame, this.#style));
      return;
    }
    // Terminal frames of our requests are shown when their promise settles;
    // anything else (an abandoned request's late answer, an id-less error) here.
    const id = frame.id;
    if (typeof id === 'number' && conn.isPending(id)) return;
    if (frame.type === 'error' && (id === null || id === undefined)) {
      this.#print(renderTerminal(frame, this.#style));
    } else if (frame.type === 'result' || frame.type === 'error') {
      this.#print(`${this.#style.apply('dim', '(late answer)')} ${renderTerminal(frame, this.#style)}`);
    }
  }

  #onLost(message: string): void {
    this.#phase = 'lost';
    this.#buffer = [];
    this.#queue = [];
    this.#print(
      this.#style.apply(
        'red',
        `The session was lost: ${message}.\nIts bindings are gone and its open transaction, if any, was rolled back.`,
      ),
    );
    if (!this.#interactive) {
      void this.#finish(1);
      return;
    }
    this.#showPrompt();
  }

  async #startNewSession(): Promise<void> {
    if (await this.#openSession()) {
      this.#phase = 'ready';
      this.#lastStats = undefined;
      this.#pump();
    } else {
      this.#phase = 'lost';
      this.#showPrompt();
    }
  }

  // ---- input ---------------------------------------------------------------

  #onLine(line: string): void {
    this.#sawSigint = false;
    if (this.#phase === 'done') return;
    if (this.#phase === 'lost') {
      const answer = line.trim().toLowerCase();
      if (answer === '' || answer === 'y' || answer === 'yes') void this.#startNewSession();
      else if (answer === 'n' || answer === 'no' || answer === '.exit') void this.#finish(0);
      else this.#showPrompt();
      return;
    }
    this.#queue.push(line);
    this.#pump();
  }

  #pump(): void {
    while (this.#phase === 'ready' && !this.#busy && this.#queue.length > 0) {
      this.#handleLine(this.#queue.shift() as string);
    }
    if (this.#phase !== 'ready' || this.#busy) return;
    if (this.#inputEnded) {
      if (this.#buffer.length > 0) {
        // The input ended inside an incomplete entry: let the server say what is wrong.
        const code = this.#buffer.join('\n');
        this.#buffer = [];
        this.#send({ op: 'eval', code });
        return;
      }
      void this.#finish(0);
      return;
    }
    this.#showPrompt();
  }

  #handleLine(line: string): void {
    const command = parseCommand(line);
    if (this.#buffer.length > 0) {
      if (command.kind === 'command' && command.name === 'break') {
        this.#buffer = [];
        return;
      }
    } else {
      if (command.kind === 'command') {
        this.#runCommand(command.name);
        return;
      }
      if (command.kind === 'unknown') {
        this.#print(this.#style.apply('red', `Invalid REPL keyword ${command.name}: type .help for the commands`));
        return;
      }
      if (line.trim() === '') return;
    }
    this.#buffer.push(line);
    const code = this.#buffer.join('\n');
    if (isIncomplete(code)) return;
    this.#buffer = [];
    const timeoutMs = this.#options.timeoutMs;
    this.#send(timeoutMs !== undefined ? { op: 'eval', code, timeoutMs } : { op: 'eval', code });
  }

  /**
   * readline's completer: `line` is the current line up to the cursor; the
   * lines of an unfinished entry come before it. Candidates replace the word
   * being typed; readline inserts a single one, or their common prefix and
   * lists them all, as the Node REPL does. No answer in time: no candidates.
   */
  #complete(line: string, done: CompleterCallback): void {
    const none = () => done(null, [[], line]);
    if (this.#phase !== 'ready') {
      none();
      return;
    }
    const before = this.#buffer.length > 0 ? `${this.#buffer.join('\n')}\n` : '';
    const code = before + line;
    const { id, done: answered } = this.#conn.request({ op: 'complete', code, cursor: code.length });
    const timer = setTimeout(() => this.#conn.abandon(id, new Error('no completion in time')), COMPLETION_WAIT_MS);
    answered
      .then((frame) => {
        if (frame.type !== 'completions' || !Array.isArray(frame.candidates)) {
          none();
          return;
        }
        const from = Math.max(Number(frame.from) - before.length, 0);
        const candidates = (frame.candidates as unknown[]).filter((c): c is string => typeof c === 'string');
        done(null, [candidates, line.slice(from, Number(frame.to) - before.length)]);
      }, none)
      .finally(() => clearTimeout(timer));
  }

  #runCommand(name: string): void {
    switch (name) {
      case 'commit':
      case 'rollback':
        this.#send({ op: name });
        return;
      case 'stats':
        this.#print(renderStats(this.#lastStats));
        return;
      case 'help':
        this.#print(helpText());
        return;
      case 'break':
        return;
      case 'exit':
        void this.#finish(0);
        return;
    }
  }

  #send(request: ClientRequest): void {
    const conn = this.#conn;
    const { id, done } = conn.request(request);
    this.#busy = { id, op: request.op, ctrlC: 0 };
    this.#showPrompt();
    done
      .then(
        (frame) => {
          if (request.op === 'eval' && frame.stats) this.#lastStats = frame.stats as EvalStats;
          this.#print(renderTerminal(frame, this.#style));
        },
        (error: Error) => {
          if (error instanceof SessionLostError) return; // #onLost said it
          this.#print(this.#style.apply('red', error.message));
        },
      )
      .finally(() => {
        if (this.#busy?.id === id) this.#busy = undefined;
        this.#pump();
      });
  }

  /** Ctrl+C: interrupt a running request; at the prompt clear the line, twice in a row quit. */
  #onInterruptKey(): void {
    if (this.#phase === 'done') return;
    const busy = this.#busy;
    if (busy) {
      busy.ctrlC++;
      if (busy.ctrlC === 1) {
        this.#interrupt(busy);
      } else if (busy.ctrlC === 2) {
        this.#print(
          this.#style.apply(
            'dim',
            '(still running: code that never yields cannot be interrupted and ends at its time budget; press Ctrl+C again to quit)',
          ),
        );
      } else {
        void this.#finish(130);
      }
      return;
    }
    if (!this.#terminal) {
      void this.#finish(130);
      return;
    }
    if (this.#phase !== 'ready') {
      this.#out.write('\n');
      void this.#finish(0);
      return;
    }
    const empty = this.#rl.line.length === 0 && this.#buffer.length === 0;
    this.#rl.write(null, { ctrl: true, name: 'e' });
    this.#rl.write(null, { ctrl: true, name: 'u' });
    if (this.#buffer.length > 0) {
      this.#out.write('\n');
      this.#buffer = [];
    }
    if (empty) {
      if (this.#sawSigint) {
        this.#out.write('\n');
        void this.#finish(0);
        return;
      }
      this.#sawSigint = true;
      this.#print(EXIT_HINT);
    } else {
      this.#sawSigint = false;
    }
    this.#showPrompt();
  }

  #interrupt(busy: Busy): void {
    const conn = this.#conn;
    const { done } = conn.request({ op: 'interrupt' });
    done.then(
      () => {
        // An eval the server was running has had its INTERRUPTED answer by
        // now. One still pending that was sent just before a drop never
        // reached the server: stop waiting for it.
        if (conn.isPending(busy.id) && conn.isUncertain(busy.id)) {
          conn.abandon(
            busy.id,
            new Error('no answer: the request was lost with the dropped connection (the server never received it)'),
          );
        }
      },
      () => {},
    );
  }

  /** Ctrl+D at an empty line, or the end of piped input. */
  #onInputClosed(): void {
    this.#rlClosed = true;
    if (this.#phase === 'done') return;
    this.#inputEnded = true;
    if (this.#terminal || this.#phase !== 'ready') {
      if (this.#terminal) this.#out.write('\n');
      void this.#finish(0);
      return;
    }
    this.#pump();
  }

  #onHistory(history: string[]): void {
    // The answer to "Start a new session?" is not code.
    if (this.#phase === 'lost' && /^\s*(y|yes|n|no)\s*$/i.test(history[0] ?? '')) history.shift();
    try {
      saveHistory(this.#options.historyFile, history);
    } catch (error) {
      if (this.#historyWarned) return;
      this.#historyWarned = true;
      this.#print(this.#style.apply('yellow', `history not saved: ${(error as Error).message}`));
    }
  }

  // ---- output --------------------------------------------------------------

  #showPrompt(): void {
    if (this.#phase === 'done' || this.#rlClosed || !this.#rl) return;
    if (this.#phase === 'lost') {
      this.#rl.setPrompt(this.#interactive ? NEW_SESSION_PROMPT : '');
    } else if (this.#busy || this.#phase === 'opening') {
      this.#rl.setPrompt('');
      return;
    } else {
      this.#rl.setPrompt(this.#interactive ? (this.#buffer.length > 0 ? '... ' : '> ') : '');
    }
    if (this.#interactive) this.#rl.prompt(true);
  }

  /** Writes whole lines above the prompt and the line being typed, then redraws them. */
  #print(text: string): void {
    if (!this.#terminal || this.#rlClosed || !this.#rl) {
      this.#out.write(`${text}\n`);
      return;
    }
    const { rows } = this.#rl.getCursorPos();
    if (rows > 0) moveCursor(this.#out, 0, -rows);
    cursorTo(this.#out, 0);
    clearScreenDown(this.#out);
    this.#out.write(`${text}\n`);
    // readline would move up by the rows of the line it drew last: we already did.
    (this.#rl as unknown as { prevRows?: number }).prevRows = 0;
    if (this.#phase !== 'done') this.#rl.prompt(true);
  }

  /** Connection notices: on the console in a terminal, on stderr when output is piped. */
  #notice(text: string): void {
    if (this.#terminal || !this.#options.errorOutput) this.#print(text);
    else this.#err.write(`${text}\n`);
  }

  async #finish(code: number): Promise<void> {
    if (this.#phase === 'done') return;
    this.#phase = 'done';
    if (this.#rl && !this.#rlClosed) this.#rl.close();
    await this.#conn.close();
    this.#exit(code);
  }
}
