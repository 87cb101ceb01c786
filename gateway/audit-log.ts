import { createHash } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';

/**
 * "Who ran what": one JSON line per eval, for operators of a shared console.
 * The code itself is never written, only its size and hash.
 */
export interface AuditEntry {
  readonly session: string;
  readonly user: string | null;
  readonly address: string;
  readonly codeBytes: number;
  readonly codeSha256: string;
  readonly outcome: string;
  readonly ms: number;
}

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
