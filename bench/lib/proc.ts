import { readdirSync, readFileSync } from 'node:fs';

/**
 * A process and its children as Linux's /proc shows them: CPU time and
 * resident memory, for benchmarks that measure a gateway together with its
 * executor processes.
 */

/** CPU time (user + system, ms) and resident memory (bytes) of a process, from /proc/<pid>/stat. */
export function procStat(pid: number): { ppid: number; cpuMs: number; rss: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start at ") ".
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const tick = 10; // USER_HZ = 100
    return {
      ppid: Number(fields[1]),
      cpuMs: (Number(fields[11]) + Number(fields[12])) * tick,
      rss: Number(fields[21]) * 4096,
    };
  } catch {
    return undefined;
  }
}

/** Child processes of `pid` (a gateway's executors), found by scanning /proc. */
export function childPids(pid: number): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = procStat(Number(name));
    if (stat?.ppid === pid) pids.push(Number(name));
  }
  return pids;
}

/** RSS and CPU time of `pid` plus its direct children (bytes, ms). */
export function processTree(pid: number): { rss: number; cpuMs: number; children: number } {
  const own = procStat(pid);
  let rss = own?.rss ?? 0;
  let cpuMs = own?.cpuMs ?? 0;
  const pids = childPids(pid);
  for (const child of pids) {
    const stat = procStat(child);
    rss += stat?.rss ?? 0;
    cpuMs += stat?.cpuMs ?? 0;
  }
  return { rss, cpuMs, children: pids.length };
}
