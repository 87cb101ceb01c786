import { StartError } from '../common/start-error';

/**
 * Identity-mapped database accounts (`--db-accounts FILE`): the authenticated
 * user of a session (a JWT's `sub`) → the database account its session runs
 * as. With a mapping, each session is its user's own database session: the
 * server shows user U only U's threads and lets U kill only those. Without
 * one, every session shares the gateway's account (one trust domain,
 * docs/security.md).
 *
 * The file is JSON: `{ "alice": { "user": "app_alice", "password": "…" }, … }`.
 */

export interface DatabaseAccount {
  readonly user: string;
  readonly password?: string;
}

export type AccountMap = Readonly<Record<string, DatabaseAccount>>;

export class AccountsFileError extends StartError {
  constructor(message: string) {
    super('BAD_DB_ACCOUNTS', `--db-accounts: ${message}`);
  }
}

export function parseAccounts(text: string): AccountMap {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new AccountsFileError(`not valid JSON (${(error as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new AccountsFileError('expected an object mapping user names to { "user": …, "password": … }');
  }
  const accounts: Record<string, DatabaseAccount> = Object.create(null);
  for (const [name, entry] of Object.entries(parsed)) {
    const { user, password } = (entry ?? {}) as { user?: unknown; password?: unknown };
    if (typeof user !== 'string' || user === '') {
      throw new AccountsFileError(`entry "${name}" needs a non-empty "user"`);
    }
    if (password !== undefined && typeof password !== 'string') {
      throw new AccountsFileError(`entry "${name}": "password" must be a string`);
    }
    accounts[name] = password === undefined ? { user } : { user, password };
  }
  return Object.freeze(accounts);
}
