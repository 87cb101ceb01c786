import { Command, InvalidArgumentError, Option } from 'commander';
import {
  formatProgress,
  formatSummary,
  type LoadOptions,
  type LoadProgress,
  type LoadScript,
  loadScriptFile,
  normalizeUrl,
  parseThreshold,
  runLoad,
} from '../clients/load';

/**
 * `vmgate bench <url>`: the load tool (clients/load/, docs/clients.md "Load
 * tool"). The summary goes to stdout (`--json`: only the JSON), progress to
 * stderr. Exit code 0 when it ran and every `--threshold` held; 99 when a
 * threshold was crossed (k6's convention); 1 when no session could be opened
 * (the gateway was unreachable or refused every one), the setup failed in
 * every session, every measured eval failed, or a flag or the script file is
 * bad.
 */

/** Exit code of a run whose thresholds were crossed (as k6). */
export const THRESHOLDS_CROSSED = 99;

const DEFAULT_CODE = '1 + 1';

interface BenchFlags {
  sessions: number;
  rate?: number;
  duration: number;
  warmup: number;
  code?: string;
  setup?: string;
  file?: string;
  token?: string;
  timeoutMs?: number;
  maxEvals?: number;
  openTimeoutMs: number;
  json?: boolean;
  quiet?: boolean;
  threshold: string[];
}

const positiveInt = (flag: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${flag} must be a positive integer`);
  return n;
};

const seconds = (flag: string, allowZero: boolean) => (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0) || n > 1_000_000) {
    throw new InvalidArgumentError(`${flag} must be a ${allowZero ? 'non-negative' : 'positive'} number of seconds`);
  }
  return n;
};

const threshold = (value: string, previous: string[]) => {
  try {
    parseThreshold(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
  return [...previous, value];
};

const positiveNumber = (flag: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${flag} must be a positive number`);
  return n;
};

export function benchCommand(): Command {
  return new Command('bench')
    .description('load-test a vmgate gateway: concurrent sessions, each running evals in a closed loop')
    .argument('<url>', 'gateway URL, e.g. ws://127.0.0.1:8080')
    .addOption(new Option('-s, --sessions <n>', 'concurrent sessions').default(10).argParser(positiveInt('--sessions')))
    .addOption(
      new Option('-r, --rate <n>', 'sessions opened per second (ramp-up; default: all at once)').argParser(
        positiveNumber('--rate'),
      ),
    )
    .addOption(
      new Option('-d, --duration <s>', 'seconds measured (after the warm-up)')
        .default(10)
        .argParser(seconds('--duration', false)),
    )
    .addOption(
      new Option('--warmup <s>', 'seconds run before measuring').default(0).argParser(seconds('--warmup', true)),
    )
    .option('-c, --code <js>', `code of each eval (default: ${JSON.stringify(DEFAULT_CODE)})`)
    .option('--setup <js>', 'code each session runs once before its evals (with --code)')
    .option(
      '-f, --file <path>',
      'script file: session code, with "// --- eval ---" lines after the setup; or a .mjs/.cjs module exporting { setup, code, check }',
    )
    .addOption(new Option('--token <token>', 'bearer token').env('VMGATE_TOKEN'))
    .addOption(
      new Option('--timeout-ms <ms>', "each eval's budget (default: the gateway's)").argParser(
        positiveInt('--timeout-ms'),
      ),
    )
    .addOption(
      new Option('--max-evals <n>', 'stop after this many measured evals').argParser(positiveInt('--max-evals')),
    )
    .addOption(
      new Option('--open-timeout-ms <ms>', 'limit from connect to hello')
        .default(10_000)
        .argParser(positiveInt('--open-timeout-ms')),
    )
    .addOption(
      new Option(
        '-t, --threshold <expr>',
        'pass/fail criterion, repeatable: p95<50, p(99)<=200, avg<10, errors<1%, errors==0, throughput>1000, open_p95<100; exit 99 when one is crossed',
      )
        .default([], 'none')
        .argParser(threshold),
    )
    .option('--json', 'print the summary as JSON on stdout (and nothing else there)')
    .option('-q, --quiet', 'no progress on stderr')
    .action(async (url: string, flags: BenchFlags) => {
      process.exitCode = await bench(url, flags);
    });
}

async function bench(rawUrl: string, flags: BenchFlags): Promise<number> {
  const url = normalizeUrl(rawUrl);
  if (flags.file !== undefined && (flags.code !== undefined || flags.setup !== undefined)) {
    throw new Error('--file cannot be combined with --code or --setup');
  }
  let script: LoadScript;
  if (flags.file !== undefined) script = await loadScriptFile(flags.file);
  else script = { code: flags.code ?? DEFAULT_CODE, ...(flags.setup !== undefined ? { setup: flags.setup } : {}) };

  const stderr = process.stderr;
  const tty = stderr.isTTY === true;
  let progressShown = false;
  const onProgress = flags.quiet
    ? undefined
    : (progress: LoadProgress) => {
        if (tty) {
          stderr.write(`\r\x1b[2K${formatProgress(progress)}`);
          progressShown = true;
        } else if (progress.phase !== 'drain') {
          stderr.write(`${formatProgress(progress)}\n`);
        }
      };

  // Ctrl-C once: stop, drain and print the summary of what ran; twice: leave at once.
  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    if (++interrupts > 1) process.exit(130);
    stderr.write(`${progressShown ? '\n' : ''}vmgate: stopping (Ctrl-C again to quit at once)\n`);
    progressShown = false;
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  const options: LoadOptions = {
    url,
    ...script,
    sessions: flags.sessions,
    rate: flags.rate,
    durationS: flags.duration,
    warmupS: flags.warmup,
    timeoutMs: flags.timeoutMs,
    maxEvals: flags.maxEvals,
    token: flags.token,
    openTimeoutMs: flags.openTimeoutMs,
    // On a terminal the line is redrawn often; in a log, one line every 5 s.
    progressIntervalMs: tty ? 250 : 5_000,
    signal: controller.signal,
    thresholds: flags.threshold,
  };
  let summary: Awaited<ReturnType<typeof runLoad>>;
  try {
    summary = await runLoad(options, { onProgress });
  } finally {
    process.off('SIGINT', onSigint);
    if (tty && progressShown) stderr.write('\r\x1b[2K');
  }
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    if (summary.problem) stderr.write(`vmgate: ${summary.problem}\n`);
  } else {
    process.stdout.write(`${formatSummary(summary)}\n`);
  }
  if (summary.problem) return 1;
  return summary.passed ? 0 : THRESHOLDS_CROSSED;
}
