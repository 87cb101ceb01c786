// Realm-side source. The only way realm code reaches the host.
//
// Host functions arrive once, as arguments of the bootstrap function, and are
// kept in this closure: no object that user code can reach ever holds one
// (docs/design.md §1 rule 2). Every call passes and returns primitives only. A call
// is wrapped so that whatever it throws (the host promises never to, but a
// stack overflow on entry to a host function creates a *host* RangeError)
// is swallowed here and never reaches user code.

import { ObjectFreeze } from './primordials.js';

/**
 * @typedef {import('../host-api').HostApi} HostApi
 *
 * What realm code calls: the host's functions, never throwing (undefined when
 * a call failed or returned a non-primitive).
 * @typedef {{
 *   log: (...args: Parameters<HostApi['log']>) => undefined,
 *   settle: (...args: Parameters<HostApi['settle']>) => undefined,
 *   setTimer: (id: number, ms: number, repeat: boolean) => boolean | undefined,
 *   clearTimer: (id: number) => boolean | undefined,
 *   take: () => string | undefined,
 *   random: (bytes: number) => string | undefined,
 *   url: (...args: Parameters<HostApi['url']>) => string | undefined,
 *   now: () => number | undefined,
 *   call: (op: string, payload: string) => number | undefined,
 *   load: (name: string) => boolean | undefined,
 *   stack: () => string | undefined,
 *   evalId: () => number | undefined,
 *   completion: () => string | undefined,
 *   completed: (json: string) => undefined,
 * }} HostBridge
 */

/**
 * @param {HostApi} host
 * @returns {Readonly<HostBridge>}
 */
export function createHostBridge(host) {
  const hostLog = host.log;
  const hostSettle = host.settle;
  const hostTimer = host.timer;
  const hostTake = host.take;
  const hostRandom = host.random;
  const hostUrl = host.url;
  const hostNow = host.now;
  const hostCall = host.call;
  const hostLoad = host.load;
  const hostStack = host.stack;
  const hostEvalId = host.evalId;
  const hostCompletion = host.completion;

  function safe(fn, a, b, c, d, e, f, g, h) {
    try {
      const result = fn(a, b, c, d, e, f, g, h);
      // The host returns primitives only; anything else is treated as failure.
      return typeof result === 'object' || typeof result === 'function' ? undefined : result;
    } catch {
      return undefined;
    }
  }

  /** @type {HostBridge} */
  const bridge = {
    log: (level, text) => safe(hostLog, level, text),
    settle: (evalId, kind, text, json, name, message, stack, details) =>
      safe(hostSettle, evalId, kind, text, json, name, message, stack, details),
    setTimer: (id, ms, repeat) => safe(hostTimer, 'set', id, ms, repeat),
    clearTimer: (id) => safe(hostTimer, 'clear', id, 0, false),
    take: () => safe(hostTake),
    random: (bytes) => safe(hostRandom, bytes),
    url: (op, a, b, c) => safe(hostUrl, op, a, b, c),
    now: () => safe(hostNow),
    call: (op, payload) => safe(hostCall, op, payload),
    load: (name) => safe(hostLoad, name),
    stack: () => safe(hostStack),
    evalId: () => safe(hostEvalId),
    completion: () => safe(hostCompletion, 'request'),
    completed: (json) => safe(hostCompletion, 'answer', json),
  };
  return ObjectFreeze(bridge);
}
