import type { ErrorBody } from './error-codes';

/**
 * The JSON-mode wire contract (subprotocol `vmgate.v1`, docs/design.md §2).
 * Shared by the gateway, the tests, the clients and the web console; no
 * runtime dependencies.
 */

export const JSON_SUBPROTOCOL = 'vmgate.v1';

export type RequestId = string | number;

export type { ErrorBody };

export type ClientOp =
  | { readonly op: 'eval'; readonly id?: RequestId; readonly code: string; readonly timeoutMs?: number }
  | { readonly op: 'commit'; readonly id?: RequestId }
  | { readonly op: 'rollback'; readonly id?: RequestId }
  | { readonly op: 'interrupt'; readonly id?: RequestId }
  | { readonly op: 'ping'; readonly id?: RequestId }
  /** Completion candidates at `cursor` (default: the end of `code`); see docs/protocol.md. */
  | { readonly op: 'complete'; readonly id?: RequestId; readonly code: string; readonly cursor?: number };

export const CLIENT_OPS = ['eval', 'commit', 'rollback', 'interrupt', 'ping', 'complete'] as const;

/** The session's totals so far, in every eval's `stats.session` (executors/usage.ts). */
export interface SessionTotalsFrame {
  readonly evals: number;
  readonly cpuMs: number;
  readonly outputBytes: number;
  /** Age of the open transaction (0 when none). */
  readonly transactionAgeMs: number;
}

export interface EvalStatsFrame {
  readonly ms: number;
  readonly cpuMs: number;
  readonly dbMs: number;
  readonly queries: number;
  readonly transactionMs: number;
  /** Present (true) when the open transaction holds uncommitted changes. */
  readonly transactionWrites?: true;
  readonly session?: SessionTotalsFrame;
}

/** What `hello.resume` and `resumed.resume` carry: the token for the next resume and the grace period. */
export interface ResumeGrant {
  readonly token: string;
  readonly graceMs: number;
}

/** The first frame of a JSON-mode session (numbered 0: replay never repeats it). */
export interface HelloFrame {
  readonly type: 'hello';
  readonly session: string;
  readonly protocol: typeof JSON_SUBPROTOCOL;
  readonly server: { readonly name: 'vmgate'; readonly version: string };
  readonly limits: Readonly<Record<string, number>>;
  readonly shared: { readonly version: string } | null;
  readonly user: string | null;
  /** Null when the session cannot resume. */
  readonly resume: ResumeGrant | null;
}

/** The first frame on a resumed connection; the replayed frames follow. */
export interface ResumedFrame {
  readonly type: 'resumed';
  readonly session: string;
  /** The highest `seq` sent so far. */
  readonly seq: number;
  readonly replayed: number;
  /** Replayed frames that are stand-ins for frames too large to keep (`notKept: true`). */
  readonly notKept: number;
  readonly resume: ResumeGrant;
}

export interface LogFrame {
  readonly type: 'log';
  readonly id: RequestId | null;
  readonly level: string;
  readonly text: string;
  /** A stand-in for output too large for the resume buffer. */
  readonly notKept?: true;
}

export interface ResultFrame {
  readonly type: 'result';
  readonly id: RequestId | null;
  readonly value: unknown;
  readonly text: string;
  readonly stats: EvalStatsFrame;
}

export interface ErrorFrame {
  readonly type: 'error';
  readonly id: RequestId | null;
  readonly error: ErrorBody;
  readonly stats?: EvalStatsFrame;
}

export interface OkFrame {
  readonly type: 'ok';
  readonly id: RequestId | null;
}

export interface PongFrame {
  readonly type: 'pong';
  readonly id: RequestId | null;
}

export interface CompletionsFrame {
  readonly type: 'completions';
  readonly id: RequestId | null;
  /** The candidates replace `code.slice(from, to)` (UTF-16 offsets, `to` is the cursor). */
  readonly from: number;
  readonly to: number;
  readonly candidates: readonly string[];
  readonly truncated: boolean;
}

export type ServerFrame =
  | HelloFrame
  | ResumedFrame
  | LogFrame
  | ResultFrame
  | ErrorFrame
  | OkFrame
  | PongFrame
  | CompletionsFrame;

/**
 * A server frame as a client receives it: JSON with a string `type`, every
 * other field unchecked. Clients check each field before they use it rather
 * than trust that a peer sends only {@link ServerFrame}s.
 */
export interface ReceivedFrame {
  readonly type: string;
  readonly id?: RequestId | null;
  readonly seq?: number;
  readonly [field: string]: unknown;
}

/** A frame as sent: every JSON-mode frame carries its number (`seq`), first (hello is 0). */
export type Numbered<F extends ServerFrame = ServerFrame> = F & { readonly seq: number };

/** WebSocket close codes vmgate uses (beyond the standard ones ws applies itself, e.g. 1009). */
export const CLOSE_CODES = {
  normal: 1000,
  goingAway: 1001,
  /** A frame ws rejected as malformed (other than too big or bad UTF-8). */
  protocolError: 1002,
  /** Received (never sent) when a close frame carries no code. */
  noStatus: 1005,
  /** Received (never sent): the socket dropped without a close frame. */
  abnormal: 1006,
  invalidPayload: 1007,
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

export type CloseCode = (typeof CLOSE_CODES)[keyof typeof CLOSE_CODES];

/** Close codes with which the server ends a session on purpose (a client should not resume), and why. */
export const SESSION_END_REASONS: Readonly<Record<number, string>> = {
  [CLOSE_CODES.normal]: 'the server closed the session',
  [CLOSE_CODES.goingAway]: 'the server is shutting down',
  [CLOSE_CODES.policy]: 'the client did not read its frames fast enough',
  [CLOSE_CODES.tooBig]: 'a frame was larger than the server accepts',
  [CLOSE_CODES.internal]: 'internal error on the server',
  [CLOSE_CODES.idle]: 'idle timeout',
  [CLOSE_CODES.lifetime]: 'maximum session lifetime reached',
};

/** Refused resumes (docs/protocol.md, "Resuming a session"), and why. */
export const RESUME_REFUSALS: Readonly<Record<number, string>> = {
  [CLOSE_CODES.resumeForbidden]: 'the session belongs to another user',
  [CLOSE_CODES.resumeNotFound]: 'no such session (the grace period ended, or the server restarted)',
  [CLOSE_CODES.resumeConflict]: 'the session is attached to another connection',
  [CLOSE_CODES.resumeGone]: 'the session ended',
};
