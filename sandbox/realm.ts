import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import vm from 'node:vm';
import { sessionFunctionSource } from '../common/realm-bundle';
import { type EntryOutcome, runTimed } from './entry-scheduler';
import type { HostApi, LogLevel } from './host-api';
import { INPUT_FILENAME } from './input-cache';

/**
 * One session realm: a fresh `node:vm` context built under every rule of
 * docs/design.md §1, plus the host half of its bridge. This class owns the
 * context and the Node timers armed for it; `dispose()` is its one close path.
 *
 * Every entry into the realm after bootstrap runs under a timeout: its own
 * timed `runInContext`, or a batch's (entry-scheduler.ts). The realm uses
 * `microtaskMode: 'afterEvaluate'`, so promise jobs run inside that budget too. The host never reads a property of a realm
 * value: the realm calls back with primitives only.
 */

export type { LogLevel } from './host-api';

const LOG_LEVELS: ReadonlySet<string> = new Set(['log', 'info', 'warn', 'error', 'debug']);

export interface RealmSettlement {
  readonly evalId: number;
  readonly kind: 'result' | 'error';
  /** Human rendering, as the Node REPL prints it (for errors: `Name: message` and frames). */
  readonly text: string;
  /** The tagged JSON encoding of the value (docs/protocol.md, "Value encoding"). */
  readonly json: string;
  readonly name?: string;
  readonly message?: string;
  readonly stack?: string;
  /** For errors raised by the database layer: their wire code and fields (JSON text). */
  readonly details?: string;
}

export interface RealmHooks {
  log(level: LogLevel, text: string): void;
  settle(settlement: RealmSettlement): void;
  /** Work is queued for the realm (a timer fired, a host call finished): schedule a pump. */
  wake(): void;
  /** An asynchronous host call started by realm code; return its id, or undefined to refuse. */
  call?(op: string, payload: string): number | undefined;
  /** The answer of a completion entry (JSON text: `{"names":[…],"truncated":…}`). */
  completed?(json: string): void;
}

export interface RealmOptions {
  readonly shared?: unknown;
  readonly maxTimers: number;
  readonly maxLogLine: number;
  readonly inspectDepth: number;
  readonly encodeLimits?: Readonly<Record<string, number>>;
  /** Library scripts a realm may load on demand (e.g. Kysely), each compiled once per process. */
  readonly modules?: Readonly<Record<string, () => vm.Script>>;
}

let bootstrapScript: vm.Script | undefined;
let pumpScript: vm.Script | undefined;
let completeScript: vm.Script | undefined;

function scripts(): { bootstrap: vm.Script; pump: vm.Script; complete: vm.Script } {
  // Compiled once per process; running a compiled script in a new context
  // shares its bytecode, so a realm pays only for the closures it creates.
  bootstrapScript ??= new vm.Script(sessionFunctionSource(), { filename: 'vmgate:realm' });
  pumpScript ??= new vm.Script('__vmgate.p()', { filename: 'vmgate:pump' });
  completeScript ??= new vm.Script('__vmgate.c()', { filename: 'vmgate:complete' });
  return { bootstrap: bootstrapScript, pump: pumpScript, complete: completeScript };
}

// displayErrors: false — otherwise Node reads `.stack` of an escaping value
// in host code, outside the timeout.
const UNTIMED: vm.RunningScriptOptions = Object.freeze({ displayErrors: false });

const URL_FIELDS = [
  'href',
  'origin',
  'protocol',
  'username',
  'password',
  'host',
  'hostname',
  'port',
  'pathname',
  'search',
  'hash',
] as const;
type UrlField = (typeof URL_FIELDS)[number];

function urlParts(url: URL): string {
  const parts: Record<string, string> = {};
  for (const field of URL_FIELDS) parts[field] = url[field];
  return JSON.stringify(parts);
}

export type RealmEvent =
  | readonly ['t', number, number]
  | readonly ['c', number, boolean, unknown]
  | readonly ['f', number[]];

export class Realm {
  readonly #context: vm.Context;
  readonly #hooks: RealmHooks;
  readonly #maxTimers: number;
  readonly #modules: Readonly<Record<string, () => vm.Script>>;
  readonly #loaded = new Set<string>();
  /** Input id (input-cache.ts) → the eval that last ran it here, and its position map. */
  readonly #sources = new Map<number, InputSource>();
  readonly #timers = new Map<number, { handle: NodeJS.Timeout; owner: number }>();
  #events: RealmEvent[] = [];
  #pumpOpen = false;
  /** The request of the completion entry in progress (JSON text), undefined outside one. */
  #completion: string | undefined;
  #disposed = false;
  /** Attribution for timers armed during the current entry. */
  #entryOwner = 0;

  constructor(options: RealmOptions, hooks: RealmHooks) {
    this.#hooks = hooks;
    this.#maxTimers = options.maxTimers;
    this.#modules = options.modules ?? {};
    // A null-prototype object: a plain `{}` would be a host object whose
    // constructor chain reaches the host `Function` (docs/design.md §1 rule 4).
    this.#context = vm.createContext(Object.create(null), {
      name: 'vmgate session',
      codeGeneration: { strings: false, wasm: false },
      microtaskMode: 'afterEvaluate',
    });
    const { bootstrap } = scripts();
    const init = bootstrap.runInContext(this.#context, { displayErrors: false }) as (
      host: HostApi,
      config: string,
      shared: unknown,
    ) => undefined;
    const config = JSON.stringify({
      maxLogLine: options.maxLogLine,
      inspectDepth: options.inspectDepth,
      encodeLimits: options.encodeLimits ?? {},
      // One list for both sides: the realm's URL class defines an accessor per field.
      urlFields: URL_FIELDS,
    });
    // A direct (untimed) call is acceptable only here: trusted code, before
    // any user code exists in the realm.
    init(this.#hostApi(), config, options.shared);
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  /**
   * Enters the realm to run a compiled input script (see repl-transform.ts).
   * `timeoutMs` undefined: an enclosing timed entry covers it (a batch, see
   * entry-scheduler.ts). Throws whatever escapes (never read). `leave()`
   * must follow, whatever happened: a terminated entry skips its own cleanup.
   */
  enter(script: vm.Script, owner: number, timeoutMs: number | undefined): void {
    if (this.#disposed) return;
    this.#entryOwner = owner;
    script.runInContext(
      this.#context,
      timeoutMs === undefined ? UNTIMED : { timeout: timeoutMs, displayErrors: false },
    );
  }

  /** Enters the realm to deliver queued events (fired timers, finished host calls); see `enter`. */
  enterPump(owner: number, timeoutMs: number | undefined): void {
    if (this.#events.length === 0) return;
    this.#pumpOpen = true;
    this.enter(scripts().pump, owner, timeoutMs);
  }

  /**
   * Enters the realm to gather completion candidates for `request` (JSON text
   * `{path, prefix}`, see realm/completion.js); the answer arrives through
   * `hooks.completed` before this returns. See `enter`.
   */
  enterCompletion(request: string, timeoutMs: number | undefined): void {
    this.#completion = request;
    this.enter(scripts().complete, 0, timeoutMs);
  }

  leave(): void {
    this.#entryOwner = 0;
    this.#pumpOpen = false;
    this.#completion = undefined;
  }

  /** How to map stack positions of input `input` (run as eval `evalId`) back to what the user typed. */
  registerSource(input: number, evalId: number, map: PositionMap): void {
    this.#sources.delete(input);
    this.#sources.set(input, { evalId, map });
    // Functions from older inputs can still appear in stacks; keep a bounded history.
    if (this.#sources.size > 256) this.#sources.delete(this.#sources.keys().next().value as number);
  }

  hasModule(name: string): boolean {
    return this.#loaded.has(name);
  }

  /** Runs a library module's script as its own timed entry (before an input that needs it). */
  loadModule(name: string, timeoutMs: number): EntryOutcome | undefined {
    const script = this.#modules[name];
    if (!script || this.#loaded.has(name) || this.#disposed) return undefined;
    this.#loaded.add(name);
    const outcome = runTimed((timeout) => this.enter(script(), 0, timeout), timeoutMs);
    this.leave();
    return outcome;
  }

  get hasPendingEvents(): boolean {
    return this.#events.length > 0;
  }

  /** The owner recorded for the timer events at the head of the queue (for attribution). */
  get nextEventOwner(): number {
    for (const event of this.#events) {
      if (event[0] === 't') return event[2];
    }
    return 0;
  }

  /** Queues the answer to a host call made by realm code. */
  deliver(callId: number, ok: boolean, payload: string | number | boolean | null): void {
    if (this.#disposed) return;
    this.#events.push(['c', callId, ok, payload]);
    this.#hooks.wake();
  }

  /** Clears the timers armed on behalf of `owner` (an eval that timed out or was interrupted). */
  clearTimers(owner?: number): number {
    const dropped: number[] = [];
    for (const [id, timer] of this.#timers) {
      if (owner === undefined || timer.owner === owner) {
        clearTimeout(timer.handle);
        this.#timers.delete(id);
        dropped.push(id);
      }
    }
    if (dropped.length > 0) {
      // Fired-but-undelivered events of those timers are dropped too, and the
      // realm forgets their callbacks on its next entry.
      const gone = new Set(dropped);
      this.#events = this.#events.filter((event) => !(event[0] === 't' && gone.has(event[1])));
      this.#events.push(['f', dropped]);
    }
    return dropped.length;
  }

  get timerCount(): number {
    return this.#timers.size;
  }

  /** Frees the realm: every Node timer, every queued event, the context itself. Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const timer of this.#timers.values()) clearTimeout(timer.handle);
    this.#timers.clear();
    this.#events = [];
    // node:vm has no explicit dispose: dropping the last reference frees the
    // context. The owner drops this Realm object.
  }

  #armTimer(id: number, ms: number, repeat: boolean): boolean {
    if (this.#disposed || this.#timers.size >= this.#maxTimers || this.#timers.has(id)) return false;
    const owner = this.#entryOwner;
    const fire = () => {
      if (this.#disposed) return;
      if (!repeat) this.#timers.delete(id);
      this.#events.push(['t', id, owner]);
      this.#hooks.wake();
    };
    const handle = repeat ? setInterval(fire, ms) : setTimeout(fire, ms);
    this.#timers.set(id, { handle, owner });
    return true;
  }

  /**
   * The host functions handed to the bootstrap. Each takes and returns
   * primitives only, validates every argument with `typeof` (which never runs
   * realm code), and never throws.
   */
  #hostApi(): HostApi {
    const hooks = this.#hooks;
    const api: HostApi = {
      log: (level: unknown, text: unknown): undefined => {
        if (typeof level === 'string' && typeof text === 'string' && LOG_LEVELS.has(level) && !this.#disposed) {
          guard(() => hooks.log(level as LogLevel, text));
        }
        return undefined;
      },
      settle: (
        evalId: unknown,
        kind: unknown,
        text: unknown,
        json: unknown,
        name: unknown,
        message: unknown,
        stack: unknown,
        details: unknown,
      ): undefined => {
        if (typeof evalId !== 'number' || (kind !== 'result' && kind !== 'error')) return undefined;
        if (typeof text !== 'string' || typeof json !== 'string') return undefined;
        const settlement: RealmSettlement = {
          evalId,
          kind,
          text,
          json,
          ...(typeof name === 'string' ? { name } : {}),
          ...(typeof message === 'string' ? { message } : {}),
          ...(typeof stack === 'string' ? { stack } : {}),
          ...(typeof details === 'string' ? { details } : {}),
        };
        guard(() => hooks.settle(settlement));
        return undefined;
      },
      timer: (op: unknown, id: unknown, ms: unknown, repeat: unknown): boolean => {
        if (typeof id !== 'number') return false;
        if (op === 'clear') {
          const timer = this.#timers.get(id);
          if (timer) clearTimeout(timer.handle);
          return this.#timers.delete(id);
        }
        if (op !== 'set' || typeof ms !== 'number' || typeof repeat !== 'boolean') return false;
        return guard(() => this.#armTimer(id, ms, repeat)) ?? false;
      },
      take: (): string => {
        if (!this.#pumpOpen || this.#events.length === 0) return '';
        const events = this.#events;
        this.#events = [];
        return JSON.stringify(events);
      },
      random: (bytes: unknown): string | undefined => {
        if (typeof bytes !== 'number' || !Number.isInteger(bytes) || bytes < 0 || bytes > 65536) return undefined;
        return randomBytes(bytes).toString('hex');
      },
      url: (op: unknown, a: unknown, b: unknown, c: unknown): string => {
        return (
          guard(() => {
            if (op === 'parse' && typeof a === 'string' && (b === undefined || typeof b === 'string')) {
              return urlParts(new URL(a, b));
            }
            if (op === 'set' && typeof a === 'string' && typeof b === 'string' && typeof c === 'string') {
              const url = new URL(a);
              if (b !== 'origin' && (URL_FIELDS as readonly string[]).includes(b)) {
                (url as unknown as Record<UrlField, string>)[b as UrlField] = c;
              }
              return urlParts(url);
            }
            return '';
          }) ?? ''
        );
      },
      now: (): number => performance.now(),
      evalId: (): number => this.#entryOwner,
      stack: (): string => guard(() => userFrames(this.#sources)) ?? '',
      // Fallback for a realm that reaches `db` without the host having preloaded
      // Kysely (e.g. `globalThis['d' + 'b']`): a nested run, still inside the
      // outer entry's timeout.
      load: (name: unknown): boolean => {
        if (typeof name !== 'string' || this.#disposed) return false;
        const script = this.#modules[name];
        if (!script) return false;
        this.#loaded.add(name);
        return (
          guard(() => {
            script().runInContext(this.#context, { displayErrors: false });
            return true;
          }) ?? false
        );
      },
      completion: (op: unknown, json: unknown): string | undefined => {
        const request = this.#completion;
        if (request === undefined || this.#disposed) return undefined;
        if (op === 'request') return request;
        if (op === 'answer' && typeof json === 'string') {
          // One answer per entry.
          this.#completion = undefined;
          guard(() => hooks.completed?.(json));
        }
        return undefined;
      },
      call: (op: unknown, payload: unknown): number | undefined => {
        if (typeof op !== 'string' || typeof payload !== 'string' || !hooks.call || this.#disposed) return undefined;
        return guard(() => hooks.call?.(op, payload));
      },
    };
    return Object.freeze(Object.assign(Object.create(null), api));
  }
}

/**
 * The user's frames at this point, formatted by the host (a host-realm
 * capture: no realm stack is ever captured, see realm/error-policy.js). Only
 * frames of input scripts (`REPL<n>`) are kept: no host paths, no bootstrap.
 */
export type PositionMap = (line: number, column: number) => readonly [number, number] | undefined;

interface InputSource {
  readonly evalId: number;
  readonly map: PositionMap;
}

function userFrames(sources: ReadonlyMap<number, InputSource>): string {
  // Structured call sites, formatted here: whatever formatter the host
  // process has installed (a test runner's, an APM's) plays no part.
  const { prepareStackTrace, stackTraceLimit } = Error;
  const holder: { stack?: unknown } = {};
  Error.prepareStackTrace = (_error, sites) => sites;
  Error.stackTraceLimit = 64;
  try {
    Error.captureStackTrace(holder);
    const sites = holder.stack;
    if (!Array.isArray(sites)) return '';
    const frames: string[] = [];
    for (const site of sites as NodeJS.CallSite[]) {
      const match = INPUT_FILENAME.exec(site.getFileName() ?? '');
      const source = match ? sources.get(Number(match[1])) : undefined;
      if (!source) continue;
      const position = source.map(site.getLineNumber() ?? 0, site.getColumnNumber() ?? 0);
      if (!position) continue; // the wrapper around an input, not the user's code
      const location = `REPL${source.evalId}:${position[0]}:${position[1]}`;
      const name = site.getFunctionName();
      frames.push(name ? `    at ${site.isConstructor() ? 'new ' : ''}${name} (${location})` : `    at ${location}`);
    }
    return frames.join('\n');
  } finally {
    Error.prepareStackTrace = prepareStackTrace;
    Error.stackTraceLimit = stackTraceLimit;
  }
}

/** Host functions must never throw into the realm: a host error object would cross the boundary. */
function guard<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}
