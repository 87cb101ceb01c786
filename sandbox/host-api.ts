/**
 * The functions the host hands to a session realm's bootstrap, once: built by
 * `Realm` (realm.ts), kept by the realm's bridge (realm/host-bridge.js) where
 * no user code can reach them (docs/design.md §1 rule 2).
 *
 * Everything crosses as primitives: the host never reads a property of a
 * realm value, so each call passes positional primitives and returns one. The
 * types say what the realm sends; the host still checks every argument with
 * `typeof` (its implementation takes `unknown`), and never throws.
 */

export type LogLevel = 'log' | 'info' | 'warn' | 'error' | 'debug';

/**
 * An eval's outcome, as `settle` receives it. `name`, `message` and `stack`
 * describe an error; `details` is the JSON text of a database error's wire
 * code and fields.
 */
export type SettleArguments = [
  evalId: number,
  kind: 'result' | 'error',
  text: string,
  json: string,
  name?: string,
  message?: string,
  stack?: string,
  details?: string,
];

export interface HostApi {
  /** One console line. */
  log(level: LogLevel, text: string): undefined;
  /** The outcome of eval `evalId`: its rendering (`text`) and its value encoding (`json`). */
  settle(...args: SettleArguments): undefined;
  /** Arms (`set`) or clears a host timer for realm timer `id`; false when refused. */
  timer(op: 'set' | 'clear', id: number, ms: number, repeat: boolean): boolean;
  /** The queued events (fired timers, finished host calls) as JSON text; '' outside a pump entry. */
  take(): string;
  /** `bytes` random bytes as hex. */
  random(bytes: number): string | undefined;
  /** URL parsing by the host's WHATWG parser: the parts as JSON text, '' when invalid. */
  url(op: 'parse' | 'set', a: string, b?: string, c?: string): string;
  /** `performance.now()` of the host. */
  now(): number;
  /** Starts an asynchronous host call (e.g. a database statement); its id, undefined when refused. */
  call(op: string, payload: string): number | undefined;
  /** Runs a library script the host has for this realm (e.g. Kysely) now. */
  load(name: string): boolean;
  /** The user's frames at this point, formatted by the host. */
  stack(): string;
  /** The eval whose entry is running (0 outside evals). */
  evalId(): number;
  /** In a completion entry: the request (`request`), or hands over the answer (`answer`, JSON text). */
  completion(op: 'request' | 'answer', json?: string): string | undefined;
}
