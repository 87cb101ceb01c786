// Realm-side source. setTimeout & co. The host arms one Node timer per realm
// timer; when it fires the host enters the realm (a timed entry, docs/design.md
// §1 rule 3) and `fire(id)` runs the callback here. Timers die with the
// session: the host owns the Node timers and clears them all on dispose.

import {
  MapPrototypeDelete,
  MapPrototypeGet,
  MapPrototypeSet,
  PromisePrototypeThen,
  PromiseResolve,
  ReflectApply,
  SafeMap,
} from './primordials.js';

const MAX_DELAY = 2147483647;
// Intervals below this would cost a timed entry (~60 µs) every millisecond.
const MIN_INTERVAL = 10;

export function createTimers(bridge, reportUncaught) {
  const timers = new SafeMap();
  let nextId = 0;

  function schedule(callback, delay, args, repeat) {
    if (typeof callback !== 'function') {
      throw new TypeError(
        'The "callback" argument must be of type function (string callbacks would need code generation, which is off)',
      );
    }
    let ms = +delay;
    if (!(ms >= 1) || ms > MAX_DELAY) ms = 1;
    if (repeat && ms < MIN_INTERVAL) ms = MIN_INTERVAL;
    const id = ++nextId;
    if (bridge.setTimer(id, ms, repeat) !== true) {
      throw new RangeError('too many timers in this session');
    }
    MapPrototypeSet(timers, id, { callback, args, repeat });
    return id;
  }

  function clear(id) {
    if (typeof id === 'number' && MapPrototypeDelete(timers, id)) bridge.clearTimer(id);
  }

  function fire(id) {
    const timer = MapPrototypeGet(timers, id);
    if (timer === undefined) return;
    if (!timer.repeat) MapPrototypeDelete(timers, id);
    try {
      ReflectApply(timer.callback, undefined, timer.args);
    } catch (error) {
      reportUncaught(error);
    }
  }

  /** The host dropped every timer (budget exceeded, eval cancelled): forget them here too. */
  function forget(ids) {
    for (let i = 0; i < ids.length; i++) MapPrototypeDelete(timers, ids[i]);
  }

  return {
    globals: {
      setTimeout: function setTimeout(callback, delay, ...args) {
        return schedule(callback, delay, args, false);
      },
      setInterval: function setInterval(callback, delay, ...args) {
        return schedule(callback, delay, args, true);
      },
      clearTimeout: function clearTimeout(id) {
        clear(id);
      },
      clearInterval: function clearInterval(id) {
        clear(id);
      },
      queueMicrotask: function queueMicrotask(callback) {
        if (typeof callback !== 'function') throw new TypeError('The "callback" argument must be of type function');
        PromisePrototypeThen(PromiseResolve(), () => {
          try {
            callback();
          } catch (error) {
            reportUncaught(error);
          }
        });
      },
    },
    fire,
    forget,
  };
}
