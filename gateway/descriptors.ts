import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * File descriptors: every socket is one. The gateway raises its soft limit to
 * the hard one at start, keeps a reserve for health probes, its database
 * pool and the executors' channels, and refuses new sessions with 503 once
 * the rest is in use — rather than failing to accept (EMFILE), which clients
 * and probes see as a reset connection.
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

/**
 * Raises the soft `nofile` limit to the hard one (Node has no setrlimit:
 * util-linux's `prlimit` does it for this process). Returns the limits
 * before and after; `after` equals `before` when nothing could be raised.
 */
export function raiseDescriptorLimit(): { before: DescriptorLimit; after: DescriptorLimit } | undefined {
  const before = descriptorLimit();
  if (!before || before.soft >= before.hard) return before && { before, after: before };
  const hard = Number.isFinite(before.hard) ? String(before.hard) : 'unlimited';
  spawnSync('prlimit', [`--pid=${process.pid}`, `--nofile=${hard}:${hard}`], { stdio: 'ignore', timeout: 5_000 });
  return { before, after: descriptorLimit() ?? before };
}
