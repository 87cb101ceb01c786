/** A session's limits: what one session may use (docs/operations.md names the flags that set them). */
export interface SessionLimits {
  /** Budget of an eval when the client names none. */
  readonly defaultTimeoutMs: number;
  /** The most a client may ask for. */
  readonly maxTimeoutMs: number;
  /** Budget of one background entry (a timer firing while no eval runs). */
  readonly backgroundTimeoutMs: number;
  /** Evals waiting behind the running one; beyond it → LIMIT. */
  readonly maxQueuedEvals: number;
  /**
   * Time budget the evals a session has waiting may hold together (the
   * running one's included); beyond it → LIMIT. Bounds how long one session
   * can keep an executor busy from a single burst of requests.
   */
  readonly maxQueuedBudgetMs: number;
  readonly maxOutputBytesPerEval: number;
  readonly maxOutputBytesPerSecond: number;
  /** One console call is cut beyond this many characters. */
  readonly maxLogLine: number;
  readonly maxTimers: number;
  readonly maxCodeBytes: number;
  /** Depth of the `text` rendering of results. */
  readonly inspectDepth: number;
  /** The largest message emitted (as a JSON frame); longer strings are cut with a marker (frame-cap.ts). */
  readonly maxMessageBytes: number;
}

export const DEFAULT_SESSION_LIMITS: SessionLimits = Object.freeze({
  defaultTimeoutMs: 5_000,
  maxTimeoutMs: 60_000,
  backgroundTimeoutMs: 1_000,
  maxQueuedEvals: 32,
  maxQueuedBudgetMs: 180_000,
  maxOutputBytesPerEval: 1024 * 1024,
  maxOutputBytesPerSecond: 1024 * 1024,
  maxLogLine: 64 * 1024,
  maxTimers: 1_000,
  maxCodeBytes: 512 * 1024,
  inspectDepth: 2,
  maxMessageBytes: 1024 * 1024,
});
