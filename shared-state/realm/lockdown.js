// @ts-check
// Run by SharedRealm.create (shared-state/shared-realm.ts) right after ses was
// evaluated in a new shared realm, before loader.js. Input: the JSON object of
// `lockdown()` options (LOCKDOWN_OPTIONS), in the sandbox property
// `__vmgate_input`.
//
// Locks the realm down (every intrinsic frozen and tamed), verifies that stack
// capture is still off (prelude.js) and drops the bootstrap-only globals.

(() => {
  const g = /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (globalThis));
  const input = g.__vmgate_input;
  delete g.__vmgate_input;
  if (typeof input !== 'string') throw new TypeError('no lockdown options');
  lockdown(/** @type {import('ses').LockdownOptions} */ (JSON.parse(input)));

  // The intrinsic %Error% read by V8 for stackTraceLimit: check that lockdown
  // kept the accessor, then freeze it (it is unreachable from here on).
  const stl = Object.getOwnPropertyDescriptor(__vmgate_intrinsicError, 'stackTraceLimit');
  if (stl === undefined || stl.configurable !== false || typeof stl.get !== 'function' || 'value' in stl) {
    throw new TypeError('stack capture could not be disabled');
  }
  harden(__vmgate_intrinsicError);
  __vmgate_intrinsicError = undefined;
  if (new RangeError('probe').stack !== undefined || Object.isFrozen(Object.prototype) !== true) {
    throw new TypeError('shared realm is not locked down');
  }
  const dropped = ['console', 'lockdown', 'repairIntrinsics', 'hardenIntrinsics'];
  for (let i = 0; i < dropped.length; i++) delete g[dropped[i]];
})();
