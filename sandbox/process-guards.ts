import { AsyncResource, executionAsyncResource } from 'node:async_hooks';
import { promiseHooks } from 'node:v8';

/**
 * Process-wide guards every process that hosts realms installs once.
 *
 * Node's host code touches realm promises outside any timed entry, so these
 * make every such touch run no user code:
 *
 * - Rejection tracking. A promise rejected without a handler is reported to
 *   the process: Node reads `promise[async_id_symbol]` and
 *   `promise[trigger_async_id_symbol]` (in C++ when it is rejected, and again
 *   in JS on the next tick, outside any entry). An ordinary [[Get]] walks the
 *   prototype chain, so a Proxy or getter there ran user code in host code: a
 *   throwing trap killed the process, a looping one hung it. Every realm
 *   promise gets both keys as own, read-only, non-configurable data
 *   properties the moment it is created (a V8 promise `init` hook, which runs
 *   before any user code can hold the promise), so the lookup ends at the
 *   promise itself.
 * - The `unhandledRejection` event. By default Node formats the reason
 *   (running user getters) and exits; realm rejections are the realm's
 *   business and are dropped without touching the reason. A host promise's
 *   unhandled rejection is still a host bug and still fatal.
 * - The `rejectionHandled` event. Without a listener Node prints a warning to
 *   stderr whenever a handler is attached late: a session could flood the
 *   process's stderr with them.
 */
let installed = false;

/** Node's own async-id keys, as set on every AsyncResource (the same symbols its rejection tracking reads). */
function asyncIdKeys(): symbol[] {
  const keys = Object.getOwnPropertySymbols(new AsyncResource('vmgate-keys'));
  const wanted = ['async_id_symbol', 'trigger_async_id_symbol'];
  const found = wanted.map((name) => keys.find((key) => key.description === name));
  if (found.some((key) => key === undefined)) throw new Error('this Node.js does not expose its async-id symbols');
  return found as symbol[];
}

export function installProcessGuards(): void {
  if (installed) return;
  installed = true;
  const [asyncId, triggerId] = asyncIdKeys() as [symbol, symbol];
  const { defineProperty, getPrototypeOf } = Object;
  const hostPromisePrototype = Promise.prototype;
  const absent = { value: undefined, writable: false, enumerable: false, configurable: false };
  promiseHooks.onInit((promise: Promise<unknown>) => {
    // The promise is a fresh ordinary object: reading its [[Prototype]] and
    // defining own properties on it run no user code. Host promises are left
    // alone (their chain is the host's own).
    if (getPrototypeOf(promise) === hostPromisePrototype) return;
    defineProperty(promise, asyncId, absent);
    defineProperty(promise, triggerId, absent);
  });
  process.on('unhandledRejection', (reason, promise) => {
    // Reading the promise's own [[Prototype]] runs no user code: it is a real
    // promise, never a proxy. Only host promises have the host prototype.
    if (getPrototypeOf(promise) === hostPromisePrototype) {
      process.nextTick(() => {
        throw reason;
      });
    }
  });
  process.on('rejectionHandled', () => {});
}

/**
 * Whether async_hooks promise tracking is on in this process (an APM agent,
 * AsyncLocalStorage). Node then runs its hooks on *realm* promises: it
 * attaches its context objects to them (host objects a realm can read) and a
 * timeout in the middle of a promise job corrupts its async-id stack and
 * aborts the process. A process that hosts realms must run without them.
 */
export function promiseHooksEnabled(): Promise<boolean> {
  return new Promise((resolve) => {
    const derived: Promise<void> = Promise.resolve().then(() => {
      resolve(executionAsyncResource() === derived);
    });
  });
}
