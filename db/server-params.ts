import mysql from 'mysql2/promise';

/**
 * Parameters as server-side prepared-statement values (COM_STMT_EXECUTE), so
 * they never appear in the statement text — nor in the server's process list.
 * Typed so the server sees what the text protocol's literals meant: an
 * integer as a BIGINT (mysql2 would send every number as a DOUBLE, which
 * MySQL refuses for `LIMIT ?`), a bigint beyond 64 bits as its decimal text,
 * `undefined` as NULL (as mysql2's escaping does).
 */

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

export function toServerParams(params: readonly unknown[]): unknown[] {
  return params.map((value) => {
    if (value === undefined) return null;
    if (typeof value === 'number' && Number.isSafeInteger(value)) return mysql.TypedParameter.LONGLONG(BigInt(value));
    if (typeof value === 'bigint') {
      return value >= INT64_MIN && value <= INT64_MAX ? mysql.TypedParameter.LONGLONG(value) : value.toString();
    }
    return value;
  });
}

/** ER_UNSUPPORTED_PS: the statement cannot be prepared; it is sent as text instead. */
export const ER_UNSUPPORTED_PS = 1295;
