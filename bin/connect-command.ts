import { Command, InvalidArgumentError, Option } from 'commander';
import { colorEnabled, historyFile, runInteractive, runOnce, type TerminalClientOptions } from '../clients/terminal';

/** `vmgate connect <url>`: the terminal client (clients/terminal/, docs/clients.md). */
export function connectCommand(): Command {
  return new Command('connect')
    .description('an interactive console for a vmgate session (JSON mode, resumes after a dropped connection)')
    .argument('<url>', 'gateway URL, e.g. ws://127.0.0.1:8080')
    .addOption(new Option('--token <token>', 'bearer token sent as Authorization: Bearer').env('VMGATE_TOKEN'))
    .addOption(new Option('--history <file>', 'history file (default ~/.vmgate_history)').env('VMGATE_HISTORY'))
    .option('--no-history', 'keep no history file')
    .option('--color', 'color the output even when stdout is not a terminal')
    .option('--no-color', 'no colors (so does a non-empty NO_COLOR)')
    .option('-e, --eval <code>', 'evaluate one input, print its result and exit (0, or 1 on an error)')
    .option('--timeout-ms <n>', 'time budget asked for each eval (the server clamps it)', (value: string) => {
      const n = Number(value);
      if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('--timeout-ms must be a positive number');
      return n;
    })
    .action(async (url: string, flags: ConnectFlags) => {
      let target: URL;
      try {
        target = new URL(/^[a-z]+:\/\//i.test(url) ? url : `ws://${url}`);
      } catch {
        throw new Error(`not a URL: ${url}`);
      }
      if (target.protocol === 'http:') target.protocol = 'ws:';
      if (target.protocol === 'https:') target.protocol = 'wss:';
      if (target.protocol !== 'ws:' && target.protocol !== 'wss:') {
        throw new Error(`the URL must start with ws:// or wss:// (got ${target.protocol}//)`);
      }
      const options: TerminalClientOptions = {
        url: target.toString(),
        token: flags.token,
        historyFile: historyFile(flags.history, {}),
        color: colorEnabled(flags.color, process.env, Boolean(process.stdout.isTTY)),
        timeoutMs: flags.timeoutMs,
        input: process.stdin,
        output: process.stdout,
        errorOutput: process.stderr,
      };
      const code = flags.eval !== undefined ? await runOnce(options, flags.eval) : await runInteractive(options);
      await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
      process.exit(code);
    });
}

interface ConnectFlags {
  token?: string;
  /** A path, or false with --no-history; commander reads VMGATE_HISTORY into it. */
  history?: string | false;
  /** undefined when neither --color nor --no-color was given (--color is defined first). */
  color?: boolean;
  eval?: string;
  timeoutMs?: number;
}
