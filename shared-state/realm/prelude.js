// @ts-check
// Run by SharedRealm.create (shared-state/shared-realm.ts) as the first script
// of every new shared realm, before ses is evaluated. Input: the JSON array of
// global names to remove, in the sandbox property `__vmgate_input`.
//
// Removes powers shared code has no use for and switches V8 stack capture off
// for good.
//
// V8 decides whether to capture a stack by reading `Error.stackTraceLimit` of
// the *current realm's intrinsic* `%Error%` with a data-property lookup: an
// accessor reads as "not a number", so nothing is ever captured, `err.stack`
// stays `undefined`, and Node's host-side stack formatter is never invoked for
// an error born here. (On Node 20, formatting a captured stack at a depth the
// caller chooses can overflow inside that host formatter and throw a host
// `RangeError` into sandbox code.) The accessor is non-configurable, so
// neither ses (whose `Error.stackTraceLimit` accessors forward to this one
// only when it reads as a number) nor any later code can turn capture back on.
//
// ses needs *a* console while it locks down; it gets a powerless one made
// here, removed again by lockdown.js.

/**
 * The intrinsic `%Error%` whose accessor lockdown.js checks after ses ran
 * (ses replaces the global `Error`). A global lexical binding: the next
 * scripts of this realm see it, user code may not name it (reserved prefix).
 * @type {ErrorConstructor | undefined}
 */
// biome-ignore lint/style/useConst: lockdown.js clears it once checked.
let __vmgate_intrinsicError = Error;

(() => {
  const g = /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (globalThis));
  const input = g.__vmgate_input;
  delete g.__vmgate_input;
  if (typeof input !== 'string') throw new TypeError('no list of globals to remove');
  const removed = /** @type {string[]} */ (JSON.parse(input));
  for (let i = 0; i < removed.length; i++) {
    if (!delete g[removed[i]] || removed[i] in g) throw new TypeError('cannot remove ' + removed[i]);
  }
  const noCapture = {
    get stackTraceLimit() {
      return undefined;
    },
    /** @param {unknown} _ignored */
    set stackTraceLimit(_ignored) {},
  };
  const d = /** @type {PropertyDescriptor} */ (Object.getOwnPropertyDescriptor(noCapture, 'stackTraceLimit'));
  Object.defineProperty(Error, 'stackTraceLimit', { get: d.get, set: d.set, enumerable: false, configurable: false });
  const quiet = { log() {}, info() {}, warn() {}, error() {}, debug() {}, trace() {}, group() {}, groupEnd() {} };
  g.console = Object.freeze(quiet);
})();
