/**
 * Does a new realm get dearer as more realms are alive? Mean ms per creation
 * for each block of `--step` contexts, all kept alive, each configuration in a
 * child process. Configurations and what they showed: docs/benchmarks.md, finding 1.
 */
import { performance } from 'node:perf_hooks';
import vm from 'node:vm';
import { benchCommand, int, listOf, parseOptions } from './lib/args';
import { engineAfterFirstEval, floorContext, newRealm } from './lib/realms';
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
  if (config === 'realm') return () => newRealm(undefined);
  if (config === 'realm-entered') return () => engineAfterFirstEval();
  const script = new vm.Script(SCRIPTS[config]);
  return () => {
    const context = floorContext();
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
