import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Small helpers shared by the benchmarks: percentiles, medians, number
 * formatting and plain-text tables. No dependencies.
 */

/** The p-th percentile (0..100) of `values`, nearest-rank on a sorted copy. NaN when empty. */
export function percentile(values: ArrayLike<number>, p: number): number {
  const n = values.length;
  if (n === 0) return Number.NaN;
  const sorted = Float64Array.from(values as ArrayLike<number>).sort();
  const rank = Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1));
  return sorted[rank] as number;
}

export function median(values: ArrayLike<number>): number {
  return percentile(values, 50);
}

export function mean(values: ArrayLike<number>): number {
  if (values.length === 0) return Number.NaN;
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i] as number;
  return sum / values.length;
}

/** Fixed decimals, or '—' for a missing value. */
export function fmt(value: number | undefined, digits = 2): string {
  if (value === undefined || !Number.isFinite(value)) return '—';
  return value.toFixed(digits);
}

/** An integer with thousands separators (`47 312`), or '—'. */
export function fmtInt(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '—';
  return Math.round(value)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ' ');
}

/** A ratio such as `0.83×`, or '—'. */
export function fmtRatio(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? '—' : `${value.toFixed(2)}×`;
}

/** Renders rows as an aligned plain-text table (first column left-aligned, the rest right-aligned). */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Parses `--name value` / `--flag` arguments into a map (values stay strings). */
export function parseArgs(argv: readonly string[]): Map<string, string> {
  const args = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--')) continue;
    const eq = arg.indexOf('=');
    if (eq > 0) {
      args.set(arg.slice(2, eq), arg.slice(eq + 1));
      continue;
    }
    const next = argv[i + 1];
    if (next !== undefined && !next.startsWith('--')) {
      args.set(arg.slice(2), next);
      i++;
    } else {
      args.set(arg.slice(2), 'true');
    }
  }
  return args;
}

/** A positive integer argument, or `fallback`; exits on a bad value. */
export function intArg(args: Map<string, string>, name: string, fallback: number, min = 1): number {
  const raw = args.get(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    process.stderr.write(`--${name} must be an integer ≥ ${min}, got ${JSON.stringify(raw)}\n`);
    process.exit(2);
  }
  return value;
}

/** A one-line description of the machine for result headers. */
export function machineLine(fingerprintAtStart?: string): string {
  const now = sourceFingerprint();
  const sources =
    fingerprintAtStart === undefined || fingerprintAtStart === now
      ? now
      : `${fingerprintAtStart}→${now} (CHANGED during the run)`;
  const cpus = os.cpus();
  return `${new Date().toISOString()} · sources ${sources} · Node ${process.version} · ${cpus.length} cores (${cpus[0]?.model.trim() ?? '?'}) · ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB · ${os.platform()} ${os.release()}`;
}

/**
 * A short hash of the product sources (gateway, sandbox, shared-state,
 * protocol, executors, db), so a result can be matched to the code it measured even before
 * anything is committed.
 */
export function sourceFingerprint(): string {
  const root = path.resolve(__dirname, '..');
  const hash = createHash('sha256');
  const walk = (dir: string) => {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      return;
    }
    for (const name of names) {
      const file = path.join(dir, name);
      if (statSync(file).isDirectory()) walk(file);
      else if (/\.(ts|js|mjs)$/.test(name)) hash.update(path.relative(root, file)).update(readFileSync(file));
    }
  };
  for (const dir of ['common', 'gateway', 'sandbox', 'shared-state', 'protocol', 'executors', 'db'])
    walk(path.join(root, dir));
  return hash.digest('hex').slice(0, 12);
}

/** Machine-wide CPU time from /proc/stat (Linux): busy and total, in ms summed over all cores. */
export function systemCpu(): { busyMs: number; totalMs: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    const fields = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal guest guest_nice (guest* are inside user/nice)
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = fields;
    const tick = 10; // USER_HZ = 100 on Linux
    const busy = user + nice + system + irq + softirq + steal;
    return { busyMs: busy * tick, totalMs: (busy + idle + iowait) * tick };
  } catch {
    return undefined;
  }
}

/**
 * CPU used on the machine by processes other than ours over a window, in % of
 * one core: machine busy time − our processes' CPU time, over the wall time.
 * A few % is the machine's own background; tens of % mean someone else was
 * running and the figures of that window are suspect.
 */
export function otherCpuPct(
  before: { busyMs: number } | undefined,
  after: { busyMs: number } | undefined,
  ourCpuMs: number,
  wallMs: number,
): number {
  if (!before || !after || wallMs <= 0) return Number.NaN;
  return Math.max(0, ((after.busyMs - before.busyMs - ourCpuMs) / wallMs) * 100);
}
