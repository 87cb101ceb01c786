import { type ErrorCode, errors, type VmgateError } from '../protocol/error-codes';
import { completionsFrame, errorFrame, errorFrameOf, logFrame, okFrame, resultFrame } from '../protocol/frames';
import type { ClientOp, RequestId } from '../protocol/messages';
import type { EngineOutput } from '../sandbox/engine-messages';

/**
 * JSON mode: one JSON object per frame. `parseClientFrame` never throws: a
 * frame it cannot accept becomes a BAD_REQUEST error that still echoes the
 * request's `id` when one could be read, so every request gets its one
 * terminal frame.
 */

const MAX_ID_LENGTH = 256;

export type ParsedFrame =
  | { readonly ok: true; readonly op: ClientOp }
  | { readonly ok: false; readonly id: RequestId | null; readonly error: VmgateError };

export function parseClientFrame(text: string): ParsedFrame {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return { ok: false, id: null, error: errors.badRequest('frame is not valid JSON') };
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return { ok: false, id: null, error: errors.badRequest('frame must be a JSON object') };
  }
  const frame = data as Record<string, unknown>;
  const rawId = frame.id;
  let id: RequestId | undefined;
  if (rawId !== undefined) {
    if (
      typeof rawId === 'string' ? rawId.length > MAX_ID_LENGTH : typeof rawId !== 'number' || !Number.isFinite(rawId)
    ) {
      return {
        ok: false,
        id: null,
        error: errors.badRequest(`id must be a string of at most ${MAX_ID_LENGTH} characters or a finite number`),
      };
    }
    id = rawId as RequestId;
  }
  const reply = id ?? null;
  const withId = <T extends object>(op: T) => (id === undefined ? op : { ...op, id });
  switch (frame.op) {
    case 'eval': {
      if (typeof frame.code !== 'string') {
        return { ok: false, id: reply, error: errors.badRequest('eval needs a string "code"') };
      }
      const timeoutMs = frame.timeoutMs;
      if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0)) {
        return { ok: false, id: reply, error: errors.badRequest('timeoutMs must be a positive number') };
      }
      return {
        ok: true,
        op: withId({ op: 'eval', code: frame.code, ...(timeoutMs !== undefined ? { timeoutMs } : {}) }) as ClientOp,
      };
    }
    case 'complete': {
      if (typeof frame.code !== 'string') {
        return { ok: false, id: reply, error: errors.badRequest('complete needs a string "code"') };
      }
      const cursor = frame.cursor ?? frame.code.length;
      if (typeof cursor !== 'number' || !Number.isInteger(cursor) || cursor < 0 || cursor > frame.code.length) {
        return {
          ok: false,
          id: reply,
          error: errors.badRequest('cursor must be an integer from 0 to the length of "code"'),
        };
      }
      return { ok: true, op: withId({ op: 'complete', code: frame.code, cursor }) as ClientOp };
    }
    case 'commit':
    case 'rollback':
    case 'interrupt':
    case 'ping':
      return { ok: true, op: withId({ op: frame.op }) as ClientOp };
    default:
      return {
        ok: false,
        id: reply,
        error: errors.badRequest(
          typeof frame.op === 'string' ? `unknown op "${frame.op.slice(0, 64)}"` : 'frame needs a string "op"',
        ),
      };
  }
}

/**
 * Serialises an engine message as a JSON-mode frame (protocol/frames.ts).
 * The result's `value` is already JSON text made by the realm's encoder: it
 * is spliced in as is rather than parsed and stringified again.
 */
export function formatEngineOutput(message: EngineOutput, id: RequestId | null): string | undefined {
  switch (message.type) {
    case 'log':
      return logFrame(id, message.level, message.text);
    case 'result':
      return resultFrame(id, message.value, message.text, message.stats);
    case 'error': {
      const { value, ...body } = message.error;
      return errorFrame(id, body, message.stats, value);
    }
    case 'ok':
      return okFrame(id);
    case 'completions':
      return completionsFrame({
        id,
        from: message.from,
        to: message.to,
        candidates: message.candidates,
        truncated: message.truncated,
      });
    case 'closed':
    case 'transaction':
      return undefined;
  }
}

/** An error frame for a request the gateway answers itself (only the code and message travel). */
export function formatError(id: RequestId | null, error: { code: ErrorCode; message: string }): string {
  return errorFrameOf(id, error.code, error.message);
}

/** The `id` of a JSON frame, when it has a valid one (for errors about frames that were not processed). */
export function requestIdOf(text: string): RequestId | null {
  try {
    const id = (JSON.parse(text) as { id?: unknown })?.id;
    return (typeof id === 'string' && id.length <= 256) || (typeof id === 'number' && Number.isFinite(id)) ? id : null;
  } catch {
    return null;
  }
}
