import type { LoadScript } from './script';
import type { LoadProgress } from './summary';

/** What a load run takes (clients/load/run.ts), and the checks it runs on it first. */

export interface LoadOptions extends LoadScript {
  /** `ws://host:port/...` (`http://` works too; no scheme means `ws://`). */
  readonly url: string;
  /** Concurrent sessions (default 10). */
  readonly sessions?: number;
  /** Sessions opened per second, for the ramp-up and replacements (default: all at once). */
  readonly rate?: number;
  /** Length of the measured window in seconds (default 10). */
  readonly durationS?: number;
  /** Seconds before the measured window (default 0). */
  readonly warmupS?: number;
  /**
   * Start the warm-up (and so the measured window) once every session is open
   * and set up, rather than when the run starts: a benchmark then measures
   * the closed loops alone, not the opening of many sessions.
   */
  readonly warmupAfterSetup?: boolean;
  /** `timeoutMs` sent with each eval (default: the gateway's default). */
  readonly timeoutMs?: number;
  /** Stop after this many measured evals were sent. */
  readonly maxEvals?: number;
  /** Bearer token (sent as `Authorization: Bearer <token>`). */
  readonly token?: string;
  /** Extra HTTP headers for the upgrade. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Connect-to-`hello` limit per attempt (default 10 000 ms). */
  readonly openTimeoutMs?: number;
  /** How often `onProgress` is called (default 1000 ms). */
  readonly progressIntervalMs?: number;
  /** Aborting ends the run early; the summary covers what ran. */
  readonly signal?: AbortSignal;
  /** Pass/fail criteria, e.g. `p95<50`, `errors<1%` (clients/load/thresholds.ts); judged in the summary. */
  readonly thresholds?: readonly string[];
}

export interface LoadHooks {
  readonly onProgress?: (progress: LoadProgress) => void;
  /** Called when the measured window opens and when the run stops (benchmarks sample servers over it). */
  readonly onWindow?: (edge: 'start' | 'end') => void;
}

export const LOAD_DEFAULTS = {
  sessions: 10,
  durationS: 10,
  warmupS: 0,
  openTimeoutMs: 10_000,
  progressIntervalMs: 1_000,
};

/** Throws a TypeError or RangeError naming the first option out of its range. */
export function checkLoadOptions(options: LoadOptions): void {
  checkNumber('sessions', options.sessions, true, 1, 100_000);
  checkNumber('rate', options.rate, false, 0.001, 1_000_000);
  checkNumber('durationS', options.durationS, false, 0.001, 1_000_000);
  checkNumber('warmupS', options.warmupS, false, 0, 1_000_000);
  checkNumber('timeoutMs', options.timeoutMs, true, 1, 3_600_000);
  checkNumber('maxEvals', options.maxEvals, true, 1, Number.MAX_SAFE_INTEGER);
  checkNumber('openTimeoutMs', options.openTimeoutMs, true, 1, 600_000);
  checkNumber('progressIntervalMs', options.progressIntervalMs, true, 10, 3_600_000);
}

/** `ws://` URL from what a user typed; throws on anything that is not ws/wss/http/https. */
export function normalizeUrl(input: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(input) ? input : `ws://${input}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new Error(`not a URL: ${input}`);
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new Error(`not a WebSocket URL: ${input}`);
  return url.href;
}

/** The URL for reports: token query parameters and passwords masked. */
export function redactUrl(href: string): string {
  const url = new URL(href);
  if (url.password) url.password = '***';
  for (const key of [...url.searchParams.keys()]) {
    if (/token|key|secret|auth/i.test(key)) url.searchParams.set(key, '***');
  }
  return url.href.replace(/%2A%2A%2A/g, '***');
}

function checkNumber(name: string, value: number | undefined, integer: boolean, min: number, max: number): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    throw new TypeError(`${name} must be a${integer ? 'n integer' : ' number'}, got ${String(value)}`);
  }
  if (value < min || value > max) throw new RangeError(`${name} must be between ${min} and ${max}, got ${value}`);
}
