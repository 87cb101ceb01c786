/**
 * User code that replaces, with functions that throw, the builtins realm code
 * could be tempted to use: the array iterator, `call`/`apply`/`bind`, common
 * array, string, Map and Set methods, the Map/Set iterators. Values a test
 * wants to render later must be made before this runs (making them after would
 * hit the replaced builtins in the test's own code).
 */
export const HIJACK_BUILTINS = `
{
  const define = Reflect.defineProperty;
  const poison = (target, key) => {
    const name = typeof key === 'symbol' ? key.toString() : key;
    define(target, key, {
      value: function hijacked() { throw new Error('hijacked ' + name); },
      writable: true,
      configurable: true,
    });
  };
  const arrayIterator = Object.getPrototypeOf([][Symbol.iterator]());
  const mapIterator = Object.getPrototypeOf(new Map().entries());
  const setIterator = Object.getPrototypeOf(new Set().values());
  const targets = [
    [arrayIterator, 'next'],
    [mapIterator, 'next'],
    [setIterator, 'next'],
    [Array.prototype, Symbol.iterator],
    [Array.prototype, 'push'],
    [Array.prototype, 'pop'],
    [Array.prototype, 'map'],
    [Array.prototype, 'filter'],
    [Array.prototype, 'forEach'],
    [Array.prototype, 'join'],
    [Array.prototype, 'slice'],
    [Array.prototype, 'concat'],
    [Array.prototype, 'includes'],
    [Array.prototype, 'indexOf'],
    [Array.prototype, 'sort'],
    [String.prototype, 'slice'],
    [String.prototype, 'split'],
    [String.prototype, 'replace'],
    [String.prototype, 'indexOf'],
    [String.prototype, 'startsWith'],
    [String.prototype, 'trim'],
    [Map.prototype, 'get'],
    [Map.prototype, 'set'],
    [Map.prototype, 'has'],
    [Map.prototype, 'entries'],
    [Map.prototype, Symbol.iterator],
    [Set.prototype, 'add'],
    [Set.prototype, 'has'],
    [Set.prototype, 'values'],
    [Set.prototype, Symbol.iterator],
    [Object, 'keys'],
    [Object, 'defineProperty'],
    [JSON, 'stringify'],
  ];
  const functionTargets = ['call', 'apply', 'bind'];
  for (let i = 0; i < targets.length; i++) poison(targets[i][0], targets[i][1]);
  // Last, so nothing above needs them.
  for (let i = 0; i < functionTargets.length; i++) {
    const name = functionTargets[i];
    define(Function.prototype, name, { value: function hijacked() { throw new Error('hijacked ' + name); } });
  }
}
'hijacked'
`;
