import type { ErrorCode } from './error-codes';

/**
 * The JSON-mode wire contract (subprotocol `vmgate.v1`, docs/design.md §2).
 * Shared by the gateway, the tests, the clients and the web console; no
 * runtime dependencies.
 */

export const JSON_SUBPROTOCOL = 'vmgate.v1';

export type RequestId = string | number;

export type ClientOp =
  | { readonly op: 'eval'; readonly id?: RequestId; readonly code: string; readonly timeoutMs?: number }
  | { readonly op: 'commit'; readonly id?: RequestId }
  | { readonly op: 'rollback'; readonly id?: RequestId }
  | { readonly op: 'interrupt'; readonly id?: RequestId }
  | { readonly op: 'ping'; readonly id?: RequestId }
  /** Completion candidates at `cursor` (default: the end of `code`); see docs/protocol.md. */
  | { readonly op: 'complete'; readonly id?: RequestId; readonly code: string; readonly cursor?: number };

export const CLIENT_OPS = ['eval', 'commit', 'rollback', 'interrupt', 'ping', 'complete'] as const;

export interface ErrorBody {
  readonly code: ErrorCode;
  readonly message: string;
  readonly [detail: string]: unknown;
}

export interface EvalStatsFrame {
  readonly ms: number;
  readonly cpuMs: number;
  readonly dbMs: number;
  readonly queries: number;
  readonly transactionMs: number;
  /** Present (true) when the open transaction holds uncommitted changes. */
  readonly transactionWrites?: true;
}

export type ServerFrame =
  | {
      readonly type: 'hello';
      readonly session: string;
      readonly protocol: typeof JSON_SUBPROTOCOL;
      readonly server: { readonly name: 'vmgate'; readonly version: string };
      readonly limits: Readonly<Record<string, number>>;
      readonly shared: { readonly version: string } | null;
      readonly user: string | null;
    }
  | { readonly type: 'log'; readonly id: RequestId | null; readonly level: string; readonly text: string }
  | {
      readonly type: 'result';
      readonly id: RequestId | null;
      readonly value: unknown;
      readonly text: string;
      readonly stats: EvalStatsFrame;
    }
  | {
      readonly type: 'error';
      readonly id: RequestId | null;
      readonly error: ErrorBody;
      readonly stats?: EvalStatsFrame;
    }
  | { readonly type: 'ok'; readonly id: RequestId | null }
  | { readonly type: 'pong'; readonly id: RequestId | null }
  | {
      readonly type: 'completions';
      readonly id: RequestId | null;
      /** The candidates replace `code.slice(from, to)` (UTF-16 offsets, `to` is the cursor). */
      readonly from: number;
      readonly to: number;
      readonly candidates: readonly string[];
      readonly truncated: boolean;
    };

/** WebSocket close codes vmgate uses (beyond the standard ones ws applies itself, e.g. 1009). */
export const CLOSE_CODES = {
  normal: 1000,
  goingAway: 1001,
  /** Received (never sent) when a close frame carries no code. */
  noStatus: 1005,
  policy: 1008,
  tooBig: 1009,
  internal: 1011,
  idle: 4001,
  lifetime: 4002,
  resumeForbidden: 4403,
  resumeNotFound: 4404,
  resumeConflict: 4409,
  resumeGone: 4410,
} as const;
