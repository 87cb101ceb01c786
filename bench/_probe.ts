import vm from 'node:vm';
import { SessionEngine } from '../sandbox/session-engine';
import { percentile } from './stats';

let last: { stats?: { ms: number; cpuMs: number } } = {};
const e = new SessionEngine({
  emit: (m) => {
    last = m as typeof last;
  },
});
const ctx = vm.createContext(Object.create(null), {
  codeGeneration: { strings: false, wasm: false },
  microtaskMode: 'afterEvaluate',
});
const N = 3000;
let ref = 0;
function engine() {
  const t = new Float64Array(N);
  const inner = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    const t0 = performance.now();
    e.send({ type: 'eval', ref: ++ref, code: '1 + 1' });
    t[i] = performance.now() - t0;
    inner[i] = last.stats?.ms ?? NaN;
  }
  return `engine p50 ${(percentile(t, 50) * 1000).toFixed(0)}us mean ${((t.reduce((a, b) => a + b) / N) * 1000).toFixed(0)}us stats.ms p50 ${(percentile(inner, 50) * 1000).toFixed(0)}us`;
}
function floor() {
  const t = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    const t0 = performance.now();
    new vm.Script('1 + 1').runInContext(ctx, { timeout: 5000 });
    t[i] = performance.now() - t0;
  }
  return `floor p50 ${(percentile(t, 50) * 1000).toFixed(0)}us mean ${((t.reduce((a, b) => a + b) / N) * 1000).toFixed(0)}us`;
}
function floorUnique() {
  const t = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    const t0 = performance.now();
    new vm.Script(`1 + 1 // ${ref++}`).runInContext(ctx, { timeout: 5000 });
    t[i] = performance.now() - t0;
  }
  return `floor(unique src) p50 ${(percentile(t, 50) * 1000).toFixed(0)}us mean ${((t.reduce((a, b) => a + b) / N) * 1000).toFixed(0)}us`;
}
engine();
floor();
for (let r = 0; r < 3; r++) console.log(engine(), '|', floor(), '|', floorUnique());
void e.close('x');
