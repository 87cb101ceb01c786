import vm from 'node:vm';
import { REALM_EXPORTS, realmBundle, realmFunctionSource } from '../common/realm-bundle';

/**
 * The wire encoding of values (docs/protocol.md, "Value encoding"), host side.
 *
 * This is the very same code that runs inside each session realm
 * (`sandbox/realm/value-codec/`), compiled once into the host realm: the
 * host encodes host values (database rows, parameters) and decodes text that
 * crossed from a realm into host objects.
 */

export interface CodecLimits {
  /** Containers nested deeper than this (the root is at depth 0) become `{"$type":"truncated","reason":"depth"}`. */
  maxDepth: number;
  /** Arrays, maps and sets keep this many elements, then end with a `truncated` marker. */
  maxArrayLength: number;
  /** Longer strings become `{"$type":"truncated","reason":"length","value":<prefix>,"length":n}`. */
  maxStringLength: number;
  /** Approximate bound of the UTF-8 size of the output; past it, values become `{"$type":"truncated","reason":"size"}`. */
  maxBytes: number;
}

export const DEFAULT_CODEC_LIMITS: Readonly<CodecLimits> = Object.freeze({
  maxDepth: 20,
  maxArrayLength: 10_000,
  maxStringLength: 1_000_000,
  maxBytes: 4_000_000,
});

interface RealmValueCodec {
  encode(value: unknown, limits?: Partial<CodecLimits>): string;
  decode(text: string): unknown;
  defaultLimits: Readonly<CodecLimits>;
}

let codec: RealmValueCodec | undefined;

type Factory = () => RealmValueCodec;

/**
 * Compiles the codec in the realm this module runs in, so the values it
 * encodes and the ones it builds are of the host code's own realm. In the
 * gateway that is Node's main realm (vm.runInThisContext). A test runner that
 * loads modules into a vm context of its own (jest does) is another realm:
 * there the codec is compiled with that realm's Function constructor, or host
 * values would all look like foreign objects to it.
 */
function compileInThisRealm(source: string): Factory {
  const filename = 'vmgate:host/value-codec.js';
  if (vm.runInThisContext('Object', { filename }) === Object) {
    return vm.runInThisContext(source, { filename }) as Factory;
  }
  return new Function(`return ${source}`)() as Factory;
}

function getCodec(): RealmValueCodec {
  if (codec === undefined) {
    const source = realmFunctionSource(realmBundle('codec'), `return ${REALM_EXPORTS}.createValueCodec();`);
    codec = compileInThisRealm(source)();
  }
  return codec;
}

/** JSON text of `value` in the wire encoding. Never calls getters, `toJSON` or `toString` of the value. */
export function encodeValue(value: unknown, limits?: Partial<CodecLimits>): string {
  return getCodec().encode(value, limits);
}

/** Rebuilds a value from its wire encoding. Throws a TypeError on invalid JSON or an unknown `$type`. */
export function decodeValue(text: string): unknown {
  return getCodec().decode(text);
}

/** The limits the realm-side code applies by default (the same numbers as DEFAULT_CODEC_LIMITS). */
export function realmDefaultCodecLimits(): Readonly<CodecLimits> {
  return getCodec().defaultLimits;
}
