import { type ErrorBody, type ErrorCode, type ErrorDetails, errorBody } from './error-codes';
import type {
  ClientOp,
  CompletionsFrame,
  EvalStatsFrame,
  HelloFrame,
  LogFrame,
  ReceivedFrame,
  RequestId,
  ResumedFrame,
} from './messages';

/**
 * Typed builders of every JSON-mode frame the server sends, as the text that
 * goes on the wire. Each frame's fields come in one fixed order. A `value`
 * is JSON text the realm's encoder already made: it is spliced in as is,
 * never parsed and stringified again.
 */

/** JSON text of a value made by the value codec (protocol/value-codec.ts). */
export type EncodedValue = string;

const json = JSON.stringify;

export function helloFrame(hello: Omit<HelloFrame, 'type'>): string {
  const { session, protocol, server, limits, shared, user, resume } = hello;
  return json({ type: 'hello', session, protocol, server, limits, shared, user, resume } satisfies HelloFrame);
}

export function resumedFrame(resumed: Omit<ResumedFrame, 'type'>): string {
  const { session, seq, replayed, notKept, resume } = resumed;
  return json({ type: 'resumed', session, seq, replayed, notKept, resume } satisfies ResumedFrame);
}

export function logFrame(id: RequestId | null, level: string, text: string, notKept?: true): string {
  return notKept
    ? json({ type: 'log', id, level, text, notKept } satisfies LogFrame)
    : `{"type":"log","id":${json(id)},"level":${json(level)},"text":${json(text)}}`;
}

export function resultFrame(id: RequestId | null, value: EncodedValue, text: string, stats: EvalStatsFrame): string {
  return `{"type":"result","id":${json(id)},"value":${value},"text":${json(text)},"stats":${json(stats)}}`;
}

/**
 * An error frame. `body` comes from {@link errorBody} (or an error's
 * `toJSON()`, which uses it); `value`, the thrown value of an UNCAUGHT, is
 * spliced in last.
 */
export function errorFrame(
  id: RequestId | null,
  body: ErrorBody,
  stats?: EvalStatsFrame,
  value?: EncodedValue,
): string {
  const bodyText = value === undefined ? json(body) : `${json(body).slice(0, -1)},"value":${value}}`;
  const statsText = stats ? `,"stats":${json(stats)}` : '';
  return `{"type":"error","id":${json(id)},"error":${bodyText}${statsText}}`;
}

/** An error frame from a code and message (the gateway's own errors: bad frames, limits). */
export function errorFrameOf(id: RequestId | null, code: ErrorCode, message: string, details?: ErrorDetails): string {
  return errorFrame(id, errorBody(code, message, details));
}

export function okFrame(id: RequestId | null): string {
  return `{"type":"ok","id":${json(id)}}`;
}

export function pongFrame(id: RequestId | null): string {
  return `{"type":"pong","id":${json(id)}}`;
}

export function completionsFrame(completions: Omit<CompletionsFrame, 'type'>): string {
  const { id, from, to, candidates, truncated } = completions;
  return `{"type":"completions","id":${json(id)},"from":${from},"to":${to},"candidates":${json(candidates)},"truncated":${truncated}}`;
}

/** A frame as sent: its number first (`seq`; hello is 0). `frame` is the text of one of the builders above. */
export function numberedFrame(seq: number, frame: string): string {
  return `{"seq":${seq},${frame.slice(1)}`;
}

/** Parses a server frame (clients, tests): undefined unless the text is a JSON object with a string `type`. */
export function parseServerFrame(text: string): ReceivedFrame | undefined {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return undefined;
  return typeof (data as { type?: unknown }).type === 'string' ? (data as ReceivedFrame) : undefined;
}

/** A client request as sent (JSON mode). */
export function clientFrame(op: ClientOp): string {
  return json(op);
}
