import vm from 'node:vm';
import { buildSync } from 'esbuild';
import { findPackageRoot } from '../sandbox/realm-source';

/**
 * Kysely runs inside each session realm (DESIGN.md §1: a library that builds
 * queries must not live where it could reach the host). It is bundled once per
 * process — only the MySQL dialect's parts, minified — and compiled once as a
 * `vm.Script`; a realm runs it on first use of `db`, so an idle session pays
 * nothing for it. The script hands the module to the realm's bootstrap
 * (`__vmgate.m`) instead of defining a global.
 */
let script: vm.Script | undefined;

export function kyselyScript(): vm.Script {
  if (script) return script;
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
    minify: true,
    write: false,
    legalComments: 'none',
  });
  const bundle = result.outputFiles[0]?.text;
  if (!bundle) throw new Error('kysely bundle is empty');
  script = new vm.Script(`__vmgate.m((function () { ${bundle}; return __kysely; })());`, {
    filename: 'vmgate:kysely',
  });
  return script;
}
