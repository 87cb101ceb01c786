// Realm-side source (runs inside each session realm, and in the host through
// protocol/value-codec.ts).
//
// Standard base64 (RFC 4648 alphabet, `=` padding). Decoding follows the
// WHATWG "forgiving-base64" rules that `atob` uses: ASCII whitespace is
// ignored, padding may be omitted, anything else that is not in the alphabet
// (or padding in the wrong place) throws a TypeError of the realm running it.

import {
  ArrayPrototypeJoin,
  ArrayPrototypePush,
  isTypedArray,
  MathMin,
  ReflectApply,
  StringFromCharCode,
  StringPrototypeCharCodeAt,
  TypedArrayPrototypeGetLength,
  TypedArrayPrototypeGetSymbolToStringTag,
  TypeErrorCtor,
  Uint8ArrayCtor,
} from './primordials.js';

export function createBase64() {
  const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const CHUNK_GROUPS = 4096; // 3-byte groups per String.fromCharCode call (16 KiB of output)
  const encodeTable = new Uint8ArrayCtor(64);
  const decodeTable = new Uint8ArrayCtor(128);
  for (let i = 0; i < 128; i++) decodeTable[i] = 255;
  for (let i = 0; i < 64; i++) {
    const code = StringPrototypeCharCodeAt(ALPHABET, i);
    encodeTable[i] = code;
    decodeTable[code] = i;
  }

  function isAsciiWhitespace(code) {
    return code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0c || code === 0x0d;
  }

  /** Base64 text of the bytes of a Uint8Array (any byteOffset). */
  function encode(bytes) {
    if (!isTypedArray(bytes) || TypedArrayPrototypeGetSymbolToStringTag(bytes) !== 'Uint8Array') {
      throw new TypeErrorCtor('base64.encode expects a Uint8Array');
    }
    const length = TypedArrayPrototypeGetLength(bytes);
    const parts = [];
    const codes = [];
    let i = 0;
    while (i < length) {
      const end = MathMin(length - (length % 3), i + CHUNK_GROUPS * 3);
      let n = 0;
      for (; i < end; i += 3) {
        const triple = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
        codes[n++] = encodeTable[triple >>> 18];
        codes[n++] = encodeTable[(triple >>> 12) & 63];
        codes[n++] = encodeTable[(triple >>> 6) & 63];
        codes[n++] = encodeTable[triple & 63];
      }
      if (i === end && end === length - (length % 3) && length % 3 !== 0) {
        // Tail: one or two bytes left.
        const b0 = bytes[i];
        const b1 = length % 3 === 2 ? bytes[i + 1] : 0;
        codes[n++] = encodeTable[b0 >>> 2];
        codes[n++] = encodeTable[((b0 & 3) << 4) | (b1 >>> 4)];
        codes[n++] = length % 3 === 2 ? encodeTable[(b1 & 15) << 2] : 61;
        codes[n++] = 61; // '='
        i = length;
      }
      codes.length = n;
      ArrayPrototypePush(parts, ReflectApply(StringFromCharCode, null, codes));
    }
    return ArrayPrototypeJoin(parts, '');
  }

  /** Bytes of base64 text, as a fresh Uint8Array. */
  function decode(text) {
    if (typeof text !== 'string') throw new TypeErrorCtor('base64.decode expects a string');
    let input = text;
    // Drop ASCII whitespace (rare: only build a new string when there is some).
    for (let i = 0; i < input.length; i++) {
      if (isAsciiWhitespace(StringPrototypeCharCodeAt(input, i))) {
        const kept = [];
        for (let j = 0; j < input.length; j++) {
          const code = StringPrototypeCharCodeAt(input, j);
          if (!isAsciiWhitespace(code)) ArrayPrototypePush(kept, StringFromCharCode(code));
        }
        input = ArrayPrototypeJoin(kept, '');
        break;
      }
    }
    let length = input.length;
    if (length % 4 === 0 && length > 0) {
      if (StringPrototypeCharCodeAt(input, length - 1) === 61) {
        length--;
        if (StringPrototypeCharCodeAt(input, length - 1) === 61) length--;
      }
    }
    if (length % 4 === 1) throw new TypeErrorCtor('base64.decode: invalid length');
    const out = new Uint8ArrayCtor((length * 3) >>> 2);
    let buffer = 0;
    let bits = 0;
    let o = 0;
    for (let i = 0; i < length; i++) {
      const code = StringPrototypeCharCodeAt(input, i);
      const value = code < 128 ? decodeTable[code] : 255;
      if (value === 255) {
        throw new TypeErrorCtor(`base64.decode: invalid character at index ${i}`);
      }
      buffer = ((buffer << 6) | value) & 0xffffff;
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out[o++] = (buffer >>> bits) & 255;
      }
    }
    return out;
  }

  return { encode, decode };
}
