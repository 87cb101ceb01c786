import { types } from 'node:util';
import type vm from 'node:vm';
import { DatabaseError } from '../db/database-error';
import type { DatabasePool } from '../db/pool';
import type { SessionDatabase } from '../db/session-database';
import { decodeValue, encodeValue } from '../protocol/value-codec';

/** The realm's `db` driver calls on the host: what they may ask and how answers go back. */

/** How a session reaches the database: a pool, or a reason there is none. */
export interface EngineDatabase {
  readonly pool: DatabasePool | undefined;
  /** Said with every DB_UNAVAILABLE when there is no pool (e.g. how to configure one). */
  readonly hint: string;
  /** The Kysely bundle, loaded into a realm on first use of `db`. */
  readonly kysely: () => vm.Script;
}

export type DatabaseOp = 'db.query' | 'db.commit' | 'db.rollback';

export function isDatabaseOp(op: string): op is DatabaseOp {
  return op === 'db.query' || op === 'db.commit' || op === 'db.rollback';
}

/** Rows can be large: a result is cut only beyond these (far above the display limits). */
const RESULT_LIMITS = {
  maxDepth: 64,
  maxArrayLength: 10_000_000,
  maxStringLength: 64 * 1024 * 1024,
  maxBytes: 256 * 1024 * 1024,
};

/**
 * Runs one call on the session's database and returns the answer the realm
 * decodes (empty for commit and rollback). `deadline` is the running eval's
 * (performance.now() time); `warn` gets the server's warnings.
 */
export async function performDatabaseCall(
  database: SessionDatabase,
  op: DatabaseOp,
  payload: string,
  deadline: number | undefined,
  warn: (text: string) => void,
): Promise<string> {
  if (op === 'db.commit') {
    await database.commit();
    return '';
  }
  if (op === 'db.rollback') {
    await database.rollback();
    return '';
  }
  const request = decodeValue(payload) as { sql?: unknown; params?: unknown };
  if (typeof request?.sql !== 'string' || (request.params !== undefined && !Array.isArray(request.params))) {
    throw new DatabaseError('DB_ERROR', 'malformed statement from the db driver');
  }
  const params = (request.params ?? []).map(toDriverParam);
  const result = await database.query(request.sql, params, deadline !== undefined ? { deadline } : {});
  if (result.warning) warn(result.warning);
  return encodeValue(
    {
      rows: result.rows,
      ...(result.affectedRows !== undefined ? { affectedRows: result.affectedRows } : {}),
      ...(result.changedRows !== undefined ? { changedRows: result.changedRows } : {}),
      ...(result.insertId !== undefined ? { insertId: result.insertId } : {}),
    },
    RESULT_LIMITS,
  );
}

/**
 * A decoded parameter as mysql2 should send it (docs/protocol.md, "Database
 * values"): bytes as a binary literal, a Date as a UTC datetime, a plain
 * object or array as its JSON text (mysql2 would otherwise expand an object
 * into `key = value` pairs and an array into a list). Anything else that is
 * an object is refused rather than sent as `'[object …]'`.
 */
function toDriverParam(value: unknown, index: number): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (types.isUint8Array(value)) {
    return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  }
  // The codec may build its dates in another context than mysql2's (e.g. under jest): rebuild.
  if (types.isDate(value)) return new Date(value.getTime());
  const tag = Object.prototype.toString.call(value).slice(8, -1);
  if (Array.isArray(value) || tag === 'Object') {
    try {
      return JSON.stringify(value);
    } catch (error) {
      throw new DatabaseError(
        'DB_REFUSED',
        `parameter ${index + 1} (${tag === 'Object' ? 'an object' : 'an array'}) cannot be sent as JSON: ${(error as Error).message}`,
      );
    }
  }
  throw new DatabaseError(
    'DB_REFUSED',
    `parameter ${index + 1} is a ${tag}: parameters are strings, numbers, bigints, booleans, null, Dates, bytes (Uint8Array), or plain objects and arrays (sent as JSON text)`,
  );
}
