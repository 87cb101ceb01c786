import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The directory of vmgate's package.json above `start`: the same whether the
 * code runs from TypeScript sources or from `dist/`, so files beside the code
 * (realm sources, the web console, `.vmgate/`) are found from either.
 */
export function findPackageRoot(start: string): string {
  let dir = start;
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (pkg.name === 'vmgate') return dir;
    } catch {
      // keep walking up
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`vmgate package root not found above ${start}`);
    dir = parent;
  }
}
