/**
 * What text costs on the wire: JSON escaping (a control character is six
 * bytes, `\u0001`) and UTF-8. Output limits count these bytes, not characters.
 */

/** Bytes `text` takes on the wire as a JSON string (quotes, escapes and UTF-8 included). */
export function jsonStringBytes(text: string): number {
  let bytes = 2;
  for (let i = 0; i < text.length; i++) bytes += charBytes(text, i);
  return bytes;
}

/** Bytes the character at `i` takes inside a JSON string on the wire. */
export function charBytes(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c < 0x20) return c === 8 || c === 9 || c === 10 || c === 12 || c === 13 ? 2 : 6;
  if (c === 0x22 || c === 0x5c) return 2;
  if (c < 0x80) return 1;
  if (c < 0x800) return 2;
  if (c >= 0xd800 && c <= 0xdbff) {
    const next = text.charCodeAt(i + 1);
    // A pair is 4 bytes, counted on its first half; a lone half is escaped (\udxxx).
    return next >= 0xdc00 && next <= 0xdfff ? 4 : 6;
  }
  if (c >= 0xdc00 && c <= 0xdfff) {
    const prev = text.charCodeAt(i - 1);
    return prev >= 0xd800 && prev <= 0xdbff ? 0 : 6;
  }
  return 3;
}
