import { executionAsyncResource } from 'node:async_hooks';

/**
 * Process-wide guards every process that hosts realms installs once.
 *
 * A promise rejected without a handler inside a realm is reported by Node to
 * the *process*; by default Node then formats the reason (running user
 * getters in host code) and exits. Realm rejections are the realm's business:
 * they are dropped here without touching the reason. A host promise's
 * unhandled rejection is still a host bug and still fatal.
 */
let installed = false;

export function installProcessGuards(): void {
  if (installed) return;
  installed = true;
  process.on('unhandledRejection', (reason, promise) => {
    // Reading the promise's own [[Prototype]] runs no user code: it is a real
    // promise, never a proxy. Only host promises have the host prototype.
    if (Object.getPrototypeOf(promise) === Promise.prototype) {
      process.nextTick(() => {
        throw reason;
      });
    }
  });
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
