/**
 * Coalesces the IPC messages written during one turn of the event loop into
 * one channel write (`['batch', [...]]`; a lone message goes as it is). At
 * 100 busy sessions that is one write and one read per turn instead of one
 * per frame, on both sides of the hop.
 */
export type Batched<T> = T | readonly ['batch', readonly T[]];

export class MessageBatcher<T> {
  readonly #write: (message: Batched<T>) => void;
  #queue: T[] = [];
  #scheduled = false;

  constructor(write: (message: Batched<T>) => void) {
    this.#write = write;
  }

  push(message: T): void {
    this.#queue.push(message);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        this.flush();
      });
    }
  }

  /** Writes what is queued now (e.g. before the process exits). */
  flush(): void {
    const queue = this.#queue;
    if (queue.length === 0) return;
    this.#queue = [];
    this.#write(queue.length === 1 ? queue[0] : ['batch', queue]);
  }
}

/** Calls `each` for every message a channel message carries; false if it is not well formed. */
export function unbatch<T>(raw: unknown, each: (message: T) => void): boolean {
  if (!Array.isArray(raw)) return false;
  if (raw[0] !== 'batch') {
    each(raw as T);
    return true;
  }
  if (!Array.isArray(raw[1])) return false;
  for (const message of raw[1] as unknown[]) {
    if (!Array.isArray(message)) return false;
    each(message as T);
  }
  return true;
}
