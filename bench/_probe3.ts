import vm from 'node:vm';
import { SessionEngine } from '../sandbox/session-engine';
import { mean, percentile } from './stats';

const orig = vm.Script.prototype.runInContext;
const rt: number[] = [];
let strip = false;
vm.Script.prototype.runInContext = function (this: vm.Script, c: vm.Context, o?: vm.RunningScriptOptions) {
  const t0 = performance.now();
  try {
    return orig.call(this, c, strip && o ? { ...o, timeout: undefined } : o);
  } finally {
    rt.push(performance.now() - t0);
  }
} as typeof orig;
const e = new SessionEngine({ emit: () => {} });
const N = 5000;
let ref = 0;
const show = (name: string, total: number) => {
  console.log(
    name,
    'total/eval',
    ((total / N) * 1000).toFixed(1),
    'us; runInContext p50',
    (percentile(rt, 50) * 1000).toFixed(1),
    'mean',
    (mean(rt) * 1000).toFixed(1),
  );
  rt.length = 0;
};
for (let r = 0; r < 3; r++) {
  strip = true;
  let t0 = performance.now();
  for (let i = 0; i < N; i++) e.send({ type: 'eval', ref: ++ref, code: '1 + 1' });
  show('engine, timeout stripped', performance.now() - t0);
  strip = false;
  t0 = performance.now();
  for (let i = 0; i < N; i++) e.send({ type: 'eval', ref: ++ref, code: '1 + 1' });
  show('engine, timed          ', performance.now() - t0);
}
void e.close('x');
