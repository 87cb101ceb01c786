import vm from 'node:vm';
import { Realm } from '../sandbox/realm';
import { transformInput } from '../sandbox/repl-transform';
import { percentile } from './stats';

const realm = new Realm(
  { shared: undefined, maxTimers: 10, maxLogLine: 1000, inspectDepth: 2 },
  { log() {}, settle() {}, wake() {} },
);
const bare = vm.createContext(Object.create(null), {
  codeGeneration: { strings: false, wasm: false },
  microtaskMode: 'afterEvaluate',
});
const N = 4000;
const plain = new vm.Script('1 + 1');
const tr = transformInput('1 + 1', 7);
console.log('transformed source:', JSON.stringify(tr.source).slice(0, 300));
const wrapped = new vm.Script(tr.source);
function run(name: string, fn: () => void) {
  for (let i = 0; i < 300; i++) fn();
  const t = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    const t0 = performance.now();
    fn();
    t[i] = performance.now() - t0;
  }
  let m = 0;
  for (const x of t) m += x;
  return `${name} p50 ${(percentile(t, 50) * 1000).toFixed(0)} mean ${((m / N) * 1000).toFixed(0)}`;
}
for (let r = 0; r < 3; r++) {
  console.log(
    [
      run('bare 1+1', () => plain.runInContext(bare, { timeout: 5000, displayErrors: false })),
      run('realm 1+1', () => realm.evaluate(plain, 5000, 1)),
      run('realm wrapped', () => realm.evaluate(wrapped, 5000, 1)),
      run('transform', () => transformInput('1 + 1', 7)),
      run('compile uniq', () => new vm.Script(transformInput('1 + 1', r * N * 10 + Math.random() * 1e9).source)),
    ].join(' | '),
  );
}
