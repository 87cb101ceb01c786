/**
 * Does a new realm get dearer as more realms are alive?
 *
 *   node --expose-gc -r @swc-node/register bench/realm-growth.ts [--contexts 4000] [--step 1000]
 *                                                                [--configs bare,realm,...] [--json]
 *
 * Creates N contexts one after another, all kept alive, and prints the mean
 * ms per creation for each successive block of `step` contexts. Each
 * configuration runs in its own child process. A flat row is what a session
 * gateway needs; a rising one means creation is O(live contexts).
 *
 * Plain Node, no vmgate code: `vm.createContext` (null prototype, codegen off,
 * afterEvaluate) followed by one small script, which is
 *
 * - `bare`            `1`;
 * - `ctor-rewrite`    `X.prototype.constructor = f` on the eight error prototypes
 *                     (what the realm bootstrap used to do at creation, and does
 *                     on the first entry now);
 * - `ctor-define`     the same with `Object.defineProperty`;
 * - `ctor-delete`     `delete X.prototype.constructor` on the same eight;
 * - `ctor-any-proto`  `constructor` written on eight fresh objects that are
 *                     already some object's prototype (not builtins);
 * - `ctor-not-proto`  `constructor` written on eight fresh objects not used as
 *                     prototypes (yet);
 * - `other-name`      a property of another name (`tag`) defined on the eight
 *                     error prototypes;
 * - `iterator`        `Symbol.iterator` written on eight plain objects.
 *
 * vmgate:
 *
 * - `realm`           a session realm (`new Realm(...)`), never entered;
 * - `realm-entered`   a SessionEngine after its first eval `1 + 1` (the realm's
 *                     first entry runs the deferred `constructor` writes).
 *
 * What it shows on Node 20 (V8 11.3): writing (or deleting) a property named
 * `constructor` on any object that is a prototype, and writing
 * `Symbol.iterator` on an ordinary object, each walk the isolate's list of
 * native contexts (V8's protector bookkeeping, `Isolate::IsInAnyContext`), so
 * they cost O(live contexts); other names, and objects that are not
 * prototypes, do not.
 */
import { performance } from 'node:perf_hooks';
import vm from 'node:vm';
import { Realm } from '../sandbox/realm';
import { SessionEngine } from '../sandbox/session-engine';
import { benchCommand, int, listOf, parseOptions } from './lib/args';
import { fmt, machineLine, printJson, sourceFingerprint, table } from './lib/report';
import { runInChild, runMain, serveRpc } from './lib/rpc';

const ERROR_NAMES = `['Error', 'EvalError', 'RangeError', 'ReferenceError', 'SyntaxError', 'TypeError', 'URIError', 'AggregateError']`;

const SCRIPTS = {
  bare: '1',
  'ctor-rewrite': `for (const n of ${ERROR_NAMES}) globalThis[n].prototype.constructor = function () {}; 1`,
  'ctor-define': `for (const n of ${ERROR_NAMES}) {
    Object.defineProperty(globalThis[n].prototype, 'constructor', { value: function () {}, writable: true, configurable: true });
  }
  1`,
  'ctor-delete': `for (const n of ${ERROR_NAMES}) delete globalThis[n].prototype.constructor; 1`,
  'ctor-any-proto': `for (let i = 0; i < 8; i++) { const p = { i }; Object.create(p); p.constructor = function () {}; } 1`,
  'ctor-not-proto': `for (let i = 0; i < 8; i++) { const p = { i }; p.constructor = function () {}; } 1`,
  'other-name': `for (const n of ${ERROR_NAMES}) {
    Object.defineProperty(globalThis[n].prototype, 'tag', { value: function () {}, writable: true, configurable: true });
  }
  1`,
  iterator: `for (let i = 0; i < 8; i++) { const o = { i }; o[Symbol.iterator] = function () {}; } 1`,
} as const;

const CONFIGS = [...(Object.keys(SCRIPTS) as (keyof typeof SCRIPTS)[]), 'realm', 'realm-entered'] as const;
type Config = (typeof CONFIGS)[number];

function maker(config: Config): () => unknown {
  if (config === 'realm') {
    return () =>
      new Realm(
        { shared: undefined, maxTimers: 1000, maxLogLine: 65536, inspectDepth: 2 },
        { log() {}, settle() {}, wake() {} },
      );
  }
  if (config === 'realm-entered') {
    // Entries run in the engine's next batch: resolved on the eval's reply.
    return () =>
      new Promise((resolve, reject) => {
        const engine: SessionEngine = new SessionEngine({
          emit: (message) => {
            const reply = message as { type?: string; value?: string };
            if (reply.type === 'result' && reply.value === '2') resolve(engine);
            else if (reply.type !== 'log') reject(new Error(`first eval did not answer 2: ${JSON.stringify(reply)}`));
          },
        });
        engine.send({ type: 'eval', ref: 1, code: '1 + 1' });
      });
  }
  const options = {
    codeGeneration: { strings: false, wasm: false },
    microtaskMode: 'afterEvaluate',
  } as const;
  const script = new vm.Script(SCRIPTS[config]);
  return () => {
    const context = vm.createContext(Object.create(null), options);
    script.runInContext(context);
    return context;
  };
}

async function runChild(config: Config, n: number, step: number): Promise<number[]> {
  const make = maker(config);
  for (let i = 0; i < 10; i++) await make();
  (globalThis as { gc?: () => void }).gc?.();
  const keep: unknown[] = [];
  const blocks: number[] = [];
  let t = performance.now();
  for (let i = 1; i <= n; i++) {
    const made = make();
    keep.push(made instanceof Promise ? await made : made);
    if (i % step === 0) {
      const now = performance.now();
      blocks.push((now - t) / step);
      t = now;
    }
  }
  return blocks;
}

const options = parseOptions<{ contexts: number; step: number; configs: Config[] }>(
  benchCommand('realm-growth', 'ms per new realm as the number of live realms grows')
    .option('--contexts <n>', 'contexts created (and kept) per configuration', int(), 4000)
    .option('--step <n>', 'one column per this many contexts', int(), 1000)
    .option('--configs <list>', `among ${CONFIGS.join(',')}`, listOf(CONFIGS), [...CONFIGS]),
);

async function main(): Promise<void> {
  const { contexts: n, step, configs } = options;
  const fingerprint = sourceFingerprint();
  const rows: Array<[Config, number[]]> = [];
  for (const config of configs) rows.push([config, await runInChild<number[]>(__filename, { config, n, step })]);
  if (options.json) {
    printJson({ benchmark: 'realm-growth', machine: machineLine(fingerprint), step, rows: Object.fromEntries(rows) });
    return;
  }
  const header = [
    'config',
    ...Array.from({ length: Math.floor(n / step) }, (_, i) => `≤${(i + 1) * step} live`),
    'last / first',
  ];
  process.stdout.write(`vmgate realm-growth — mean ms per new context, by number of contexts alive\n`);
  process.stdout.write(`${machineLine(fingerprint)}\n\n`);
  process.stdout.write(
    `${table(
      header,
      rows.map(([config, blocks]) => [
        config,
        ...blocks.map((ms) => fmt(ms, 2)),
        `${fmt((blocks.at(-1) ?? 0) / (blocks[0] ?? 1), 1)}×`,
      ]),
    )}\n`,
  );
}

if (options.role === 'child') {
  serveRpc({ run: (a) => runChild(a.config as Config, a.n as number, a.step as number) });
} else runMain(main);
