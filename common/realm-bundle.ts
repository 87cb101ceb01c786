import path from 'node:path';
import * as acorn from 'acorn';
import { buildSync } from 'esbuild';
import { findPackageRoot } from './package-root';

/**
 * Realm-side code lives in ES modules under `sandbox/realm/`, never `require`d
 * into the host: esbuild bundles them, and the host wraps the bundle in a
 * function it compiles once and runs in each realm. Each run evaluates every
 * module afresh, so module state — the primordials captured from that realm's
 * intrinsics first — belongs to that realm alone. Bundling from the source
 * tree keeps one copy whether the host runs from TypeScript sources or from
 * `dist/`.
 *
 * Bundles are ES-module output without imports or exports: a list of
 * statements that is a valid function body. An entry hands its exports out by
 * assigning `__vmgateExports` (declared by the wrapping function), so the
 * bundler adds no helpers of its own (they would use builtins user code can
 * replace).
 *
 * The session realm's code comes in two parts: the bootstrap and what a realm
 * needs from its start, and the inspector and value codec (`deferred`), run
 * the first time the realm renders or encodes a value — a realm that never
 * does pays nothing for their hundreds of functions. The deferred part does
 * not capture primordials of its own (user code has run by then): it receives
 * the ones the session part captured at start.
 *
 * An executor process cannot run esbuild (no child processes under its
 * permission model): the gateway builds the bundles and hands their text over
 * (`provideRealmBundles`).
 */
const REALM_DIR = path.resolve(findPackageRoot(__dirname), 'sandbox', 'realm');
const PRIMORDIALS = path.join(REALM_DIR, 'primordials.js');

/** The variable an entry assigns its exports to, inside the function of `realmFunctionSource`. */
export const REALM_EXPORTS = '__vmgateExports';
/** The parameter through which the deferred part receives the session part's primordials. */
const PASSED_PRIMORDIALS = '__vmgatePrimordials';

export type RealmEntry = 'session' | 'deferred' | 'codec';
export type RealmBundles = Readonly<Record<RealmEntry, string>>;

let bundles: Partial<Record<RealmEntry, string>> = {};
/** The primordials the deferred part reads (its bundle's imports of primordials.js). */
let passed: readonly string[] | undefined;

/**
 * The source of an entry module: imports `names` (name → module path in
 * `sandbox/realm/`) and assigns them to `REALM_EXPORTS`; `extra` adds
 * properties (source text).
 */
export function realmEntrySource(names: Readonly<Record<string, string>>, extra = ''): string {
  // Not `exports`: compiled to CommonJS, that name would hide the module's own
  // `exports`, through which tsc reads REALM_EXPORTS below.
  const lines = Object.entries(names).map(([name, from]) => `import { ${name} } from '${from}';`);
  const fields = [...Object.keys(names), ...(extra ? [extra] : [])];
  return `${lines.join('\n')}\n${REALM_EXPORTS} = { ${fields.join(', ')} };\n`;
}

/** What each entry point exports (name → module), for the host and the realm lint. */
export const REALM_ENTRY_EXPORTS: Readonly<Record<RealmEntry, Readonly<Record<string, string>>>> = {
  session: { bootstrap: './bootstrap.js' },
  deferred: { createInspector: './inspect/index.js', createValueCodecWith: './value-codec/index.js' },
  codec: { createValueCodec: './value-codec/index.js' },
};

function entrySourceOf(entry: RealmEntry): string {
  if (entry !== 'session') return realmEntrySource(REALM_ENTRY_EXPORTS[entry]);
  // `primordials()` hands the deferred part the intrinsics this realm captured
  // at start (only those it uses: each one a closure refers to lives on in the realm).
  // The deferred bundle's imports say which: build it first (again, if it was provided).
  if (passed === undefined) realmBundle('deferred');
  if (passed === undefined) bundleRealmModules(entrySourceOf('deferred'), true);
  const all = (passed ?? []).join(', ');
  return `import { ${all} } from './primordials.js';\n${realmEntrySource(
    REALM_ENTRY_EXPORTS.session,
    `primordials: () => ({ ${all} })`,
  )}`;
}

/**
 * The bundled source of the realm modules reachable from `entrySource` (an ES
 * module resolved in `sandbox/realm/`, see `realmEntrySource`). With
 * `passPrimordials`, primordials.js is left out and its names are read from
 * `__vmgatePrimordials` instead.
 */
export function bundleRealmModules(entrySource: string, passPrimordials = false): string {
  const result = buildSync({
    stdin: { contents: entrySource, resolveDir: REALM_DIR, sourcefile: 'entry.js', loader: 'js' },
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    // No syntax lowering (it would bring helpers that call replaceable builtins), and no
    // renamed identifiers: users see realm class and function names in renderings.
    target: 'esnext',
    charset: 'utf8',
    legalComments: 'none',
    external: passPrimordials ? [PRIMORDIALS] : [],
    write: false,
  });
  const text = result.outputFiles[0]?.text;
  if (!text) throw new Error('realm bundle is empty');
  return passPrimordials ? readPassedPrimordials(text) : text;
}

/** Replaces the bundle's imports of primordials.js by one destructuring of `__vmgatePrimordials`. */
function readPassedPrimordials(text: string): string {
  const program = acorn.parse(text, { ecmaVersion: 'latest', sourceType: 'module' });
  const bindings: string[] = [];
  const imported: string[] = [];
  let out = '';
  let at = 0;
  for (const item of program.body) {
    if (item.type === 'ExportNamedDeclaration' || item.type === 'ExportDefaultDeclaration') {
      throw new Error('a realm entry assigns its exports, it does not export them');
    }
    if (item.type !== 'ImportDeclaration') continue;
    for (const s of item.specifiers) {
      if (s.type !== 'ImportSpecifier' || s.imported.type !== 'Identifier') {
        throw new Error('realm modules import primordials by name');
      }
      imported.push(s.imported.name);
      bindings.push(s.imported.name === s.local.name ? s.local.name : `${s.imported.name}: ${s.local.name}`);
    }
    out += text.slice(at, item.start);
    at = item.end;
  }
  out += text.slice(at);
  passed = [...new Set(imported)].sort();
  return `const { ${bindings.join(', ')} } = ${PASSED_PRIMORDIALS};\n${out}`;
}

/** One entry point's bundle, built once per process (or provided by the gateway). */
export function realmBundle(entry: RealmEntry): string {
  let text = bundles[entry];
  if (text === undefined) {
    text = bundleRealmModules(entrySourceOf(entry), entry === 'deferred');
    bundles[entry] = text;
  }
  return text;
}

/** Every entry point's bundle, for a process that cannot build them (executors/). */
export function realmBundles(): RealmBundles {
  return { session: realmBundle('session'), deferred: realmBundle('deferred'), codec: realmBundle('codec') };
}

/** Installs bundles built by another process (the gateway's, in an executor). */
export function provideRealmBundles(provided: RealmBundles): void {
  bundles = { ...provided };
}

/**
 * One function expression `(function (<params>) { 'use strict'; let __vmgateExports; <bundle> <body> })`.
 * `body` returns what the caller needs, e.g. `return __vmgateExports.createValueCodec();`.
 * Parameter names must not clash with a realm module's top-level names: prefix them.
 */
export function realmFunctionSource(bundle: string, body: string, params = ''): string {
  return `(function (${params}) {\n'use strict';\nlet ${REALM_EXPORTS};\n${bundle}\n${body}\n})`;
}

/**
 * The session realm's function: `(host, config, shared) => undefined`, runs the
 * bootstrap and gives it the loader of the deferred part (see above).
 */
export function sessionFunctionSource(): string {
  const deferred = realmFunctionSource(realmBundle('deferred'), `return ${REALM_EXPORTS};`, PASSED_PRIMORDIALS);
  return realmFunctionSource(
    realmBundle('session'),
    [
      `const __vmgateSession = ${REALM_EXPORTS};`,
      `const __vmgateDeferred = ${deferred};`,
      'return __vmgateSession.bootstrap(__vmgateHost, __vmgateConfig, __vmgateShared, () =>',
      '  __vmgateDeferred(__vmgateSession.primordials()),',
      ');',
    ].join('\n'),
    '__vmgateHost, __vmgateConfig, __vmgateShared',
  );
}
