/**
 * What a statement means for the session contract, decided before it is sent
 * (docs/protocol.md, "Statements the gateway handles itself"). Only the
 * statements that would break the contract are told apart; everything else is
 * `other`, and what it did is read from the server's reply (server-status.ts).
 *
 * The text is looked at after comments are removed — but the server runs
 * the content of executable comments (`/*! … *\/`, `/*M! … *\/`), so that
 * content is kept — and with string literals blanked, so a value never looks
 * like a keyword.
 */

export type StatementKind =
  /** Plain COMMIT [WORK]: the session's own commit, which the session is told about. */
  | { readonly kind: 'commit'; readonly name: string }
  /** Plain ROLLBACK [WORK] (not TO SAVEPOINT). */
  | { readonly kind: 'rollback'; readonly name: string }
  /** START TRANSACTION / BEGIN [WORK]: an explicit transaction. */
  | { readonly kind: 'begin'; readonly name: string }
  /** Refused before it reaches the server. */
  | { readonly kind: 'refused'; readonly name: string; readonly reason: string }
  /** Only reads and takes no locks beyond the snapshot (SELECT without FOR UPDATE, SHOW, ...). */
  | { readonly kind: 'read'; readonly name: string }
  /** SET of variables the gateway does not rely on (user variables, isolation level, ...). */
  | { readonly kind: 'set'; readonly name: string }
  | { readonly kind: 'other'; readonly name: string };

/**
 * Session settings the gateway relies on: transactions (autocommit,
 * completion_type), dates (time_zone), text (character sets), the statement
 * timeout, parameter escaping (sql_mode: NO_BACKSLASH_ESCAPES), and the
 * session tracking the server status comes with.
 */
const PROTECTED_VARIABLES = new Set([
  'autocommit',
  'completion_type',
  'time_zone',
  'names',
  'charset',
  'character_set_client',
  'character_set_connection',
  'character_set_results',
  'collation_connection',
  'max_statement_time',
  'max_execution_time',
  'sql_mode',
  'session_track_system_variables',
  'session_track_schema',
  'session_track_state_change',
  'session_track_transaction_info',
  'wait_timeout',
  'interactive_timeout',
]);

const READ_STATEMENTS = new Set(['select', 'show', 'describe', 'desc', 'explain', 'with', 'values', 'table', 'help']);
/** Words that make a reading statement lock or write (FOR UPDATE, LOCK IN SHARE MODE, INTO OUTFILE, WITH … DELETE). */
const NOT_ONLY_READING = new Set(['update', 'share', 'lock', 'into', 'insert', 'delete', 'replace']);

/** Enough of a statement to know what it starts with (a bulk INSERT can be megabytes). */
const HEAD_CHARS = 4096;

export function classifyStatement(sql: string): StatementKind {
  const head = sql.length > HEAD_CHARS ? wordsOf(sql.slice(0, HEAD_CHARS)) : undefined;
  // Reads (FOR UPDATE comes last) and SET (any assignment) are looked at whole.
  const whole = head === undefined || READ_STATEMENTS.has(head[0] ?? '') || head[0] === 'set';
  const words = whole ? wordsOf(sql) : (head as string[]);
  const first = words[0] ?? '';
  const second = words[1] ?? '';
  const name = statementName(words);
  switch (first) {
    case 'commit':
    case 'rollback': {
      if (second === 'to' || (second === 'work' && words[2] === 'to')) return { kind: 'other', name };
      const rest = words.slice(second === 'work' ? 2 : 1).join(' ');
      // AND NO CHAIN and NO RELEASE are what a plain COMMIT does anyway.
      if (rest === '' || rest === 'and no chain' || rest === 'no release' || rest === 'and no chain no release') {
        return { kind: first, name };
      }
      return refused(
        name,
        `${first.toUpperCase()} with CHAIN or RELEASE is not supported: use a plain ${first.toUpperCase()} (or db.${first}())`,
      );
    }
    case 'begin':
      // MariaDB's `BEGIN NOT ATOMIC … END` is a compound statement, not a transaction.
      if (second === 'not') return { kind: 'other', name };
      return { kind: 'begin', name };
    case 'start':
      return second === 'transaction' ? { kind: 'begin', name } : { kind: 'other', name };
    case 'lock':
      return refused(
        name,
        'LOCK TABLES is not allowed in a session: it commits the open transaction and holds table locks outside it; use SELECT … FOR UPDATE',
      );
    case 'flush':
      if (words.includes('lock') || words.includes('export')) {
        return refused(
          name,
          'FLUSH … WITH READ LOCK / FOR EXPORT is not allowed in a session: it locks tables for every session',
        );
      }
      return { kind: 'other', name };
    case 'xa':
      return refused(
        name,
        'XA transactions are not supported in a session: use the session transaction (commit/rollback)',
      );
    case 'kill':
      return refused(name, 'KILL is not allowed in a session: use interrupt (.interrupt) to stop your own statement');
    case 'set':
      return classifySet(sql, name);
    case 'prepare':
      return classifyPrepared(sql, name, 'from');
    case 'execute':
      return second === 'immediate' ? classifyPrepared(sql, name, 'immediate') : { kind: 'other', name };
    default:
      if (READ_STATEMENTS.has(first) && !words.some((w) => NOT_ONLY_READING.has(w))) return { kind: 'read', name };
      return { kind: 'other', name };
  }
}

function classifySet(sql: string, name: string): StatementKind {
  const text = strip(sql).toLowerCase();
  // `@@session.x`, `@@x`, and bare `x` name system variables; `@x` is a user variable.
  const variables = /@@(?:session\.|local\.|global\.)?`?([a-z_][a-z0-9_]*)|@`?[a-z0-9_$.]+`?|`?([a-z_][a-z0-9_]*)`?/g;
  for (const match of text.matchAll(variables)) {
    const variable = match[1] ?? match[2];
    if (variable !== undefined && PROTECTED_VARIABLES.has(variable)) {
      return refused(
        name,
        variable === 'autocommit'
          ? 'SET autocommit is not allowed: a session runs with autocommit off, so nothing commits without commit (use db.commit() / .commit)'
          : `SET ${variable} is not allowed in a session: the gateway relies on its value`,
      );
    }
  }
  if (/\bcharacter\s+set\b/.test(text)) {
    return refused(name, 'SET CHARACTER SET is not allowed in a session: the gateway relies on utf8mb4');
  }
  return { kind: 'set', name };
}

/**
 * `PREPARE s FROM '…'` and `EXECUTE IMMEDIATE '…'` run the statement in the
 * literal: it is judged as if sent directly. A statement built at run time (a
 * variable, CONCAT) cannot be judged, so it is refused.
 */
function classifyPrepared(sql: string, name: string, keyword: 'from' | 'immediate'): StatementKind {
  const literals: string[] = [];
  const text = strip(sql, literals).toLowerCase();
  const source = new RegExp(`\\b${keyword}\\s*''\\s*;?\\s*$`).test(text);
  const inner = literals.at(-1);
  if (!source || inner === undefined || literals.length !== 1) {
    return refused(
      name,
      `${name} of a statement built at run time is not allowed: the gateway checks every statement's text; write it as one string literal`,
    );
  }
  const kind = classifyStatement(inner);
  if (kind.kind === 'refused') return refused(name, `${kind.reason} (inside ${name})`);
  if (kind.kind === 'commit' || kind.kind === 'rollback' || kind.kind === 'begin') {
    return refused(
      name,
      `${kind.name} inside ${name} is not allowed: run it directly (or use db.commit() / db.rollback())`,
    );
  }
  return { kind: 'other', name };
}

/** A literal's value: doubled quotes and backslash escapes undone (`\\n` and the like as a space). */
function unquote(body: string, quote: string): string {
  return body
    .split(quote + quote)
    .join(quote)
    .replace(/\\(.)/gs, (_, c: string) => (/[ntrbZ0]/.test(c) ? ' ' : c));
}

function refused(name: string, reason: string): StatementKind {
  return { kind: 'refused', name, reason };
}

/** "CREATE TABLE", "SET", "SELECT": how a warning names a statement. */
function statementName(words: readonly string[]): string {
  const first = words[0] ?? '';
  const second = words[1];
  const twoWords = new Set(['create', 'alter', 'drop', 'rename', 'truncate', 'lock', 'unlock', 'start', 'flush']);
  const name = twoWords.has(first) && second !== undefined ? `${first} ${second}` : first;
  return name.toUpperCase() || '(empty statement)';
}

/** The statement's lower-case words, comments and literals removed. */
function wordsOf(sql: string): string[] {
  return strip(sql)
    .toLowerCase()
    .split(/[^a-z0-9_@$.]+/)
    .filter((w) => w !== '');
}

/**
 * The statement without comments (but with the content of executable
 * comments) and with string literals blanked to `''`.
 */
export function strip(sql: string, literals?: string[]): string {
  let out = '';
  let i = 0;
  while (i < sql.length) {
    const c = sql[i] as string;
    const next = sql[i + 1];
    if (c === '/' && next === '*') {
      const end = sql.indexOf('*/', i + 2);
      const close = end === -1 ? sql.length : end;
      const body = sql.slice(i + 2, close);
      // `/*!50001 …*/` and `/*M!100100 …*/` run on the server: keep what is inside.
      const executable = /^M?!\d*/.exec(body);
      out += executable ? ` ${body.slice(executable[0].length)} ` : ' ';
      i = close + 2;
    } else if (c === '#' || (c === '-' && next === '-' && /[\s]/.test(sql[i + 2] ?? ' '))) {
      const end = sql.indexOf('\n', i);
      out += ' ';
      i = end === -1 ? sql.length : end + 1;
    } else if (c === '`') {
      // A quoted identifier: its content is a name, never a literal or a comment.
      const end = sql.indexOf('`', i + 1);
      const close = end === -1 ? sql.length : end;
      out += ` ${sql.slice(i + 1, close).replace(/['"#/*-]/g, ' ')} `;
      i = close + 1;
    } else if (c === "'" || c === '"') {
      let j = i + 1;
      while (j < sql.length && sql[j] !== c) j += sql[j] === '\\' ? 2 : 1;
      // A doubled quote continues the literal ('it''s').
      while (sql[j + 1] === c) {
        j += 2;
        while (j < sql.length && sql[j] !== c) j += sql[j] === '\\' ? 2 : 1;
      }
      if (literals) literals.push(unquote(sql.slice(i + 1, Math.min(j, sql.length)), c));
      out += "''";
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}
