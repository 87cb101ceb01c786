import { readFileSync } from 'node:fs';

/**
 * File descriptors: every socket is one. Node raises the soft `nofile` limit
 * to the hard one as it starts; the gateway logs the limit, keeps a reserve
 * for health probes, its database pool and the executors' channels, and
 * refuses new sessions with 503 once the rest is in use — rather than
 * failing to accept (EMFILE), which clients and probes see as a reset.
 */

export interface DescriptorLimit {
  readonly soft: number;
  readonly hard: number;
}

/** This process's `nofile` limit (Linux: /proc/self/limits); undefined where it cannot be read. */
export function descriptorLimit(): DescriptorLimit | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const [soft, hard] = (line?.match(/\d+|unlimited/g) ?? []).map((v) => (v === 'unlimited' ? Infinity : Number(v)));
    return soft !== undefined && hard !== undefined ? { soft, hard } : undefined;
  } catch {
    return undefined;
  }
}
