import { Command } from 'commander';

/** `vmgate connect <url>`: the terminal client (clients/terminal/). */
export function connectCommand(): Command {
  return new Command('connect')
    .description('an interactive console for a vmgate session')
    .argument('<url>', 'gateway URL, e.g. ws://127.0.0.1:8080')
    .action(() => {
      throw new Error('vmgate connect is not built yet');
    });
}
