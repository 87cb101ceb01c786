import vm from 'node:vm';
import { rejectedOutput, type TransformedInput, transformInput } from './repl-transform';

/**
 * Console inputs compiled once per process. The REPL transform and V8's
 * compile of its output depend on the text alone, and people and load tests
 * alike send the same text again and again; a `vm.Script` is not tied to a
 * context, so every session runs the same compiled input (and shares its
 * bytecode). Inputs that fail to parse are not kept.
 */
export interface CompiledInput extends TransformedInput {
  /** The script's filename is `vmgate:input:<id>`: how stack frames find their input. */
  readonly id: number;
  readonly script: vm.Script;
}

const MAX_ENTRIES = 1000;
const MAX_CACHED_LENGTH = 16 * 1024;
const cache = new Map<string, CompiledInput>();
let nextId = 0;

export const INPUT_FILENAME = /^vmgate:input:(\d+)$/;

/** Throws a VmgateError (SYNTAX_ERROR; INTERNAL for a transform bug) for input that does not compile. */
export function compileInput(code: string): CompiledInput {
  const hit = cache.get(code);
  if (hit) {
    // Most recently used last: the first key is the one to evict.
    cache.delete(code);
    cache.set(code, hit);
    return hit;
  }
  const transformed = transformInput(code);
  const id = ++nextId;
  let script: vm.Script;
  try {
    script = new vm.Script(transformed.source, { filename: `vmgate:input:${id}` });
  } catch {
    throw rejectedOutput(code);
  }
  const compiled: CompiledInput = { ...transformed, id, script };
  if (code.length <= MAX_CACHED_LENGTH) {
    cache.set(code, compiled);
    if (cache.size > MAX_ENTRIES) cache.delete(cache.keys().next().value as string);
  }
  return compiled;
}
