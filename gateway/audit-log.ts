import { createHash } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';

/**
 * "Who ran what, and what did they commit": one JSON line per eval and per
 * end of a transaction, for operators of a shared console. The code itself
 * is never written, only its size and hash.
 */
interface AuditBase {
  readonly session: string;
  readonly user: string | null;
  /** The client's address (behind a trusted proxy: the forwarded one). */
  readonly address: string;
  /** `ok`, or the error code. */
  readonly outcome: string;
}

export interface EvalAuditEntry extends AuditBase {
  readonly op: 'eval';
  readonly codeBytes: number;
  readonly codeSha256: string;
  readonly ms: number;
}

/**
 * `commit` / `rollback`: a request of the client's, or (with `statement`) a
 * `COMMIT` / `ROLLBACK` sent through `sql`; `implicit-commit`: a statement
 * that committed by itself (DDL, ...), named by `statement`.
 */
export type TransactionOp = 'commit' | 'rollback' | 'implicit-commit';

export interface TransactionAuditEntry extends AuditBase {
  readonly op: TransactionOp;
  readonly ms?: number;
  readonly statement?: string;
}

export type AuditEntry = EvalAuditEntry | TransactionAuditEntry;

export class AuditLog {
  readonly #stream: WriteStream;
  #closed = false;

  private constructor(stream: WriteStream) {
    this.#stream = stream;
  }

  /** Opens (appends to) the file; rejects if it cannot be opened. */
  static open(file: string): Promise<AuditLog> {
    return new Promise((resolve, reject) => {
      const stream = createWriteStream(file, { flags: 'a' });
      stream.once('open', () => resolve(new AuditLog(stream)));
      stream.once('error', reject);
    });
  }

  static hash(code: string): string {
    return createHash('sha256').update(code).digest('hex');
  }

  write(entry: AuditEntry): void {
    if (this.#closed) return;
    this.#stream.write(`${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`);
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    return new Promise((resolve) => this.#stream.end(resolve));
  }
}
