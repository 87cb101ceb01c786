import { readFileSync } from 'node:fs';
import path from 'node:path';
import { findPackageRoot } from './package-root';

/**
 * Realm-side code lives in plain `.js` files under `sandbox/realm/`. They are
 * read as text (never `require`d into the host) and concatenated into one
 * function body, so every file sees the names the earlier ones declared
 * (primordials first). Reading from the source tree keeps one copy whether
 * the host runs from TypeScript sources or from `dist/`.
 */
const REALM_DIR = path.resolve(findPackageRoot(__dirname), 'sandbox', 'realm');

export type RealmModule = string;

const cache = new Map<string, string>();

/** The text of one realm module, e.g. `readRealmModule('primordials')`. */
export function readRealmModule(name: RealmModule): string {
  let text = cache.get(name);
  if (text === undefined) {
    text = readFileSync(path.join(REALM_DIR, `${name}.js`), 'utf8');
    cache.set(name, text);
  }
  return text;
}

/**
 * One function expression `(function (host) { 'use strict'; <modules>; <tail> })`.
 * `tail` is the statement that returns what the caller needs (e.g. `return createInspector();`).
 */
export function buildRealmFunctionSource(modules: readonly RealmModule[], tail: string, params = 'host'): string {
  const parts = modules.map((name) => `// ---- ${name}.js\n${readRealmModule(name)}`);
  return `(function (${params}) {\n'use strict';\n${parts.join('\n')}\n${tail}\n})`;
}
