// @ts-check
// Run by SharedRealm.evaluateModule (shared-state/shared-realm.ts) with the
// compiled module body in the sandbox property `__vmgate_module` and the line
// of each of its top-level statements (JSON) in `__vmgate_input`: runs the
// body, then checks and hardens what it exports. Completes with '' or why not.

__vmgate_shared.module();
