// Realm-side source. `db`: a Kysely instance living inside the session realm,
// whose driver talks to the host only in strings — SQL text and encoded
// parameters out, encoded rows back (docs/design.md §1 rule 1). The host runs the
// statements on the session's own connection and transaction.
//
// The session is always inside a (lazily opened) transaction, so Kysely's
// `db.transaction().execute(...)` becomes a savepoint: nothing a user does
// commits silently.

import {
  ArrayPrototypePop,
  ArrayPrototypePush,
  ArrayPrototypeSplice,
  JSONParse,
  ObjectFreeze,
  RegExpPrototypeTest,
  WeakSetPrototypeAdd,
} from './primordials.js';

const SAVEPOINT_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/**
 * @param {{ Kysely: new (config: object) => object } & Record<string, any>} kysely the bundle's exports (db/kysely-bundle.ts)
 */
export function createDatabase(kysely, callHost, codec, dbErrors) {
  const { Kysely, MysqlAdapter, MysqlQueryCompiler, MysqlIntrospector } = kysely;

  class DatabaseError extends Error {
    constructor(info) {
      super(typeof info.message === 'string' ? info.message : 'database error');
      this.name = 'DatabaseError';
      this.code = info.code;
      if (info.errno !== undefined) this.errno = info.errno;
      if (info.sqlState !== undefined) this.sqlState = info.sqlState;
      if (info.sqlMessage !== undefined) this.sqlMessage = info.sqlMessage;
      if (info.statement !== undefined) this.statement = info.statement;
      if (info.hint !== undefined) this.hint = info.hint;
      WeakSetPrototypeAdd(dbErrors, this);
    }
  }

  async function request(op, payload) {
    let text;
    try {
      text = await callHost(op, payload === undefined ? '' : codec.encode(payload));
    } catch (failure) {
      let info;
      try {
        info = JSONParse(/** @type {string} */ (failure));
      } catch {
        info = { code: 'DB_UNAVAILABLE', message: 'the database call failed' };
      }
      throw new DatabaseError(info);
    }
    return text === '' ? undefined : codec.decode(text);
  }

  const connection = ObjectFreeze({
    async executeQuery(compiled) {
      const result = await request('db.query', { sql: compiled.sql, params: compiled.parameters });
      return {
        rows: result.rows,
        ...(result.affectedRows !== undefined ? { numAffectedRows: BigInt(result.affectedRows) } : {}),
        ...(result.changedRows !== undefined ? { numChangedRows: BigInt(result.changedRows) } : {}),
        ...(result.insertId !== undefined ? { insertId: BigInt(result.insertId) } : {}),
      };
    },
    // biome-ignore lint/correctness/useYield: the generator only throws.
    async *streamQuery() {
      throw new Error('streaming queries are not supported in a vmgate session');
    },
  });

  const savepoints = [];
  let nextSavepoint = 0;
  const run = (statement) => request('db.query', { sql: statement, params: [] });

  const driver = {
    async init() {},
    async acquireConnection() {
      return connection;
    },
    async beginTransaction(_connection, settings) {
      if (settings?.isolationLevel !== undefined || settings?.accessMode !== undefined) {
        throw new Error(
          'db.transaction() runs as a savepoint inside the session transaction: isolation level and access mode cannot be set here',
        );
      }
      const name = `vmgate_tx_${++nextSavepoint}`;
      ArrayPrototypePush(savepoints, name);
      await run(`SAVEPOINT ${name}`);
    },
    async commitTransaction() {
      const name = ArrayPrototypePop(savepoints);
      if (name !== undefined) await run(`RELEASE SAVEPOINT ${name}`);
    },
    async rollbackTransaction() {
      const name = ArrayPrototypePop(savepoints);
      if (name !== undefined) await run(`ROLLBACK TO SAVEPOINT ${name}`);
    },
    async savepoint(_connection, name) {
      await run(`SAVEPOINT ${checkName(name)}`);
    },
    async rollbackToSavepoint(_connection, name) {
      await run(`ROLLBACK TO SAVEPOINT ${checkName(name)}`);
    },
    async releaseSavepoint(_connection, name) {
      await run(`RELEASE SAVEPOINT ${checkName(name)}`);
    },
    async releaseConnection() {},
    async destroy() {},
  };

  function checkName(name) {
    if (typeof name !== 'string' || !RegExpPrototypeTest(SAVEPOINT_NAME, name)) {
      throw new TypeError(`savepoint names are identifiers (letters, digits, _): got ${render(name)}`);
    }
    return name;
  }
  function render(value) {
    return typeof value === 'string' ? `'${value}'` : String(value);
  }

  class SessionDatabase extends Kysely {
    /** Commits the session's transaction; the next statement opens a new one. */
    async commit() {
      ArrayPrototypeSplice(savepoints, 0);
      await request('db.commit');
    }
    /** Rolls back the session's transaction. */
    async rollback() {
      ArrayPrototypeSplice(savepoints, 0);
      await request('db.rollback');
    }
    async savepoint(name) {
      await run(`SAVEPOINT ${checkName(name)}`);
    }
    async rollbackToSavepoint(name) {
      await run(`ROLLBACK TO SAVEPOINT ${checkName(name)}`);
    }
    async releaseSavepoint(name) {
      await run(`RELEASE SAVEPOINT ${checkName(name)}`);
    }
  }

  const db = new SessionDatabase({
    dialect: {
      createAdapter: () => new MysqlAdapter(),
      createDriver: () => driver,
      createIntrospector: (instance) => new MysqlIntrospector(instance),
      createQueryCompiler: () => new MysqlQueryCompiler(),
    },
  });
  return { db, sql: kysely.sql, DatabaseError };
}
