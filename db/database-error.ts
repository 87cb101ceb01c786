import { errorBody } from '../protocol/error-codes';

/**
 * Database failures as the wire contract names them: DB_ERROR (the server
 * refused the statement: errno, sqlState, sqlMessage), DB_REFUSED (the
 * gateway refused it: it would break the session contract), DB_BUSY (no
 * connection free in time), DB_UNAVAILABLE (the server cannot be reached),
 * DB_OUTCOME_UNKNOWN (a commit was sent and its reply never came: it may or
 * may not have been committed), INTERRUPTED (our own KILL QUERY, or a
 * statement cancelled because its eval ended).
 */
export type DatabaseErrorCode =
  | 'DB_ERROR'
  | 'DB_REFUSED'
  | 'DB_BUSY'
  | 'DB_UNAVAILABLE'
  | 'DB_OUTCOME_UNKNOWN'
  | 'INTERRUPTED';

export interface DatabaseErrorDetails {
  /** DB_REFUSED: the statement, named by its first words ("LOCK TABLES"). */
  readonly statement?: string;
  readonly errno?: number;
  readonly sqlState?: string;
  readonly sqlMessage?: string;
}

export type DatabaseErrorBody = { code: DatabaseErrorCode; message: string } & DatabaseErrorDetails;

export class DatabaseError extends Error {
  readonly code: DatabaseErrorCode;
  readonly details: DatabaseErrorDetails;

  constructor(code: DatabaseErrorCode, message: string, details: DatabaseErrorDetails = {}) {
    super(message);
    this.name = 'DatabaseError';
    this.code = code;
    this.details = details;
  }

  /** The wire's error payload (protocol/error-codes.ts `errorBody`): code, message, then the details. */
  toJSON(): DatabaseErrorBody {
    return errorBody(this.code, this.message, this.details) as DatabaseErrorBody;
  }
}

/** A statement that never reached the server because its eval ended first. */
export function cancelled(): DatabaseError {
  return new DatabaseError('INTERRUPTED', 'cancelled: the eval that sent this statement has ended');
}

/** mysql2 error codes that mean "the server is not there (any more)". */
const UNAVAILABLE = new Set([
  'ECONNREFUSED',
  'ENOENT',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_SERVER_SHUTDOWN',
  'ER_CON_COUNT_ERROR',
  'CR_SERVER_GONE_ERROR',
  'CR_SERVER_LOST',
]);

/** ER_QUERY_INTERRUPTED: the statement was stopped by KILL QUERY. */
export const ER_QUERY_INTERRUPTED = 1317;

export function isConnectionLost(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  const fatal = (error as { fatal?: unknown } | null)?.fatal;
  return (typeof code === 'string' && UNAVAILABLE.has(code)) || fatal === true;
}

export function toDatabaseError(error: unknown): DatabaseError {
  if (error instanceof DatabaseError) return error;
  const e = (error ?? {}) as {
    code?: string;
    errno?: number;
    sqlState?: string;
    sqlMessage?: string;
    message?: string;
  };
  if (isConnectionLost(error)) {
    return new DatabaseError('DB_UNAVAILABLE', `the database cannot be reached (${e.code ?? e.message ?? 'unknown'})`);
  }
  if (typeof e.errno === 'number' && e.errno === ER_QUERY_INTERRUPTED) {
    return new DatabaseError('INTERRUPTED', 'the statement was interrupted', { errno: e.errno });
  }
  if (typeof e.errno === 'number') {
    return new DatabaseError('DB_ERROR', e.sqlMessage ?? e.message ?? 'database error', {
      errno: e.errno,
      ...(e.sqlState !== undefined ? { sqlState: e.sqlState } : {}),
      ...(e.sqlMessage !== undefined ? { sqlMessage: e.sqlMessage } : {}),
    });
  }
  return new DatabaseError('DB_UNAVAILABLE', `database failure: ${e.message ?? String(error)}`);
}
