import type { LatencySummary } from './histogram';
import type { LoadProgress, LoadSummary } from './summary';

/** Plain-text renderings of a load run's progress and summary (no colors: they go to logs as often as to terminals). */

function num(value: number | null | undefined, digits = 2): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return value.toFixed(digits);
}

/** An integer with thousands separators (`47 312`). */
function int(value: number): string {
  return Math.round(value)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ' ');
}

function latency(summary: LatencySummary): string {
  if (summary.count === 0) return '—';
  return `p50 ${num(summary.p50)} · p90 ${num(summary.p90)} · p95 ${num(summary.p95)} · p99 ${num(summary.p99)} · max ${num(summary.max)} ms`;
}

function counts(map: Readonly<Record<string, number>>): string {
  const entries = Object.entries(map).sort((a, b) => b[1] - a[1]);
  return entries.length === 0 ? 'none' : entries.map(([key, n]) => `${key} ${int(n)}`).join(' · ');
}

/** One line: `  3.2s measure  sessions 10/10  1 234 evals/s  p50 0.41 ms  p99 1.20 ms  errors 3`. */
export function formatProgress(progress: LoadProgress): string {
  return [
    `${progress.elapsedS.toFixed(1).padStart(6)}s`,
    progress.phase.padEnd(7),
    `sessions ${progress.sessionsOpen}/${progress.sessionsTarget}`,
    `${int(progress.evalsPerSec)} evals/s`,
    `p50 ${num(progress.p50)} ms`,
    `p99 ${num(progress.p99)} ms`,
    `errors ${int(progress.errors)}`,
  ].join('  ');
}

/** The summary as people read it. */
export function formatSummary(summary: LoadSummary): string {
  const { config, evals, sessions } = summary;
  const lines: string[] = [];
  const warmup = config.warmupS > 0 ? ` (+${config.warmupS} s warm-up)` : '';
  const rate = config.rate !== null ? `, ${config.rate} sessions/s` : '';
  lines.push(
    `vmgate bench ${summary.url}: ${config.sessions} sessions${rate}, ${config.durationS} s${warmup}; stopped: ${summary.stopReason}`,
  );
  lines.push('');
  const row = (label: string, text: string) => lines.push(`${label.padEnd(13)}${text}`);
  row(
    'throughput',
    evals.perSec === null
      ? '—'
      : `${num(evals.perSec, 1)} evals/s (${num(evals.okPerSec, 1)} ok/s) over ${num(summary.windowS)} s`,
  );
  row('evals', `${int(evals.total)} · ${int(evals.ok)} ok · ${int(evals.errors)} errors`);
  row('latency', latency(summary.latencyMs));
  if (summary.serverMs.count > 0) {
    row('server time', `p50 ${num(summary.serverMs.p50)} · p99 ${num(summary.serverMs.p99)} ms (the eval's stats.ms)`);
  }
  row('errors', counts(summary.errors));
  for (const [code, message] of Object.entries(summary.errorSamples)) {
    const firstLine = message.split('\n', 1)[0] ?? '';
    lines.push(`${' '.repeat(15)}${code}: ${firstLine}`);
  }
  row(
    'sessions',
    `${int(sessions.opened)} opened of ${int(sessions.attempts)} attempts (target ${sessions.target}, peak ${sessions.peakOpen} open)`,
  );
  if (Object.keys(sessions.openFailures).length > 0) row('  not opened', counts(sessions.openFailures));
  if (sessions.setupFailed > 0) row('  setup', `failed in ${sessions.setupFailed}: ${counts(sessions.setupErrors)}`);
  if (sessions.dropped > 0) row('  dropped', `${sessions.dropped}, by close code: ${counts(sessions.closeCodes)}`);
  row('session open', latency(summary.sessionOpenMs));
  if (config.warmupS > 0) row('warm-up', `${int(summary.warmup.evals)} evals, ${int(summary.warmup.errors)} errors`);
  row('client CPU', `${num(summary.client.cpuPct, 0)}% of one core`);
  // Only a run that reached the gateway can have measured the client instead of it.
  if (summary.client.cpuPct >= 90 && sessions.opened > 0) {
    lines.push('             the load tool was busy: the figures may measure it, not the gateway');
  }
  if (summary.thresholds.length > 0) {
    lines.push('');
    const failed = summary.thresholds.filter((verdict) => !verdict.ok).length;
    lines.push(
      failed === 0 ? 'thresholds   all held' : `thresholds   ${failed} of ${summary.thresholds.length} crossed`,
    );
    for (const verdict of summary.thresholds) {
      lines.push(`  ${verdict.ok ? 'ok  ' : 'FAIL'} ${verdict.expression.padEnd(20)} actual ${num(verdict.actual, 3)}`);
    }
  }
  if (summary.problem) {
    lines.push('');
    lines.push(`problem: ${summary.problem}`);
  }
  return lines.join('\n');
}
