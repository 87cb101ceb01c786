import vm from 'node:vm';
import { buildSync } from 'esbuild';
import { findPackageRoot } from '../common/package-root';

/**
 * Kysely runs inside each session realm (docs/design.md §1: a library that builds
 * queries must not live where it could reach the host). It is bundled once per
 * process — only the MySQL dialect's parts, without whitespace — and compiled once as a
 * `vm.Script`; a realm runs it on first use of `db`, so an idle session pays
 * nothing for it. The script hands the module to the realm's bootstrap
 * (`__vmgate.m`) instead of defining a global.
 */
let script: vm.Script | undefined;
let bundle: string | undefined;

export function kyselyScript(): vm.Script {
  script ??= compileKyselyBundle(kyselyBundle());
  return script;
}

/**
 * The bundled source alone. An executor process (executors/) cannot start
 * esbuild (no child processes under its permission model): the gateway builds
 * the bundle and hands it over, and the executor compiles it.
 */
export function kyselyBundle(): string {
  if (bundle !== undefined) return bundle;
  const result = buildSync({
    stdin: {
      contents:
        "export { Kysely, MysqlAdapter, MysqlQueryCompiler, MysqlIntrospector, sql, CompiledQuery } from 'kysely';",
      resolveDir: findPackageRoot(__dirname),
    },
    bundle: true,
    format: 'iife',
    globalName: '__kysely',
    platform: 'neutral',
    mainFields: ['module', 'main'],
    target: 'es2022',
    // Not `minify`: renamed identifiers would show users `rr {…}` instead of
    // `InsertResult {…}`. Kept names cost nothing at run time (unlike `keepNames`).
    minifyWhitespace: true,
    minifySyntax: true,
    write: false,
    legalComments: 'none',
  });
  const text = result.outputFiles[0]?.text;
  if (!text) throw new Error('kysely bundle is empty');
  bundle = text;
  return bundle;
}

export function compileKyselyBundle(source: string): vm.Script {
  return new vm.Script(`__vmgate.m((function () { ${source}; return __kysely; })());`, {
    filename: 'vmgate:kysely',
  });
}
