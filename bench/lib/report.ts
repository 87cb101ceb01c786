import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Reports of the benchmarks: number formatting, plain-text tables, the machine line, result files. */

const ROOT = path.resolve(__dirname, '..', '..');
export const RESULTS_DIR = path.join(ROOT, 'bench', 'results');

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

/** A column of a report table: its header, and the cell of a row. */
export type Column<R> = readonly [header: string, cell: (row: R) => string];

/** Renders `rows` as a table of `cols` (bench:db and bench:gateway feed every table they print through this). */
export function columns<R>(cols: readonly Column<R>[], rows: readonly R[]): string {
  return table(
    cols.map(([header]) => header),
    rows.map((row) => cols.map(([, cell]) => cell(row))),
  );
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
  const root = ROOT;
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

/** A file name in bench/results/ (created), stamped with the current time: `<prefix>-<time><suffix>`. */
export function resultFile(prefix: string, suffix: string): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  return path.join(RESULTS_DIR, `${prefix}-${new Date().toISOString().replace(/[:.]/g, '-')}${suffix}`);
}

/** Prints `value` as indented JSON on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Writes `value` as JSON into `file`. */
export function writeJson(file: string, value: unknown): void {
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}
