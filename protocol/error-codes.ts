/**
 * Stable error codes of the wire contract (docs/design.md §2). Clients switch on
 * these strings; never rename one. `docs/protocol.md` lists their meanings.
 */
export const ERROR_CODES = [
  'BAD_REQUEST',
  'SYNTAX_ERROR',
  'UNCAUGHT',
  'TIMEOUT',
  'INTERRUPTED',
  'DB_ERROR',
  'DB_REFUSED',
  'DB_BUSY',
  'DB_UNAVAILABLE',
  'DB_OUTCOME_UNKNOWN',
  'LIMIT',
  'QUOTA_EXCEEDED',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

const kVmgateError = Symbol.for('vmgate.error');

/** Extra, code-specific fields that travel in the error frame (all JSON-safe). */
export type ErrorDetails = Record<string, string | number | boolean | null>;

/** The `error` of an error frame: a stable code, a message for people, code-specific fields. */
export interface ErrorBody {
  readonly code: ErrorCode;
  readonly message: string;
  readonly [detail: string]: unknown;
}

/**
 * The one factory of error payloads, wherever they are sent from: `code`
 * and `message` come first and no detail can replace them.
 */
export function errorBody<D extends object = Record<never, never>>(
  code: ErrorCode,
  message: string,
  details?: D,
): { readonly code: ErrorCode; readonly message: string } & Omit<D, 'code' | 'message'> {
  const body: Record<string, unknown> = { code, message };
  if (details) {
    for (const [key, value] of Object.entries(details)) if (key !== 'code' && key !== 'message') body[key] = value;
  }
  return body as { readonly code: ErrorCode; readonly message: string } & Omit<D, 'code' | 'message'>;
}

/**
 * The one error type vmgate's host code throws on purpose. Checked by brand,
 * not `instanceof`, so it survives duplicate module copies and jest's sandbox.
 */
export class VmgateError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails;
  /** WebSocket close code when the error ends the session. */
  readonly closeCode: number | undefined;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}, closeCode?: number) {
    super(message);
    this.name = 'VmgateError';
    this.code = code;
    this.details = details;
    this.closeCode = closeCode;
    Object.defineProperty(this, kVmgateError, { value: true });
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kVmgateError] === true;
  }

  toJSON(): { code: ErrorCode; message: string } & ErrorDetails {
    return errorBody(this.code, this.message, this.details) as { code: ErrorCode; message: string } & ErrorDetails;
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}

// Factories: one place for the wording of each error.
export const errors = {
  badRequest: (message: string, details?: ErrorDetails) => new VmgateError('BAD_REQUEST', message, details),
  /** `excerpt`: the offending line and an underline, printed above the message as Node does. */
  syntax: (message: string, line: number, column: number, excerpt?: string) =>
    new VmgateError('SYNTAX_ERROR', message, {
      name: 'SyntaxError',
      line,
      column,
      ...(excerpt !== undefined ? { excerpt } : {}),
    }),
  timeout: (ms: number) =>
    new VmgateError('TIMEOUT', `evaluation exceeded its time budget of ${ms} ms`, { timeoutMs: ms }),
  interrupted: () => new VmgateError('INTERRUPTED', 'evaluation interrupted'),
  limit: (message: string, details?: ErrorDetails, closeCode?: number) =>
    new VmgateError('LIMIT', message, details, closeCode),
  quotaExceeded: (retryAfterMs: number, quotaMs: number, windowMs: number) =>
    new VmgateError(
      'QUOTA_EXCEEDED',
      `CPU quota used up (${quotaMs} ms per ${windowMs / 1000} s); try again in ${Math.ceil(retryAfterMs / 1000)} s`,
      { retryAfterMs, quotaMs, windowMs },
    ),
  internal: (message = 'internal error') => new VmgateError('INTERNAL', message),
  closed: (reason: string) => new VmgateError('LIMIT', `session closed: ${reason}`, { reason }),
} as const;
