#!/usr/bin/env node
import { Command } from 'commander';
import { StartError } from '../common/start-error';
import { VERSION } from '../gateway/version';
import { benchCommand } from './bench-command';
import { connectCommand } from './connect-command';
import { serveCommand } from './serve-command';

/** The `vmgate` command: `serve` (the default), and the clients. */
export function buildProgram(): Command {
  const program = new Command('vmgate')
    .description('WebSocket session gateway: one JavaScript realm per connection')
    .version(VERSION)
    // One clear line on stderr for a bad flag, like every other startup error.
    .configureOutput({
      outputError: (message, write) => write(`vmgate: ${message.replace(/^error: /, '').trim()}\n`),
    });
  const commands: Array<[Command, boolean]> = [
    [serveCommand(), true],
    [connectCommand(), false],
    [benchCommand(), false],
  ];
  for (const [command, isDefault] of commands) {
    command.copyInheritedSettings(program);
    program.addCommand(command, { isDefault });
  }
  return program;
}

if (require.main === module) {
  buildProgram()
    .parseAsync(process.argv)
    .catch((error: Error & { code?: unknown }) => {
      // A refusal to start names its stable code (docs/operations.md), for scripts.
      const code = error instanceof StartError ? ` [${error.code}]` : '';
      process.stderr.write(`vmgate: ${error.message}${code}\n`);
      process.exit(1);
    });
}
