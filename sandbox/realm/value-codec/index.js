// Realm-side source: the wire encoding of values (docs/protocol.md, "Value
// encoding"), the entry point of its own bundle (common/realm-bundle.ts). The
// same text runs inside each session realm (encoding realm values into a
// JSON string that crosses to the host as a primitive), in the host realm
// (protocol/value-codec.ts) and can run in a browser.
//
// Encoding never runs user code: no getters, no toJSON, no toString, no
// Symbol.toPrimitive; only own property descriptors / accessor lookups and
// intrinsic brand checks (Proxies are read through their traps, which is the
// one way user code can run while encoding; callers run it under the realm's
// CPU budget). It builds a JSON-native mirror of the value and serializes it
// with one JSON.stringify, counting the UTF-8 size as it goes (maxBytes).

import { JSONStringify } from '../primordials.js';
import { decodeValue } from './decode.js';
import { encValue } from './encode-values.js';
import { DEFAULT_LIMITS, READ_ERROR_MARKER, SIZE_MARKER } from './limits.js';
import { NO_FIT, newState } from './mirrors.js';

export function createValueCodec() {
  return createValueCodecWith(undefined);
}

// `beforeBytes(kind)`, optional: called before a decoded typed array,
// ArrayBuffer or DataView of `kind` is returned (a session realm makes that
// kind's `constructor` lead to its counting wrapper, allocation-limits.js).
export function createValueCodecWith(beforeBytes) {
  return {
    encode: (value, limits) => encodeValue(value, limits),
    decode: (text) => decodeValue(text, beforeBytes),
    defaultLimits: DEFAULT_LIMITS,
  };
}

/** JSON text of `value` (see docs/protocol.md). Never runs user code except Proxy traps. */
function encodeValue(value, limits) {
  const st = newState(limits);
  const mirror = encValue(st, value, 0);
  if (mirror === NO_FIT) return SIZE_MARKER;
  try {
    return JSONStringify(mirror);
  } catch {
    return READ_ERROR_MARKER; // only a stack overflow on absurdly deep data (maxDepth raised far)
  }
}
