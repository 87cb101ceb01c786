import type { LatencySummary } from './histogram';

/** What a load run reports: progress while it runs, the summary at its end. */

export type LoadPhase = 'warmup' | 'measure' | 'drain';

export interface LoadProgress {
  readonly elapsedS: number;
  readonly phase: LoadPhase;
  readonly sessionsOpen: number;
  readonly sessionsTarget: number;
  /** Evals answered in the current phase (warm-up or measured). */
  readonly evals: number;
  /** Evals answered per second since the previous progress report. */
  readonly evalsPerSec: number;
  /** Latency so far in the current phase (ms), null before the first answer. */
  readonly p50: number | null;
  readonly p99: number | null;
  /** Errors so far in the current phase. */
  readonly errors: number;
}

export type StopReason = 'duration' | 'max-evals' | 'aborted' | 'unreachable' | 'no-sessions' | 'script-error';

export interface LoadSummary {
  /** The target, with any token in the query string masked. */
  readonly url: string;
  readonly config: {
    readonly sessions: number;
    readonly rate: number | null;
    readonly durationS: number;
    readonly warmupS: number;
    readonly timeoutMs: number | null;
    readonly maxEvals: number | null;
    readonly setup: boolean;
    readonly check: boolean;
  };
  readonly stopReason: StopReason;
  /** Why the run measured nothing useful (the command exits with 1), or null. */
  readonly problem: string | null;
  /** The whole run, from the first connection to the last close. */
  readonly elapsedS: number;
  /** The measured window that `perSec` divides by. */
  readonly windowS: number;
  readonly evals: {
    /** Measured evals with an outcome: answered, or lost (`CLIENT_TIMEOUT`, `DISCONNECTED`). */
    readonly total: number;
    readonly ok: number;
    readonly errors: number;
    /** Answered evals (result or error frame) per second of the window. */
    readonly perSec: number | null;
    readonly okPerSec: number | null;
  };
  /** Round trip of answered measured evals (send → terminal frame). */
  readonly latencyMs: LatencySummary;
  /** The gateway's own `stats.ms` of the same evals. */
  readonly serverMs: LatencySummary;
  /** Measured errors by code: the gateway's codes, and `CHECK_FAILED`, `CLIENT_TIMEOUT`, `DISCONNECTED`. */
  readonly errors: Readonly<Record<string, number>>;
  /** The first message seen for each error code (`setup:<CODE>` for setup errors, `open:<reason>` for failed opens). */
  readonly errorSamples: Readonly<Record<string, string>>;
  readonly sessions: {
    readonly target: number;
    readonly attempts: number;
    /** Sessions that got their `hello`. */
    readonly opened: number;
    /** Failed attempts by reason: `HTTP 401`, `ECONNREFUSED`, `OPEN_TIMEOUT`, `CLOSE 4404`, `NOT_VMGATE`, ... */
    readonly openFailures: Readonly<Record<string, number>>;
    readonly setupFailed: number;
    readonly setupErrors: Readonly<Record<string, number>>;
    /** Sessions the gateway or the network closed during the run, by close code (1006: dropped without a close frame). */
    readonly dropped: number;
    readonly closeCodes: Readonly<Record<string, number>>;
    readonly peakOpen: number;
  };
  /** Connect → `hello`, over every session that opened (warm-up included). */
  readonly sessionOpenMs: LatencySummary;
  readonly warmup: { readonly evals: number; readonly errors: number };
  /** CPU the load tool itself used, % of one core: near 100 means the client was the bottleneck. */
  readonly client: { readonly cpuPct: number };
  /** One verdict per threshold given, in order. */
  readonly thresholds: readonly ThresholdVerdict[];
  /** No problem and every threshold held: what `vmgate bench` exits 0 for. */
  readonly passed: boolean;
}

export interface ThresholdVerdict {
  readonly expression: string;
  /** The measured value the limit was compared with (errors in % when the limit is), or null. */
  readonly actual: number | null;
  readonly ok: boolean;
}
