import { existsSync } from 'node:fs';
import path from 'node:path';
import { findPackageRoot } from '../common/package-root';

/**
 * Which watchdog limits the time of realm entries.
 *
 * node:vm's `timeout` starts and joins a watchdog thread per call (~100–130 µs
 * here: more than a small eval). The native addon (native/watchdog/) keeps one
 * thread per process for that: a guarded call arms a deadline under a mutex,
 * the thread calls V8's `TerminateExecution` once it passes, and the call
 * cancels that termination itself before returning (never later JavaScript).
 * When the addon was not built or cannot be loaded (another platform, an
 * executor not allowed to load addons), or `VMGATE_WATCHDOG=node`, entries use
 * node:vm's timeout as before.
 */

export type WatchdogKind = 'native' | 'node';

/** How a guarded call ended; what it threw is never read. */
export type GuardStatus = 'ok' | 'threw' | 'timeout';

interface NativeWatchdog {
  /** 0: returned, 1: threw, 2: stopped at its deadline. */
  run(fn: () => void, timeoutMs: number): number;
}

/** The environment variable that forces node:vm's watchdog (`node`), e.g. to compare. */
export const WATCHDOG_ENV = 'VMGATE_WATCHDOG';

/** Given to an executor the gateway lets load the addon: it reports on stderr if it could not. */
export const NATIVE_WATCHDOG_ARG = '--vmgate-native-watchdog';

/** The directory of the built addon: executors must be allowed to read it. */
export const NATIVE_WATCHDOG_DIR = path.join(findPackageRoot(__dirname), 'native', 'watchdog', 'build', 'Release');
const ADDON = path.join(NATIVE_WATCHDOG_DIR, 'watchdog.node');

const STATUS: readonly GuardStatus[] = ['ok', 'threw', 'timeout'];

let guardedCalls = 0;

let loaded: { readonly native: NativeWatchdog | undefined; readonly why: string } | undefined;

function load(): { readonly native: NativeWatchdog | undefined; readonly why: string } {
  if (loaded) return loaded;
  if (process.env[WATCHDOG_ENV] === 'node') {
    loaded = { native: undefined, why: `${WATCHDOG_ENV}=node` };
    return loaded;
  }
  try {
    // Under the permission model even asking whether an unreadable file exists throws.
    if (!existsSync(ADDON)) {
      loaded = { native: undefined, why: 'the native addon is not built' };
    } else {
      const module = { exports: {} as NativeWatchdog };
      process.dlopen(module, ADDON);
      loaded = { native: module.exports, why: 'one thread per process' };
    }
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    loaded = { native: undefined, why: `the native addon did not load (${typeof code === 'string' ? code : err})` };
  }
  return loaded;
}

export function watchdogKind(): WatchdogKind {
  return load().native ? 'native' : 'node';
}

/** For logs and the banner: which watchdog, and why. */
export function describeWatchdog(): string {
  const { native, why } = load();
  return native ? `native watchdog (${why})` : `node:vm watchdog per entry (${why})`;
}

/**
 * Whether an executor started now should be given the addon (and allowed to
 * load it): the gateway loads it the same way, so what works here works there.
 */
export function executorsUseNativeWatchdog(): boolean {
  return watchdogKind() === 'native';
}

/**
 * Calls `fn` under the native watchdog, stopped after `timeoutMs`; undefined
 * when the native watchdog is not in use (the caller times the entry with
 * node:vm instead). Guarded calls may nest; a termination caused by anything
 * else (an enclosing guarded call, node:vm's timeout) passes through.
 */
export function guarded(fn: () => void, timeoutMs: number): GuardStatus | undefined {
  const native = (loaded ?? load()).native;
  if (!native) return undefined;
  guardedCalls++;
  return STATUS[native.run(fn, timeoutMs)];
}

/** How many guarded calls ran in this process (each one watchdog deadline): for tests and diagnostics. */
export function guardedCallCount(): number {
  return guardedCalls;
}
