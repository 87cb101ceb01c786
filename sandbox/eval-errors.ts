import { type ErrorCode, errorBody, isErrorCode, VmgateError } from '../protocol/error-codes';
import type { ErrorPayload } from './engine-messages';
import type { RealmSettlement } from './realm';
import { uncaughtText } from './uncaught';

/** How an eval's failures become error payloads (docs/protocol.md, "Errors"). */

/** A syntax error (or a refused input) found before the eval ran. */
export function syntaxPayload(error: unknown): ErrorPayload {
  if (error instanceof VmgateError && error.code !== 'SYNTAX_ERROR') return errorBody(error.code, error.message);
  if (error instanceof VmgateError) {
    const { line, column, excerpt } = error.details;
    // As the Node REPL prints it: the line, V8's underline, then the message.
    const head = typeof excerpt === 'string' ? `${excerpt}\n\n` : '';
    const text = uncaughtText(`${head}SyntaxError: ${error.message}`);
    return errorBody(error.code, error.message, {
      name: 'SyntaxError',
      ...(typeof line === 'number' ? { line } : {}),
      ...(typeof column === 'number' ? { column } : {}),
      text,
    });
  }
  // V8 rejected what acorn accepted (rare: e.g. an early error acorn does not check).
  // The thrown value is a host SyntaxError created by vm.Script: safe to read.
  const message =
    typeof error === 'object' && error !== null && typeof (error as Error).message === 'string'
      ? (error as Error).message
      : String(error);
  return errorBody('SYNTAX_ERROR', message, { name: 'SyntaxError', text: uncaughtText(`SyntaxError: ${message}`) });
}

/** What the realm reported for an eval that threw or rejected. */
export function settlementPayload(settlement: RealmSettlement): ErrorPayload {
  const { code, ...databaseFields } = parseDetails(settlement.details);
  return errorBody(code ?? 'UNCAUGHT', settlement.message ?? settlement.text, {
    ...databaseFields,
    name: settlement.name ?? '',
    ...(settlement.stack !== undefined ? { stack: settlement.stack } : {}),
    value: settlement.json,
    text: uncaughtText(settlement.text),
  });
}

export function timeoutPayload(timeoutMs: number): ErrorPayload {
  return errorBody('TIMEOUT', `evaluation exceeded its time budget of ${timeoutMs} ms`, { timeoutMs });
}

/** A database error's wire fields, as the realm passed them back (only known fields, only plain values). */
function parseDetails(details: string | undefined): Partial<ErrorPayload> & { code?: ErrorCode } {
  if (details === undefined) return {};
  try {
    const parsed = JSON.parse(details) as Record<string, unknown>;
    const out: Record<string, string | number> = {};
    for (const key of ['errno', 'sqlState', 'sqlMessage', 'statement', 'hint'] as const) {
      const v = parsed[key];
      if (typeof v === 'string' || typeof v === 'number') out[key] = v;
    }
    return isErrorCode(parsed.code) ? { ...out, code: parsed.code } : out;
  } catch {
    return {};
  }
}
