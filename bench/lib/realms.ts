import vm from 'node:vm';
import { Realm } from '../../sandbox/realm';
import { SessionEngine } from '../../sandbox/session-engine';

/** What bench:sessions and realm-growth create: the floor, a realm, an engine after its first eval. */

/** The floor of a realm per session (docs/design.md §6): a bare null-prototype context, codegen off, `afterEvaluate`. */
export function floorContext(): vm.Context {
  return vm.createContext(Object.create(null), {
    codeGeneration: { strings: false, wasm: false },
    microtaskMode: 'afterEvaluate',
  });
}

/** The small shared state of the benchmarks that do not measure its size. */
export const TINY_SHARED_STATE = JSON.stringify({
  currencies: { EUR: 1, USD: 1.08 },
  greeting: 'hello',
  limits: [1, 2, 3],
});

/** A session realm, never entered. */
export const newRealm = (shared: unknown) =>
  new Realm({ shared, maxTimers: 1000, maxLogLine: 64 * 1024, inspectDepth: 2 }, { log() {}, settle() {}, wake() {} });

/** A SessionEngine after its first eval `1 + 1`; entries run in its next batch, so this resolves on the reply. */
export const engineAfterFirstEval = (shared?: unknown) =>
  new Promise<SessionEngine>((resolve, reject) => {
    let settled = false;
    const engine: SessionEngine = new SessionEngine({
      shared,
      emit: (message) => {
        const reply = message as { type?: string; value?: string };
        if (settled || reply.type === 'log') return;
        settled = true;
        if (reply.type === 'result' && reply.value === '2') resolve(engine);
        else reject(new Error(`first eval did not answer 2: ${JSON.stringify(reply)}`));
      },
    });
    engine.send({ type: 'eval', ref: 1, code: '1 + 1' });
  });
