// What realm code may find in a realm that the TypeScript libraries (ES2023) do not declare.

declare var Float16Array: Float32ArrayConstructor | undefined;

interface Object {
  __lookupGetter__(key: PropertyKey): ((this: unknown) => unknown) | undefined;
  __lookupSetter__(key: PropertyKey): ((this: unknown, value: unknown) => void) | undefined;
}

// Descriptor literals start with `__proto__: null`, so an inherited `get` or `value` cannot change them.
interface PropertyDescriptor {
  __proto__?: null;
}
