import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import {
  bundleRealmModules,
  provideRealmBundles,
  REALM_EXPORTS,
  realmBundle,
  realmBundles,
  realmEntrySource,
  realmFunctionSource,
} from '../../common/realm-bundle';

const REALM_DIR = path.join(__dirname, '..', '..', 'sandbox', 'realm');

function realmSources(dir: string): string {
  return readdirSync(dir, { withFileTypes: true })
    .map((entry) => {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) return realmSources(file);
      return entry.name.endsWith('.js') ? readFileSync(file, 'utf8') : '';
    })
    .join('\n');
}

describe('realm bundles (common/realm-bundle.ts)', () => {
  test('keep every function and class name users can see (the bundler renames none)', () => {
    const sources = realmSources(REALM_DIR);
    for (const entry of ['session', 'deferred', 'codec'] as const) {
      const names = [...realmBundle(entry).matchAll(/\b(?:function\*?|class)\s+([A-Za-z_$][\w$]*)/g)].map((m) => m[1]);
      expect(names.length).toBeGreaterThan(10);
      const declared = new Set([...sources.matchAll(/\b(?:function\*?|class)\s+([A-Za-z_$][\w$]*)/g)].map((m) => m[1]));
      const renamed = names.filter((name) => !declared.has(name));
      expect(renamed).toEqual([]);
    }
  });

  test('each realm runs the modules afresh: primordials are that realm’s intrinsics', () => {
    const source = realmFunctionSource(
      bundleRealmModules(
        realmEntrySource({ ArrayPrototypePush: './primordials.js', ObjectFreeze: './primordials.js' }),
      ),
      `return ${REALM_EXPORTS};`,
    );
    const script = new vm.Script(source);
    const run = () => {
      const context = vm.createContext(Object.create(null));
      const exports = (script.runInContext(context) as () => Record<string, unknown>)();
      return { exports, freeze: vm.runInContext('Object.freeze', context) };
    };
    const a = run();
    const b = run();
    expect(a.exports.ObjectFreeze).toBe(a.freeze);
    expect(b.exports.ObjectFreeze).toBe(b.freeze);
    expect(a.exports.ArrayPrototypePush).not.toBe(b.exports.ArrayPrototypePush);
  });

  test('the deferred part captures nothing itself: it reads the primordials it is given', () => {
    const deferred = realmBundle('deferred');
    expect(deferred.startsWith('const { ')).toBe(true);
    expect(deferred).not.toMatch(/\bimport\b|uncurryThis\(/);
    expect(realmBundle('session')).not.toMatch(/function createInspector\b|function createValueCodecWith\b/);
  });

  test('a process that cannot run esbuild uses the bundles it is given', () => {
    const built = realmBundles();
    provideRealmBundles({ ...built, session: `${built.session}\n// provided` });
    expect(realmBundle('session').endsWith('// provided')).toBe(true);
    expect(realmBundle('codec')).toBe(built.codec);
  });
});
