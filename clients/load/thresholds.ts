import type { LoadSummary, ThresholdVerdict } from './summary';

/**
 * Pass/fail criteria for a load run, so that `vmgate bench` can gate CI.
 * Expressions follow k6's thresholds where they fit (`p(95)<200`,
 * `avg<100`) with the short forms people type (`p95<200`), plus
 * Artillery-style rates (`errors<1%`):
 *
 *   p50 p90 p95 p99 p(N) avg min max   latency of measured evals, ms
 *   errors                             count of measured errors, or a % of measured evals
 *   throughput                         answered evals per second of the window
 *   ok_throughput                      successful evals per second
 *   open_p50 open_p95 open_p99 ...     connect → hello, ms
 *
 * Operators: < <= > >= ==. A threshold whose metric has no value (no eval
 * was answered) fails: a run that measured nothing proves nothing.
 */

export interface Threshold {
  /** The expression as given. */
  readonly expression: string;
  readonly metric: string;
  readonly operator: Operator;
  readonly limit: number;
  /** The limit is a percentage (only `errors`). */
  readonly percent: boolean;
}

type Operator = '<' | '<=' | '>' | '>=' | '==';

const EXPRESSION = /^\s*([a-z_]+[0-9]*(?:\(\s*[0-9.]+\s*\))?)\s*(<=|>=|==|<|>)\s*(-?[0-9]+(?:\.[0-9]+)?)\s*(%?)\s*$/i;
const LATENCY = /^(open_)?(?:p\(?\s*([0-9]+(?:\.[0-9]+)?)\s*\)?|avg|mean|min|max)$/;

export class ThresholdError extends Error {
  readonly code = 'BAD_THRESHOLD';
}

/** Parses one expression; throws ThresholdError with what is wrong. */
export function parseThreshold(expression: string): Threshold {
  const match = EXPRESSION.exec(expression);
  if (!match) {
    throw new ThresholdError(
      `bad threshold ${JSON.stringify(expression)}: expected <metric><op><number>, e.g. p95<50 or errors<1%`,
    );
  }
  const metric = (match[1] as string).toLowerCase().replace(/\s+/g, '');
  const operator = match[2] as Operator;
  const limit = Number(match[3]);
  const percent = match[4] === '%';
  if (!isKnownMetric(metric)) {
    throw new ThresholdError(
      `unknown metric ${JSON.stringify(metric)} in ${JSON.stringify(expression)}: use p50, p95, p99, p(N), avg, min, max, errors, throughput, ok_throughput or open_p95`,
    );
  }
  if (percent && metric !== 'errors') {
    throw new ThresholdError(`only errors takes a percentage, in ${JSON.stringify(expression)}`);
  }
  const percentile = LATENCY.exec(metric)?.[2];
  if (percentile !== undefined && !(Number(percentile) > 0 && Number(percentile) <= 100)) {
    throw new ThresholdError(`a percentile must be in (0, 100], in ${JSON.stringify(expression)}`);
  }
  return { expression: expression.trim(), metric, operator, limit, percent };
}

function isKnownMetric(metric: string): boolean {
  return metric === 'errors' || metric === 'throughput' || metric === 'ok_throughput' || LATENCY.test(metric);
}

/** The value a threshold's metric has in a summary, or null when it was not measured. */
export function measure(
  threshold: Threshold,
  summary: LoadSummary,
  percentile: (which: 'eval' | 'open', p: number) => number | null,
): number | null {
  const { metric } = threshold;
  if (metric === 'errors') {
    if (!threshold.percent) return summary.evals.errors;
    return summary.evals.total === 0 ? null : (summary.evals.errors / summary.evals.total) * 100;
  }
  if (metric === 'throughput') return summary.evals.perSec;
  if (metric === 'ok_throughput') return summary.evals.okPerSec;
  const match = LATENCY.exec(metric);
  if (!match) return null;
  const which = match[1] ? 'open' : 'eval';
  const latency = which === 'open' ? summary.sessionOpenMs : summary.latencyMs;
  if (match[2] !== undefined) return percentile(which, Number(match[2]));
  const name = metric.replace(/^open_/, '');
  if (name === 'avg' || name === 'mean') return latency.mean;
  return name === 'min' ? latency.min : latency.max;
}

export function compare(actual: number, operator: Operator, limit: number): boolean {
  switch (operator) {
    case '<':
      return actual < limit;
    case '<=':
      return actual <= limit;
    case '>':
      return actual > limit;
    case '>=':
      return actual >= limit;
    case '==':
      return actual === limit;
  }
}

export function judge(
  thresholds: readonly Threshold[],
  summary: LoadSummary,
  percentile: (which: 'eval' | 'open', p: number) => number | null,
): ThresholdVerdict[] {
  return thresholds.map((threshold) => {
    const actual = measure(threshold, summary, percentile);
    const rounded = actual === null ? null : Math.round(actual * 1000) / 1000;
    return {
      expression: threshold.expression,
      actual: rounded,
      ok: actual !== null && compare(actual, threshold.operator, threshold.limit),
    };
  });
}
