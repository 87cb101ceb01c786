import type { TransactionEnd } from '../db/session-database';
import type { ErrorCode } from '../protocol/error-codes';
import type { EvalStatsFrame } from '../protocol/messages';

/**
 * The message-shaped interface between the gateway and a session engine
 * (docs/design.md §4). Every field is structured-clone and JSON safe, so the same
 * messages can cross a thread or process boundary unchanged.
 *
 * `ref` is chosen by the sender of a request and echoed by every message
 * about it; the gateway maps it to the client's `id`.
 */

export type LogLevel = 'log' | 'info' | 'warn' | 'error' | 'debug';

export type EngineInput =
  | { readonly type: 'eval'; readonly ref: number; readonly code: string; readonly timeoutMs?: number }
  | { readonly type: 'commit'; readonly ref: number }
  | { readonly type: 'rollback'; readonly ref: number }
  | { readonly type: 'interrupt'; readonly ref: number }
  /** Candidates at `cursor` in `code` (docs/protocol.md, "complete"): not queued behind evals. */
  | { readonly type: 'complete'; readonly ref: number; readonly code: string; readonly cursor: number }
  | { readonly type: 'close'; readonly reason: string };

/**
 * The per-eval figures an engine reports; the gateway adds the session's
 * totals (`session`) before they go on the wire as `stats`.
 */
export type EvalStats = Omit<EvalStatsFrame, 'session'>;

export interface ErrorPayload {
  readonly code: ErrorCode;
  readonly message: string;
  /** For SYNTAX_ERROR and UNCAUGHT: the error's name (`TypeError`, ...). */
  readonly name?: string;
  /** User frames only, when the error carries a stack. */
  readonly stack?: string;
  /** For SYNTAX_ERROR: 1-based position in the input. */
  readonly line?: number;
  readonly column?: number;
  /** For UNCAUGHT: the thrown value, encoded as in a result (JSON text). */
  readonly value?: string;
  /** Human rendering, e.g. `Uncaught TypeError: x is not a function`. */
  readonly text?: string;
  readonly [extra: string]: string | number | boolean | undefined;
}

export type EngineOutput =
  | { readonly type: 'log'; readonly ref: number | null; readonly level: LogLevel; readonly text: string }
  /** For the audit log only (clients see the log line that comes with it); `statement` names the SQL statement. */
  | {
      readonly type: 'transaction';
      readonly ref: number | null;
      readonly end: TransactionEnd;
      readonly statement: string;
    }
  | {
      readonly type: 'result';
      readonly ref: number;
      /** JSON text of the tagged value encoding. */
      readonly value: string;
      readonly text: string;
      readonly stats: EvalStats;
    }
  | { readonly type: 'error'; readonly ref: number; readonly error: ErrorPayload; readonly stats?: EvalStats }
  | { readonly type: 'ok'; readonly ref: number }
  | {
      readonly type: 'completions';
      readonly ref: number;
      /** The candidates replace `code.slice(from, to)`. */
      readonly from: number;
      readonly to: number;
      readonly candidates: readonly string[];
      /** More names matched than were sent. */
      readonly truncated: boolean;
    }
  | { readonly type: 'closed'; readonly reason: string };
