/**
 * The load tool as a library: `runLoad(options, { onProgress })` runs a load
 * test against a vmgate gateway and resolves with its summary. The command
 * `vmgate bench` is a thin layer over it. See docs/clients.md, "Load tool".
 */
export type { EvalOutcome, Hello } from './connection';
export { formatProgress, formatSummary } from './format';
export { LatencyHistogram, type LatencySummary } from './histogram';
export { type LoadHooks, type LoadOptions, normalizeUrl, redactUrl } from './options';
export { runLoad } from './run';
export {
  type Check,
  type CodeSource,
  type EvalContext,
  type EvalResult,
  type LoadScript,
  loadScriptFile,
  parsePlainScript,
  type SessionContext,
  type SetupSource,
  validateScript,
} from './script';
export type { LoadPhase, LoadProgress, LoadSummary, StopReason, ThresholdVerdict } from './summary';
export { parseThreshold, type Threshold, ThresholdError } from './thresholds';
