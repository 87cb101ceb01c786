// Realm-side source. The only way realm code reaches the host.
//
// Host functions arrive once, as arguments of the bootstrap function, and are
// kept in this closure: no object that user code can reach ever holds one
// (docs/design.md §1 rule 2). Every call passes and returns primitives only. A call
// is wrapped so that whatever it throws (the host promises never to, but a
// stack overflow on entry to a host function creates a *host* RangeError)
// is swallowed here and never reaches user code.

import { ObjectFreeze } from './primordials.js';

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
  const hostSeq = host.seq;
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

  return ObjectFreeze({
    log: (level, text) => safe(hostLog, level, text),
    settle: (seq, kind, text, json, name, message, stack, details) =>
      safe(hostSettle, seq, kind, text, json, name, message, stack, details),
    setTimer: (id, ms, repeat) => safe(hostTimer, 'set', id, ms, repeat),
    clearTimer: (id) => safe(hostTimer, 'clear', id, 0, false),
    take: () => safe(hostTake),
    random: (bytes) => safe(hostRandom, bytes),
    url: (op, a, b, c) => safe(hostUrl, op, a, b, c),
    now: () => safe(hostNow),
    call: (op, payload) => safe(hostCall, op, payload),
    load: (name) => safe(hostLoad, name),
    stack: () => safe(hostStack),
    seq: () => safe(hostSeq),
    completion: () => safe(hostCompletion, 'request'),
    completed: (json) => safe(hostCompletion, 'answer', json),
  });
}
