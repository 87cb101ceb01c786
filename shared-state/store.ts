import { EventEmitter } from 'node:events';
import {
  evaluateSharedStateSource,
  type LoadSharedStateOptions,
  loadSharedState,
  readSharedStateSource,
  type SharedState,
} from './load';

export interface SharedStateStoreEvents {
  /** A new version became current. Sessions opened before keep `previous`. */
  reload: [next: SharedState, previous: SharedState];
}

export interface ReloadOptions {
  /** Evaluate the file again even if its bytes (its version) did not change. */
  readonly force?: boolean;
}

/**
 * Holds the current shared state and replaces it on {@link reload}.
 *
 * Each version lives in its own shared realm; a session is given
 * `store.current.value` when it opens and keeps that value for its lifetime,
 * so a reload never changes what a running session sees. An old version's
 * realm is collected once no session references it any more.
 *
 * Signal wiring (SIGHUP → `reload()`) belongs to the gateway.
 */
export class SharedStateStore extends EventEmitter<SharedStateStoreEvents> {
  #current: SharedState;
  readonly #options: LoadSharedStateOptions;

  constructor(initial: SharedState, options: LoadSharedStateOptions = {}) {
    super();
    this.#current = initial;
    this.#options = { ...options, format: options.format ?? initial.format };
  }

  /** Loads `file` and returns a store holding it. @throws {SharedStateError} */
  static load(file: string, options: LoadSharedStateOptions = {}): SharedStateStore {
    return new SharedStateStore(loadSharedState(file, options), options);
  }

  get current(): SharedState {
    return this.#current;
  }

  /** Absolute path of the file this store loads. */
  get file(): string {
    return this.#current.file;
  }

  /**
   * Reads the file again. If its bytes changed (or `force`), evaluates it in a
   * new shared realm, makes it current and emits `'reload'` with
   * `(next, previous)`. If the bytes are unchanged, returns the current
   * version and emits nothing. On failure the current version stays and the
   * `SharedStateError` is thrown.
   */
  reload(options: ReloadOptions = {}): SharedState {
    const previous = this.#current;
    const source = readSharedStateSource(previous.file, this.#options);
    if (!options.force && source.version === previous.version) return previous;
    const next = evaluateSharedStateSource(source, this.#options);
    this.#current = next;
    this.emit('reload', next, previous);
    return next;
  }
}
