// The layering check run by `npm test` (`npm run check:layers`): dependencies
// point one way, and there are no import cycles. The layers, lowest first, are
// described in docs/architecture.md ("Layers"); keep the two in step.
//
// A layer may import its own folder and the layers below it. Type-only
// imports count: an interface a lower layer needs belongs in that layer.

/** Folders of a layer and of every layer below it. */
const common = ['common'];
const protocol = [...common, 'protocol'];
const core = [...protocol, 'sandbox', 'shared-state', 'db'];
const executors = [...core, 'executors'];
const web = [...protocol, 'web'];
const gateway = [...executors, 'web', 'gateway'];
const clients = [...protocol, 'clients'];

/** A rule: files under `from` import nothing of the project outside `allowed`. */
function layer(from, allowed) {
  return {
    name: `layer-${from.replace('/', '-')}`,
    comment: `${from}/ may import only ${allowed.filter((f) => f !== from).join(', ') || 'Node and npm packages'}`,
    severity: 'error',
    from: { path: `^${from}/` },
    to: { dependencyTypes: ['local'], pathNot: `^(${allowed.join('|')})/` },
  };
}

module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      comment: 'an import cycle: split out the part both sides need',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    layer('common', common),
    layer('protocol', protocol),
    layer('sandbox', core),
    layer('shared-state', core),
    layer('db', core),
    layer('executors', executors),
    layer('web', web),
    layer('gateway', gateway),
    layer('clients', clients),
    {
      name: 'no-tests-in-production',
      comment: 'production code never imports tests, benchmarks or examples',
      severity: 'error',
      from: { path: '^(common|protocol|sandbox|shared-state|db|executors|web|gateway|clients|bin)/' },
      to: { path: '^(__tests__|bench|examples)/' },
    },
    {
      name: 'test-probes-only-on-demand',
      comment: 'executors/test-probes.ts is loaded (dynamic import) only when test hooks are on',
      severity: 'error',
      from: { pathNot: '^__tests__/' },
      to: { path: '^executors/test-probes\\.ts$', dynamic: false },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist|\\.vmgate|web/static|sandbox/realm/)' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    moduleSystems: ['cjs', 'es6'],
  },
};
