import { Command } from 'commander';

/** `vmgate bench <url>`: the load tool (clients/load/). */
export function benchCommand(): Command {
  return new Command('bench')
    .description('load-test a vmgate gateway')
    .argument('<url>', 'gateway URL, e.g. ws://127.0.0.1:8080')
    .action(() => {
      throw new Error('vmgate bench is not built yet');
    });
}
