// @ts-check
// Run by SharedRealm (shared-state/shared-realm.ts) after parse-json.js or
// evaluate-module.js succeeded: completes with the deep-frozen value, which
// the host hands on unread to the session realms.

__vmgate_shared.take();
