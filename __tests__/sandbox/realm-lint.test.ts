import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  capturedMethodNames,
  lintRealmDirectory,
  lintRealmSource,
  unusedTopLevelNames,
} from '../../sandbox/realm-lint';

const PRIMORDIALS = readFileSync(path.join(__dirname, '..', '..', 'sandbox', 'realm', 'primordials.js'), 'utf8');
const methods = capturedMethodNames(PRIMORDIALS);
const rules = (source: string) => lintRealmSource('x.js', source, methods).map((f) => `${f.line}:${f.rule}`);

describe('realm lint (npm run check:realm)', () => {
  test('the realm files have no findings', () => {
    expect(lintRealmDirectory()).toEqual([]);
  });

  test('method names come from the captured prototype methods, not accessors', () => {
    expect(methods.has('push')).toBe(true);
    expect(methods.has('call')).toBe(true);
    expect(methods.has('slice')).toBe(true);
    expect(methods.has('getSize')).toBe(false);
  });

  test('rejects what runs the array iterator', () => {
    expect(rules('for (const x of list) f(x);')).toEqual(['1:for-of']);
    expect(rules('const a = [0, ...rest];')).toEqual(['1:array-spread']);
    expect(rules('f(...args);')).toEqual(['1:array-spread']);
    expect(rules('new C(...args);')).toEqual(['1:array-spread']);
    expect(rules('const [a, b] = pair;')).toEqual(['1:array-destructuring']);
    expect(rules('function g([a]) { return a; }')).toEqual(['1:array-destructuring']);
  });

  test('rejects calls through prototype methods that primordials.js captures', () => {
    expect(rules('list.push(1);\nname.slice(1);\nfn.call(undefined, 1);')).toEqual([
      '1:prototype-call',
      '2:prototype-call',
      '3:prototype-call',
    ]);
  });

  test('accepts the captured-primordials style, rest parameters and object spread', () => {
    const source = [
      'ArrayPrototypePush(list, 1);',
      'for (let i = 0; i < list.length; i++) f(list[i]);',
      'function g(...args) { return ReflectApply(f, undefined, args); }',
      'const o = { ...other, a: 1 };',
      'const { a, b } = o;',
      'obj[name](1);',
      'helper.ownMethod(1);',
    ].join('\n');
    expect(rules(source)).toEqual([]);
  });

  test('a line may opt out with a reason', () => {
    expect(rules("// realm-lint-allow: the realm's own object\nbridge.call(1);")).toEqual([]);
    expect(rules("bridge.call(1); // realm-lint-allow: the realm's own object")).toEqual([]);
  });

  test('reports top-level names no realm file uses, across files', () => {
    const sources = new Map([
      ['primordials.js', 'const Used = 1;\nconst Unused = 2;\nfunction helper() {}'],
      ['other.js', 'function createThing() { return Used + helper(); }'],
    ]);
    expect(unusedTopLevelNames(sources).map((f) => `${f.file}:${f.line}:${f.message}`)).toEqual([
      'primordials.js:2:Unused is never used',
      'other.js:1:createThing is never used',
    ]);
  });
});
