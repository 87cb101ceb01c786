import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as acorn from 'acorn';
import * as walk from 'acorn-walk';
import { findPackageRoot } from '../common/package-root';
import { REALM_ENTRY_EXPORTS, realmEntrySource } from '../common/realm-bundle';

/**
 * The check behind `npm run check:realm`: realm code (the ES modules under `sandbox/realm/`)
 * runs in the same realm as user code, so it must not use anything user code
 * can replace after startup. Rejected:
 *
 * - `for…of`, array spread (`[...x]`, `f(...x)`) and array destructuring: all
 *   go through `%ArrayIteratorPrototype%.next` / `[Symbol.iterator]`.
 * - `x.name(…)` where `name` is a prototype method captured in primordials.js
 *   (`ArrayPrototypePush` → `.push(`, `FunctionPrototypeCall` → `.call(`):
 *   use the captured one.
 * - a top-level name (a captured primordial, a helper) that no realm file uses,
 *   and an export that no realm module (nor an entry point the host bundles,
 *   common/realm-bundle.ts) imports. Unused imports and unexported unused
 *   names within one module are biome's (noUnusedImports, noUnusedVariables).
 *
 * A line may opt out of one finding with `// realm-lint-allow: <reason>` on it
 * or on the line above (e.g. a method of an object the realm itself built).
 */

export interface RealmLintFinding {
  readonly file: string;
  readonly line: number;
  readonly rule:
    | 'for-of'
    | 'array-spread'
    | 'array-destructuring'
    | 'prototype-call'
    | 'unused-top-level'
    | 'unused-export';
  readonly message: string;
}

const ALLOW = /realm-lint-allow:/;

/** Method names captured in primordials.js, from `<Type>Prototype<Method> = uncurryThis(…)`, e.g. `push`, `call`. */
export function capturedMethodNames(primordialsSource: string): Set<string> {
  const names = new Set<string>();
  for (const m of primordialsSource.matchAll(/^(?:export )?const \w+Prototype([A-Z]\w*) = uncurryThis\(/gm)) {
    const method = m[1]!;
    // Accessor captures (`…GetSize`, `…GetBuffer`) are getters, not methods called by name.
    if (/^Get[A-Z]/.test(method)) continue;
    names.add(method[0]!.toLowerCase() + method.slice(1));
  }
  return names;
}

function parse(source: string): acorn.Program {
  return acorn.parse(source, { ecmaVersion: 'latest', sourceType: 'module', locations: true });
}

/** Findings in one realm file's source. */
export function lintRealmSource(file: string, source: string, methods: ReadonlySet<string>): RealmLintFinding[] {
  const lines = source.split('\n');
  const allowed = (line: number) => ALLOW.test(lines[line - 1] ?? '') || ALLOW.test(lines[line - 2] ?? '');
  const findings: RealmLintFinding[] = [];
  const report = (node: acorn.Node, rule: RealmLintFinding['rule'], message: string) => {
    const line = node.loc!.start.line;
    if (!allowed(line)) findings.push({ file, line, rule, message });
  };
  walk.full(parse(source), (node) => {
    switch (node.type) {
      case 'ForOfStatement':
        report(node, 'for-of', 'for…of runs %ArrayIteratorPrototype%.next: use an index loop');
        break;
      case 'ArrayExpression':
      case 'CallExpression':
      case 'NewExpression': {
        const items = node.type === 'ArrayExpression' ? node.elements : node.arguments;
        for (const item of items) {
          if (item?.type === 'SpreadElement') {
            report(item, 'array-spread', 'spread runs the array iterator: use ArrayPrototypeConcat/ReflectApply');
          }
        }
        if (node.type === 'CallExpression') {
          const callee = node.callee;
          if (
            callee.type === 'MemberExpression' &&
            !callee.computed &&
            callee.property.type === 'Identifier' &&
            methods.has(callee.property.name)
          ) {
            report(
              node,
              'prototype-call',
              `.${callee.property.name}(…) goes through a prototype user code can replace: use the captured primordial`,
            );
          }
        }
        break;
      }
      case 'ArrayPattern':
        report(node, 'array-destructuring', 'array destructuring runs the array iterator: index the array');
        break;
    }
  });
  return findings;
}

/**
 * Top-level names of any realm file that no realm file refers to besides their
 * own declaration (an import of a name counts as a use).
 */
export function unusedTopLevelNames(sources: ReadonlyMap<string, string>): RealmLintFinding[] {
  const declared: { file: string; name: string; line: number }[] = [];
  const uses = new Map<string, number>();
  for (const [file, source] of sources) {
    const program = parse(source);
    for (const item of program.body) {
      const statement =
        item.type === 'ExportNamedDeclaration' && item.declaration ? item.declaration : (item as acorn.Statement);
      if (statement.type === 'VariableDeclaration') {
        for (const d of statement.declarations) {
          if (d.id.type === 'Identifier') declared.push({ file, name: d.id.name, line: d.loc!.start.line });
        }
      } else if (statement.type === 'FunctionDeclaration' && statement.id) {
        declared.push({ file, name: statement.id.name, line: statement.loc!.start.line });
      }
    }
    const use = (name: string) => uses.set(name, (uses.get(name) ?? 0) + 1);
    walk.full(program, (node) => {
      if (node.type === 'Identifier') use(node.name);
      // The walker skips export specifiers (`export { x }` lists).
      if (node.type === 'ExportNamedDeclaration') {
        for (const s of node.specifiers) if (s.local.type === 'Identifier') use(s.local.name);
      }
    });
  }
  // Non-computed property keys are Identifiers too (`x.push`), so a name also
  // used as a property counts as used: the check may miss one, never report a used one.
  return declared
    .filter((d) => (uses.get(d.name) ?? 0) <= 1)
    .map((d) => ({
      file: d.file,
      line: d.line,
      rule: 'unused-top-level' as const,
      message: `${d.name} is never used`,
    }));
}

/**
 * Exports no module imports. `sources` maps paths relative to the realm
 * directory (`inspect/index.js`) to module text; `entries` are modules that
 * are not files (the host's entry points), resolved in the realm directory.
 */
export function unusedExports(
  sources: ReadonlyMap<string, string>,
  entries: readonly string[] = [],
): RealmLintFinding[] {
  const exported: { file: string; name: string; line: number }[] = [];
  const imported = new Set<string>();
  const scan = (file: string, source: string) => {
    for (const item of parse(source).body) {
      if (item.type === 'ImportDeclaration' || (item.type === 'ExportNamedDeclaration' && item.source)) {
        const from = path.posix.join(path.posix.dirname(file), String(item.source!.value));
        for (const s of item.specifiers) {
          // The name as the imported module exports it.
          const name = s.type === 'ImportSpecifier' ? s.imported : s.type === 'ExportSpecifier' ? s.local : undefined;
          if (name?.type === 'Identifier') imported.add(`${from}#${name.name}`);
        }
      } else if (item.type === 'ExportNamedDeclaration' && item.declaration) {
        const d = item.declaration;
        const ids =
          d.type === 'VariableDeclaration'
            ? d.declarations.flatMap((v) => (v.id.type === 'Identifier' ? [v.id] : []))
            : d.id
              ? [d.id]
              : [];
        for (const id of ids) exported.push({ file, name: id.name, line: item.loc!.start.line });
      }
    }
  };
  for (const [file, source] of sources) scan(file, source);
  entries.forEach((source, i) => {
    scan(`entry-${i}.js`, source);
  });
  return exported
    .filter((e) => !imported.has(`${e.file}#${e.name}`))
    .map((e) => ({
      file: e.file,
      line: e.line,
      rule: 'unused-export' as const,
      message: `${e.name} is exported but no realm module imports it`,
    }));
}

function realmFiles(dir: string, prefix = ''): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(path.join(dir, prefix), { withFileTypes: true })) {
    const relative = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) files.push(...realmFiles(dir, relative));
    else if (entry.name.endsWith('.js')) files.push(relative);
  }
  return files.sort();
}

/** Every finding in a realm directory (default: this package's `sandbox/realm`). */
export function lintRealmDirectory(
  dir = path.join(findPackageRoot(__dirname), 'sandbox', 'realm'),
): RealmLintFinding[] {
  const sources = new Map(realmFiles(dir).map((f) => [f, readFileSync(path.join(dir, f), 'utf8')]));
  const primordials = sources.get('primordials.js') ?? '';
  const methods = capturedMethodNames(primordials);
  const findings: RealmLintFinding[] = [];
  for (const [file, source] of sources) findings.push(...lintRealmSource(file, source, methods));
  const entries = Object.entries(REALM_ENTRY_EXPORTS).map(
    ([name, exports]) => [name, realmEntrySource(exports)] as const,
  );
  // The host's entry points use names too.
  findings.push(...unusedTopLevelNames(new Map([...sources, ...entries])));
  findings.push(
    ...unusedExports(
      sources,
      entries.map(([, source]) => source),
    ),
  );
  return findings;
}

if (require.main === module) {
  const findings = lintRealmDirectory();
  for (const f of findings) console.error(`sandbox/realm/${f.file}:${f.line}  ${f.rule}  ${f.message}`);
  if (findings.length > 0) {
    console.error(`realm lint: ${findings.length} finding(s)`);
    process.exit(1);
  }
  console.log('realm lint: no findings');
}
