import { charBytes, jsonStringBytes } from '../protocol/wire-bytes';
import type { EngineOutput, ErrorPayload } from './engine-messages';

/**
 * The cap on every frame the gateway builds (`--max-reply-frame-bytes`): a
 * log line, a result, an error with its message, text and stack. A frame
 * over the cap is rebuilt with its strings cut (each ends with a visible
 * marker) and an oversized encoded value replaced by the codec's own
 * `{"$type":"truncated","reason":"size"}` tag, so the frame stays valid.
 * The session engine applies the same cap to what it emits, so an oversized
 * message never crosses from an executor to the gateway either.
 */

/** Room kept for everything but the capped strings: type, id, stats, field names. */
const FRAME_OVERHEAD = 1024;
const SIZE_MARKER = '{"$type":"truncated","reason":"size"}';

/**
 * `text` cut so that, as a JSON string, it takes at most `maxBytes`; a cut
 * text ends with `… [truncated: N of M characters not shown]`.
 */
export function capJsonString(text: string, maxBytes: number): string {
  if (text.length * 6 + 2 <= maxBytes) return text;
  const room = Math.max(0, maxBytes - 80);
  let bytes = 2;
  let end = 0;
  for (; end < text.length; end++) {
    const next = bytes + charBytes(text, end);
    if (next > room) break;
    bytes = next;
  }
  if (end === text.length) return text;
  // Never keep half of a surrogate pair.
  const code = text.charCodeAt(end - 1);
  if (end > 0 && code >= 0xd800 && code <= 0xdbff) end--;
  return `${text.slice(0, end)}… [truncated: ${text.length - end} of ${text.length} characters not shown]`;
}

/** A text-mode frame cut to `maxBytes` of UTF-8 (the same marker). */
export function capText(text: string, maxBytes: number): string {
  if (text.length * 3 <= maxBytes || Buffer.byteLength(text) <= maxBytes) return text;
  // JSON escaping only ever costs more than UTF-8, so its count is a safe bound here.
  return capJsonString(text, maxBytes);
}

/** The engine message with its strings cut so its frame fits `maxBytes`. */
export function capEngineOutput(message: EngineOutput, maxBytes: number): EngineOutput {
  const room = Math.max(256, maxBytes - FRAME_OVERHEAD);
  // The common case costs a few length reads: six bytes per character bounds any escaping.
  if (upperBound(message) <= room) return message;
  switch (message.type) {
    case 'log':
      return { ...message, text: capJsonString(message.text, room) };
    case 'result': {
      // The text (what a person reads) keeps at least half; the value gets what remains or the size tag.
      const text = capJsonString(message.text, room / 2);
      const value = Buffer.byteLength(message.value) <= room - jsonStringBytes(text) ? message.value : SIZE_MARKER;
      return { ...message, value, text };
    }
    case 'error':
      return { ...message, error: capError(message.error, room) };
    default:
      return message;
  }
}

/** At most this many bytes for the strings of `message` on the wire. */
function upperBound(message: EngineOutput): number {
  switch (message.type) {
    case 'log':
      return message.text.length * 6;
    case 'result':
      return message.text.length * 6 + message.value.length * 3;
    case 'error': {
      let bytes = 0;
      for (const field of Object.values(message.error)) if (typeof field === 'string') bytes += field.length * 6;
      return bytes;
    }
    default:
      return 0;
  }
}

function capError(error: ErrorPayload, room: number): ErrorPayload {
  // message, text and stack share the room; other details are short by construction but cut all the same.
  const share = Math.floor(room / 4);
  const capped: Record<string, string | number | boolean | undefined> = {};
  for (const [key, field] of Object.entries(error)) {
    if (key === 'value') continue;
    capped[key] = typeof field === 'string' ? capJsonString(field, key === 'code' ? 64 : share) : field;
  }
  if (error.value !== undefined) capped.value = Buffer.byteLength(error.value) <= share ? error.value : SIZE_MARKER;
  return capped as unknown as ErrorPayload;
}
