/**
 * User code that replaces, with functions that throw, builtins realm code
 * could be tempted to use. Each target is `<object expression>|<key>`; a key
 * in brackets is a symbol (`[Symbol.iterator]`). Values a test wants to
 * render later must be made before this runs (making them after would hit
 * the replaced builtins in the test's own code).
 */
export const ALL_TARGETS = [
  '%ArrayIteratorPrototype%|next',
  '%MapIteratorPrototype%|next',
  '%SetIteratorPrototype%|next',
  'Array.prototype|[Symbol.iterator]',
  ...['push', 'pop', 'map', 'filter', 'forEach', 'join', 'slice', 'concat', 'includes', 'indexOf', 'sort'].map(
    (m) => `Array.prototype|${m}`,
  ),
  ...['slice', 'split', 'replace', 'indexOf', 'startsWith', 'trim'].map((m) => `String.prototype|${m}`),
  ...['get', 'set', 'has', 'entries', '[Symbol.iterator]'].map((m) => `Map.prototype|${m}`),
  ...['add', 'has', 'values', '[Symbol.iterator]'].map((m) => `Set.prototype|${m}`),
  'Object|keys',
  'Object|defineProperty',
  'JSON|stringify',
  ...['call', 'apply', 'bind'].map((m) => `Function.prototype|${m}`),
] as const;

const INTRINSICS: Record<string, string> = {
  '%ArrayIteratorPrototype%': 'Object.getPrototypeOf([][Symbol.iterator]())',
  '%MapIteratorPrototype%': 'Object.getPrototypeOf(new Map().entries())',
  '%SetIteratorPrototype%': 'Object.getPrototypeOf(new Set().values())',
};

/** The user code that replaces `targets`; its completion value is `'hijacked'`. */
export function hijackBuiltins(targets: readonly string[] = ALL_TARGETS): string {
  // Every object is resolved before anything is replaced; `Reflect.defineProperty` is left alone.
  const resolved = targets.map((target) => {
    const [object, key] = target.split('|') as [string, string];
    const keyExpr = key.startsWith('[') ? key.slice(1, -1) : JSON.stringify(key);
    return `[${INTRINSICS[object] ?? object}, ${keyExpr}, ${JSON.stringify(target)}]`;
  });
  return `{
  const define = Reflect.defineProperty;
  const targets = [${resolved.join(',\n    ')}];
  for (let i = 0; i < targets.length; i++) {
    const name = targets[i][2];
    define(targets[i][0], targets[i][1], {
      value: function hijacked() { throw new Error('hijacked ' + name); },
      writable: true,
      configurable: true,
    });
  }
}
'hijacked'`;
}
