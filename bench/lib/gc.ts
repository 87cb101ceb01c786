/** Garbage collection for memory readings: needs `--expose-gc` (the benchmarks pass it to the children that measure). */

export function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (!collect) throw new Error('run with --expose-gc');
  collect();
}

/** Three full collections, a turn of the event loop apart (finalizers and weak callbacks run in between). */
export async function settleGc(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
}
