/**
 * Does a new realm get dearer as more realms are alive?
 *
 *   node --expose-gc -r @swc-node/register bench/realm-growth.ts [--contexts 4000] [--step 1000] [--json]
 *
 * Creates N contexts one after another, all kept alive, and prints the mean
 * ms per creation for each successive block of `step` contexts, for:
 *
 * - `bare`          `vm.createContext` (null prototype, codegen off, afterEvaluate) + `1`;
 * - `ctor-rewrite`  the same + a script assigning `X.prototype.constructor` on the
 *                   eight error prototypes (what a realm bootstrap that wraps the
 *                   error constructors does); plain Node, no vmgate code;
 * - `realm`         a vmgate session realm (`new Realm(...)`).
 *
 * Each configuration runs in its own child process. A flat row is what a
 * session gateway needs; a rising one means realm creation is O(live realms).
 */
import { fork } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import vm from 'node:vm';
import { Realm } from '../sandbox/realm';
import { fmt, intArg, machineLine, parseArgs, sourceFingerprint, table } from './stats';

const CONFIGS = ['bare', 'ctor-rewrite', 'realm'] as const;
type Config = (typeof CONFIGS)[number];

const CTOR_REWRITE = `for (const n of ['Error', 'EvalError', 'RangeError', 'ReferenceError', 'SyntaxError', 'TypeError', 'URIError', 'AggregateError']) {
  globalThis[n].prototype.constructor = function () {};
}
1`;

function runChild(config: Config, n: number, step: number): number[] {
  const options = {
    codeGeneration: { strings: false, wasm: false },
    microtaskMode: 'afterEvaluate',
  } as const;
  const one = new vm.Script('1');
  const rewrite = new vm.Script(CTOR_REWRITE);
  const make: () => unknown =
    config === 'realm'
      ? () =>
          new Realm(
            { shared: undefined, maxTimers: 1000, maxLogLine: 65536, inspectDepth: 2 },
            {
              log() {},
              settle() {},
              wake() {},
            },
          )
      : () => {
          const context = vm.createContext(Object.create(null), options);
          (config === 'bare' ? one : rewrite).runInContext(context);
          return context;
        };
  for (let i = 0; i < 10; i++) make();
  (globalThis as { gc?: () => void }).gc?.();
  const keep: unknown[] = [];
  const blocks: number[] = [];
  let t = performance.now();
  for (let i = 1; i <= n; i++) {
    keep.push(make());
    if (i % step === 0) {
      const now = performance.now();
      blocks.push((now - t) / step);
      t = now;
    }
  }
  return blocks;
}

function spawn(config: Config, n: number, step: number): Promise<number[]> {
  const execArgv = process.execArgv.includes('--expose-gc') ? process.execArgv : [...process.execArgv, '--expose-gc'];
  return new Promise((resolve, reject) => {
    const child = fork(__filename, ['--child', config, '--contexts', String(n), '--step', String(step)], {
      execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let result: number[] | undefined;
    const timer = setTimeout(() => child.kill('SIGKILL'), 10 * 60_000);
    child.on('message', (message) => {
      result = message as number[];
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (result) resolve(result);
      else reject(new Error(`${config} exited (${code}) without a result`));
    });
  });
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const n = intArg(args, 'contexts', 4000);
  const step = intArg(args, 'step', 1000);
  const child = args.get('child');
  if (child !== undefined) {
    process.send?.(runChild(child as Config, n, step));
    return;
  }
  const fingerprint = sourceFingerprint();
  const rows: Array<[Config, number[]]> = [];
  for (const config of CONFIGS) rows.push([config, await spawn(config, n, step)]);
  if (args.has('json')) {
    process.stdout.write(
      `${JSON.stringify({ benchmark: 'realm-growth', machine: machineLine(fingerprint), step, rows: Object.fromEntries(rows) }, null, 2)}\n`,
    );
    return;
  }
  const header = ['config', ...Array.from({ length: Math.floor(n / step) }, (_, i) => `≤${(i + 1) * step} live`)];
  process.stdout.write(`vmgate realm-growth — mean ms per new context, by number of contexts alive\n`);
  process.stdout.write(`${machineLine(fingerprint)}\n\n`);
  process.stdout.write(
    `${table(
      header,
      rows.map(([config, blocks]) => [config, ...blocks.map((ms) => fmt(ms, 2))]),
    )}\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
