import path from 'node:path';
import { buildSync } from 'esbuild';
import { findPackageRoot } from './package-root';

/**
 * Realm-side code lives in ES modules under `sandbox/realm/`, never `require`d
 * into the host: esbuild bundles them into one IIFE per entry point, and the
 * host wraps that text in a function it compiles once and runs in each realm
 * (a fresh run per realm, so every module's top level — the primordials
 * captured from that realm's intrinsics — belongs to that realm alone).
 * Bundling from the source tree keeps one copy whether the host runs from
 * TypeScript sources or from `dist/`.
 *
 * An executor process cannot run esbuild (no child processes under its
 * permission model): the gateway builds the bundles and hands their text over
 * (`provideRealmBundles`).
 */
const REALM_DIR = path.resolve(findPackageRoot(__dirname), 'sandbox', 'realm');

/** What each entry point exports: the session realm's bootstrap, and the wire value codec. */
export const REALM_ENTRIES = {
  session: "export { bootstrap } from './bootstrap.js';",
  codec: "export { createValueCodec } from './value-codec/index.js';",
} as const;

export type RealmEntry = keyof typeof REALM_ENTRIES;
export type RealmBundles = Readonly<Record<RealmEntry, string>>;

/** The name the exports of an entry point have inside the function of `realmFunctionSource`. */
export const REALM_EXPORTS = '__vmgateRealm';

let bundles: Partial<Record<RealmEntry, string>> = {};

/**
 * The bundled source of the realm modules reachable from `entrySource` (an ES
 * module resolved in `sandbox/realm/`): a statement declaring `REALM_EXPORTS`.
 */
export function bundleRealmModules(entrySource: string): string {
  const result = buildSync({
    stdin: { contents: entrySource, resolveDir: REALM_DIR, sourcefile: 'entry.js', loader: 'js' },
    bundle: true,
    format: 'iife',
    globalName: REALM_EXPORTS,
    platform: 'neutral',
    // No syntax lowering (it would bring helpers that call replaceable builtins), and no
    // renamed identifiers: users see realm class and function names in renderings.
    target: 'esnext',
    charset: 'utf8',
    legalComments: 'none',
    write: false,
  });
  const text = result.outputFiles[0]?.text;
  if (!text) throw new Error('realm bundle is empty');
  return text;
}

/** One entry point's bundle, built once per process (or provided by the gateway). */
export function realmBundle(entry: RealmEntry): string {
  let text = bundles[entry];
  if (text === undefined) {
    text = bundleRealmModules(REALM_ENTRIES[entry]);
    bundles[entry] = text;
  }
  return text;
}

/** Every entry point's bundle, for a process that cannot build them (executors/). */
export function realmBundles(): RealmBundles {
  return { session: realmBundle('session'), codec: realmBundle('codec') };
}

/** Installs bundles built by another process (the gateway's, in an executor). */
export function provideRealmBundles(provided: RealmBundles): void {
  bundles = { ...provided };
}

/**
 * One function expression `(function (<params>) { 'use strict'; <bundle>; <body> })`.
 * `body` returns what the caller needs from the entry's exports, e.g.
 * `return __vmgateRealm.createValueCodec();`.
 */
export function realmFunctionSource(bundle: string, body: string, params = 'host'): string {
  return `(function (${params}) {\n'use strict';\n${bundle}\n${body}\n})`;
}
