import { Command, InvalidArgumentError, Option } from 'commander';

/**
 * Command-line options of the benchmarks (commander): every benchmark gets
 * `--help`, `--json`, and the hidden `--role` its child processes run with.
 * Options that `--quick` changes have no commander default; the benchmark
 * resolves them with `quick ? a : b`.
 */

/** A parser for an integer option ≥ `min`. */
export function int(min = 1): (raw: string) => number {
  return (raw) => {
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min) throw new InvalidArgumentError(`must be an integer ≥ ${min}`);
    return value;
  };
}

/** A parser for a comma-separated list whose items must be among `allowed`. */
export function listOf<T extends string>(allowed: readonly T[]): (raw: string) => T[] {
  return (raw) => {
    const items = raw.split(',').filter(Boolean);
    for (const item of items) {
      if (!(allowed as readonly string[]).includes(item)) {
        throw new InvalidArgumentError(`unknown ${JSON.stringify(item)} (one of ${allowed.join(', ')})`);
      }
    }
    return items as T[];
  };
}

/** A parser for a comma-separated list of integers ≥ `min`. */
export function ints(min = 1): (raw: string) => number[] {
  const one = int(min);
  return (raw) => raw.split(',').filter(Boolean).map(one);
}

/** The command of `npm run bench:<name>`. */
export function benchCommand(name: string, description: string): Command {
  return new Command(`bench:${name}`)
    .description(description)
    .option('--json', 'print the results as JSON')
    .addOption(new Option('--role <role>', 'internal: the role of a child process').hideHelp())
    .allowExcessArguments(false);
}

/** Parses the process's arguments with `command`; exits with a usage message on a bad one. */
export function parseOptions<T>(
  command: Command,
  argv: readonly string[] = process.argv,
): T & { json?: boolean; role?: string } {
  command.parse([...argv]);
  return command.opts<T & { json?: boolean; role?: string }>();
}
