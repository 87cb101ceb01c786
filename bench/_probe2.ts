import vm from 'node:vm';
import { SessionEngine } from '../sandbox/session-engine';
import { mean, percentile } from './stats';

const orig = vm.Script.prototype.runInContext;
const rt: number[] = [];
vm.Script.prototype.runInContext = function (this: vm.Script, c: vm.Context, o?: vm.RunningScriptOptions) {
  const t0 = performance.now();
  try {
    return orig.call(this, c, o);
  } finally {
    rt.push(performance.now() - t0);
  }
} as typeof orig;
const e = new SessionEngine({ emit: () => {} });
const ctx = vm.createContext(Object.create(null), {
  codeGeneration: { strings: false, wasm: false },
  microtaskMode: 'afterEvaluate',
});
const N = 3000;
let ref = 0;
const show = (name: string, total: number) => {
  console.log(
    name,
    'total/eval',
    ((total / N) * 1000).toFixed(0),
    'us; runInContext p50',
    (percentile(rt, 50) * 1000).toFixed(0),
    'p90',
    (percentile(rt, 90) * 1000).toFixed(0),
    'p99',
    (percentile(rt, 99) * 1000).toFixed(0),
    'mean',
    (mean(rt) * 1000).toFixed(0),
  );
  rt.length = 0;
};
for (let r = 0; r < 3; r++) {
  let t0 = performance.now();
  for (let i = 0; i < N; i++) e.send({ type: 'eval', ref: ++ref, code: '1 + 1' });
  show('engine', performance.now() - t0);
  t0 = performance.now();
  for (let i = 0; i < N; i++) new vm.Script('1 + 1').runInContext(ctx, { timeout: 5000 });
  show('floor ', performance.now() - t0);
  t0 = performance.now();
  const s = new vm.Script('1 + 1');
  for (let i = 0; i < N; i++) s.runInContext(ctx);
  show('untimed', performance.now() - t0);
}
void e.close('x');
