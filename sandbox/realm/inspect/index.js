// Realm-side source (runs inside each session realm, never in the host).
//
// `util.inspect` / `util.format` for realm values, following Node 20's
// lib/internal/util/inspect.js so results and console output read exactly as
// the Node REPL prints them. Differences, all forced by running without
// V8-internal helpers and without ever running a getter:
// - Proxies cannot be told apart from their targets: they are formatted
//   through their traps (under the realm's CPU budget).
// - Promise state is unknowable: `Promise { <unknown> }`.
// - Map/Set iterators cannot be previewed: `[Map Iterator] { <items unknown> }`.
// - Getters are never called (not even a `Symbol.toStringTag` getter, nor a
//   `name`/`message`/`stack` getter of an error): they are `[Getter]` etc.
// - No `[util.inspect.custom]` hooks, no colors, no `showProxy`; `showHidden`
//   shows non-enumerable own keys but not prototype properties.
// - Anything that throws while one value is formatted (a hostile Proxy, a
//   throwing `toString` in `%s`) renders as `[inspection threw]` for that
//   value; `inspect` itself never throws.
// Everything uses intrinsics captured by primordials.js, never methods that
// user code could have replaced on the realm's prototypes.

import { formatLogArgs } from './format-args.js';
import { formatValue } from './format-value.js';
import { makeContext, THREW } from './options.js';

/** Node's `util.inspect(value, options)` for a value of this realm. Never throws. */
function inspect(value, options) {
  try {
    return formatValue(makeContext(options), value, 0);
  } catch {
    return THREW;
  }
}

export function formatWithDefaults(value, depth, showHidden) {
  const ctx = makeContext(undefined);
  if (depth !== undefined) ctx.depth = depth;
  ctx.showHidden = showHidden === true;
  return formatValue(ctx, value, 0);
}

export function createInspector() {
  return { inspect, formatLogArgs };
}
