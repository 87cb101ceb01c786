import { performance } from 'node:perf_hooks';
import type vm from 'node:vm';
import { DatabaseError, toDatabaseError } from '../db/database-error';
import { SessionDatabase } from '../db/session-database';
import { type ErrorCode, errorBody } from '../protocol/error-codes';
import { COMPLETION_TIMEOUT_MS, candidates, MAX_COMPLETION_INPUT } from './completion-candidates';
import { completionTarget } from './completion-target';
import { type DatabaseOp, type EngineDatabase, isDatabaseOp, performDatabaseCall } from './database-calls';
import type { EngineInput, EngineOutput, ErrorPayload, EvalStats, LogLevel } from './engine-messages';
import { type EntryOutcome, scheduleEntry } from './entry-scheduler';
import { settlementPayload, syntaxPayload, timeoutPayload } from './eval-errors';
import { capEngineOutput } from './frame-cap';
import { compileInput } from './input-cache';
import { OutputMeter } from './output-meter';
import { installProcessGuards } from './process-guards';
import { Realm, type RealmSettlement } from './realm';
import { DEFAULT_SESSION_LIMITS, type SessionLimits } from './session-limits';

/**
 * A session's engine: its realm, its queue of evals (run one at a time, in
 * order), their CPU budgets, and the output they produce. It knows nothing of
 * sockets: requests come in through `send()` and everything goes out through
 * `emit`, as messages (docs/design.md §4). Its parts live beside it: limits
 * (session-limits.ts), database calls (database-calls.ts), output metering
 * (output-meter.ts), error payloads (eval-errors.ts), completion answers
 * (completion-candidates.ts).
 *
 * What is left (over 600 lines) stays one unit on purpose: it is the eval
 * queue and the session's lifecycle, one state machine. Queueing, running,
 * settling, timing out, interrupting and closing all read and change the same
 * few fields (the active eval, the queue, the state, the realm) in an order
 * that matters, so splitting it would spread that order over several files.
 */

export interface SessionEngineOptions {
  readonly limits?: Partial<SessionLimits>;
  /** The shared state value (an opaque reference into the shared realm). */
  readonly shared?: unknown;
  readonly database?: EngineDatabase;
  /** The authenticated user (a JWT subject), for identity-mapped database accounts. */
  readonly user?: string | null;
  readonly emit: (message: EngineOutput) => void;
}

type EngineState = 'ready' | 'closing' | 'closed';

interface ActiveEval {
  readonly ref: number;
  readonly evalId: number;
  readonly timeoutMs: number;
  readonly started: number;
  readonly dbMsAtStart: number;
  readonly queriesAtStart: number;
  cpuMs: number;
  outputBytes: number;
  truncated: boolean;
  deadline: NodeJS.Timeout | undefined;
}

type Queued =
  | { readonly kind: 'eval'; readonly ref: number; readonly code: string; readonly timeoutMs: number }
  | { readonly kind: 'commit' | 'rollback'; readonly ref: number };

export class SessionEngine {
  readonly limits: SessionLimits;
  readonly #emit: (message: EngineOutput) => void;
  readonly #shared: unknown;
  readonly #databaseConfig: EngineDatabase | undefined;
  readonly #user: string | null;
  #database: SessionDatabase | undefined;
  /** A commit or rollback request in progress (evals wait behind it). */
  #busy = false;
  /** Host calls in flight: call id → the eval that made it. */
  readonly #calls = new Map<number, number>();
  #callSeq = 0;
  #realm: Realm | undefined;
  #state: EngineState = 'ready';
  #paused = false;
  readonly #queue: Queued[] = [];
  #active: ActiveEval | undefined;
  #lastEvalId = 0;
  /** A pump entry is queued with the entry scheduler. */
  #pumpScheduled = false;
  #closed: Promise<void> | undefined;
  readonly #output: OutputMeter;
  /** Refs of evals whose timers may still produce background output. */
  readonly #refByEvalId = new Map<number, number>();
  /** The eval whose timer the current background entry serves. */
  #backgroundOwner = 0;
  /** performance.now() at the start of the entry in progress, 0 outside entries. */
  #entryStarted = 0;
  /** What the realm reported during the entry in progress. */
  #settled: RealmSettlement | undefined;
  /** Time spent in this session's timed entries, evals and background alike. */
  #cpuMs = 0;
  /** The completion request waiting for its entry (at most one per session). */
  #completing: { readonly ref: number; answered: boolean } | undefined;
  /** What the realm answered during the completion entry in progress. */
  #completed: string | undefined;

  constructor(options: SessionEngineOptions) {
    installProcessGuards();
    this.limits = { ...DEFAULT_SESSION_LIMITS, ...options.limits };
    const cap = this.limits.maxMessageBytes;
    this.#emit = (message) => options.emit(capEngineOutput(message, cap));
    this.#shared = options.shared;
    this.#databaseConfig = options.database;
    this.#user = options.user ?? null;
    this.#output = new OutputMeter(this.limits.maxOutputBytesPerEval, this.limits.maxOutputBytesPerSecond);
  }

  get state(): EngineState {
    return this.#state;
  }

  /**
   * While paused, queued evals wait (the running one finishes): used when the
   * client stops reading, so output does not pile up in server memory.
   */
  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#runNext();
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** What this session has used so far (accounting: executors/usage.ts). */
  get usage(): { readonly cpuMs: number; readonly transactionAgeMs: number } {
    return { cpuMs: this.#cpuMs, transactionAgeMs: this.#database?.transactionAge ?? 0 };
  }

  /** Evals waiting or running. */
  get pending(): number {
    return this.#queue.length + (this.#active || this.#busy ? 1 : 0);
  }

  send(input: EngineInput): void {
    if (this.#state !== 'ready') {
      if (input.type !== 'close' && 'ref' in input) {
        this.#fail(input.ref, 'INTERRUPTED', 'session is closing');
      }
      return;
    }
    switch (input.type) {
      case 'eval':
        this.#enqueue(input.ref, input.code, input.timeoutMs);
        return;
      case 'interrupt':
        this.#interrupt();
        this.#emit({ type: 'ok', ref: input.ref });
        return;
      case 'complete':
        this.#complete(input.ref, input.code, input.cursor);
        return;
      case 'commit':
      case 'rollback':
        if (this.#queue.length >= this.limits.maxQueuedEvals) {
          this.#fail(input.ref, 'LIMIT', `too many queued requests (at most ${this.limits.maxQueuedEvals} may wait)`);
          return;
        }
        this.#queue.push({ kind: input.type, ref: input.ref });
        this.#runNext();
        return;
      case 'close':
        void this.close(input.reason);
        return;
    }
  }

  /**
   * Ends the session: queued and running evals get INTERRUPTED, timers and the
   * realm are released, then `closed` is emitted once. Safe to call again:
   * later calls share the first one's promise.
   */
  close(reason: string): Promise<void> {
    this.#closed ??= this.#close(reason);
    return this.#closed;
  }

  async #close(reason: string): Promise<void> {
    this.#state = 'closing';
    const message = `session closed: ${reason}`;
    for (const queued of this.#queue.splice(0)) this.#fail(queued.ref, 'INTERRUPTED', message);
    if (this.#active) this.#finishError(this.#active, errorBody('INTERRUPTED', message));
    if (this.#completing && !this.#completing.answered) {
      this.#completing.answered = true;
      this.#fail(this.#completing.ref, 'INTERRUPTED', message);
    }
    this.#realm?.dispose();
    this.#realm = undefined;
    this.#refByEvalId.clear();
    this.#calls.clear();
    // Rolls back an open transaction before the connection is released.
    await this.#database?.close();
    this.#state = 'closed';
    this.#emit({ type: 'closed', reason });
  }

  // ---- evals ---------------------------------------------------------------

  #enqueue(ref: number, code: string, requested: number | undefined): void {
    if (code.length > this.limits.maxCodeBytes) {
      this.#fail(ref, 'LIMIT', `code is larger than ${this.limits.maxCodeBytes} bytes`);
      return;
    }
    if (this.#queue.length >= this.limits.maxQueuedEvals) {
      this.#fail(ref, 'LIMIT', `too many queued evals (at most ${this.limits.maxQueuedEvals} may wait)`);
      return;
    }
    let timeoutMs = this.limits.defaultTimeoutMs;
    if (requested !== undefined) {
      if (!Number.isFinite(requested) || requested <= 0) {
        this.#fail(ref, 'BAD_REQUEST', 'timeoutMs must be a positive number');
        return;
      }
      timeoutMs = Math.min(requested, this.limits.maxTimeoutMs);
    }
    const held = this.#queuedBudgetMs();
    if (held + timeoutMs > this.limits.maxQueuedBudgetMs) {
      this.#fail(
        ref,
        'LIMIT',
        `queued evals would hold ${Math.round(held + timeoutMs)} ms of time budget (at most ${this.limits.maxQueuedBudgetMs} ms may wait)`,
      );
      return;
    }
    this.#queue.push({ kind: 'eval', ref, code, timeoutMs });
    this.#runNext();
  }

  /** The budgets of the queued evals and what is left of the running one's. */
  #queuedBudgetMs(): number {
    let held = this.#active ? Math.max(0, this.#active.timeoutMs - (performance.now() - this.#active.started)) : 0;
    for (const queued of this.#queue) if (queued.kind === 'eval') held += queued.timeoutMs;
    return held;
  }

  #runNext(): void {
    while (!this.#active && !this.#busy && this.#state === 'ready' && !this.#paused) {
      const next = this.#queue.shift();
      if (!next) return;
      if (next.kind === 'eval') this.#start(next);
      else this.#endTransaction(next.kind, next.ref);
    }
  }

  #start(request: Extract<Queued, { kind: 'eval' }>): void {
    const evalId = ++this.#lastEvalId;
    const active: ActiveEval = {
      ref: request.ref,
      evalId,
      timeoutMs: request.timeoutMs,
      started: performance.now(),
      dbMsAtStart: this.#database?.dbMs ?? 0,
      queriesAtStart: this.#database?.queries ?? 0,
      cpuMs: 0,
      outputBytes: 0,
      truncated: false,
      deadline: undefined,
    };
    this.#active = active;
    let script: vm.Script;
    let usesDatabase = false;
    try {
      const input = compileInput(request.code);
      usesDatabase = input.usesDatabase;
      script = input.script;
      this.#ensureRealm().registerSource(input.id, evalId, input.originalPosition);
    } catch (error) {
      this.#finishError(active, syntaxPayload(error));
      return;
    }
    const realm = this.#ensureRealm();
    if (usesDatabase && this.#databaseConfig && !realm.hasModule('kysely')) {
      // Kysely gets its own timed entry, charged to this eval.
      const loaded = realm.loadModule('kysely', request.timeoutMs);
      if (loaded) {
        active.cpuMs += loaded.ms;
        this.#cpuMs += loaded.ms;
      }
      if (loaded?.kind === 'timeout') {
        this.#timeout(active);
        return;
      }
    }
    scheduleEntry({
      owner: this,
      prepare: () => (this.#active === active && this.#state === 'ready' ? request.timeoutMs : undefined),
      run: (timeout) => {
        this.#entryStarted = performance.now();
        realm.enter(script, evalId, timeout);
      },
      finish: (outcome) => {
        realm.leave();
        this.#entryStarted = 0;
        this.#afterEval(active, outcome);
      },
    });
  }

  /** What the eval's first entry did: a result, an error, or a wait (timers, host calls). */
  #afterEval(active: ActiveEval, outcome: EntryOutcome): void {
    active.cpuMs += outcome.ms;
    this.#cpuMs += outcome.ms;
    if (outcome.kind === 'timeout') {
      // Even if the input already produced its value: the promise jobs it
      // started ran past its budget.
      this.#settled = undefined;
      this.#timeout(active);
      return;
    }
    this.#takeSettlement();
    // Settled, or ended by close() or interrupt while the entry ran.
    if (this.#active !== active) return;
    if (outcome.kind === 'threw') {
      this.#finishError(active, errorBody('UNCAUGHT', 'the input threw a value that could not be reported'));
      return;
    }
    // Still awaiting something (a timer, a host call): the budget keeps running.
    const remaining = active.timeoutMs - (performance.now() - active.started);
    active.deadline = setTimeout(
      () => {
        if (this.#active === active) this.#timeout(active);
      },
      Math.max(1, remaining),
    );
  }

  #ensureRealm(): Realm {
    this.#realm ??= new Realm(
      {
        shared: this.#shared,
        maxTimers: this.limits.maxTimers,
        maxLogLine: this.limits.maxLogLine,
        inspectDepth: this.limits.inspectDepth,
        ...(this.#databaseConfig ? { modules: { kysely: this.#databaseConfig.kysely } } : {}),
      },
      {
        log: (level, text) => this.#onLog(level, text),
        settle: (settlement) => this.#onSettle(settlement),
        wake: () => this.#schedulePump(),
        call: (op, payload) => this.#onCall(op, payload),
        completed: (json) => {
          this.#completed = json;
        },
      },
    );
    return this.#realm;
  }

  /**
   * The realm reports a value from inside an entry; it is acted on when the
   * entry returns, so jobs that run after it in the same entry still count
   * against the eval (an endless promise chain is a TIMEOUT, not a result).
   */
  #onSettle(settlement: RealmSettlement): void {
    if (this.#settled === undefined) this.#settled = settlement;
  }

  /** Finishes the active eval with the value its last entry reported, if any. */
  #takeSettlement(): boolean {
    const settlement = this.#settled;
    this.#settled = undefined;
    if (settlement === undefined) return false;
    const before = this.#active;
    this.#applySettlement(settlement);
    return this.#active !== before;
  }

  #applySettlement(settlement: RealmSettlement): void {
    const active = this.#active;
    if (!active || settlement.evalId !== active.evalId) return; // a late answer to an eval that already ended
    if (settlement.kind === 'result') {
      this.#finish(active, {
        type: 'result',
        ref: active.ref,
        value: settlement.json,
        text: settlement.text,
        stats: this.#stats(active),
      });
      return;
    }
    this.#finishError(active, settlementPayload(settlement));
  }

  #timeout(active: ActiveEval): void {
    this.#finishError(active, timeoutPayload(active.timeoutMs));
  }

  #interrupt(): void {
    const active = this.#active;
    if (active) this.#finishError(active, errorBody('INTERRUPTED', 'evaluation interrupted'));
  }

  #finishError(active: ActiveEval, error: ErrorPayload): void {
    // An eval that did not complete leaves nothing running behind it: its
    // timers, its pending host calls, its running statement.
    if (error.code === 'TIMEOUT' || error.code === 'INTERRUPTED') {
      this.#realm?.clearTimers(active.evalId);
      for (const [id, owner] of this.#calls) if (owner === active.evalId) this.#calls.delete(id);
      // Queued statements and connection waits are cancelled, the running statement killed.
      void this.#database?.cancel();
    }
    this.#finish(active, { type: 'error', ref: active.ref, error, stats: this.#stats(active) });
  }

  #finish(active: ActiveEval, message: EngineOutput): void {
    if (this.#active !== active) return;
    if (active.deadline) clearTimeout(active.deadline);
    this.#active = undefined;
    // A transaction that only read ends with its eval (db/session-database.ts).
    void this.#database?.endOfEval();
    this.#emit(message);
    if (this.#realm && this.#realm.timerCount > 0) {
      this.#refByEvalId.set(active.evalId, active.ref);
      // Attribution only: keep the most recent evals.
      if (this.#refByEvalId.size > 64) this.#refByEvalId.delete(this.#refByEvalId.keys().next().value as number);
    }
    if (this.#state === 'ready') {
      // Run the next eval outside the current stack (we may be inside a host callback).
      queueMicrotask(() => this.#runNext());
    }
  }

  #stats(active: ActiveEval): EvalStats {
    const now = performance.now();
    // Settled from inside an entry: that entry's time so far counts too.
    const running = this.#entryStarted > 0 ? now - this.#entryStarted : 0;
    return {
      ms: round(now - active.started),
      cpuMs: round(active.cpuMs + running),
      dbMs: round((this.#database?.dbMs ?? 0) - active.dbMsAtStart),
      queries: (this.#database?.queries ?? 0) - active.queriesAtStart,
      transactionMs: this.#database?.transactionAge ?? 0,
      ...(this.#database?.hasWrites ? { transactionWrites: true as const } : {}),
    };
  }

  #fail(ref: number, code: ErrorCode, message: string): void {
    this.#emit({ type: 'error', ref, error: errorBody(code, message) });
  }

  // ---- completion ------------------------------------------------------------

  /**
   * Candidates at `cursor` (docs/protocol.md, "complete"). Not queued behind
   * evals: it runs as an entry of its own as soon as the realm is free
   * between entries (an eval waiting on a timer or the database does not
   * hold it up), and it runs no user code, so it cannot disturb a running
   * eval. One at a time per session.
   */
  #complete(ref: number, code: string, cursor: number): void {
    if (code.length > this.limits.maxCodeBytes) {
      this.#fail(ref, 'LIMIT', `code is larger than ${this.limits.maxCodeBytes} bytes`);
      return;
    }
    if (!Number.isSafeInteger(cursor) || cursor < 0 || cursor > code.length) {
      this.#fail(ref, 'BAD_REQUEST', `cursor must be an integer from 0 to the length of the code (${code.length})`);
      return;
    }
    if (cursor > MAX_COMPLETION_INPUT) {
      // The text before the cursor is tokenized here, outside any realm budget: keep that small.
      this.#fail(ref, 'LIMIT', `completion reads at most ${MAX_COMPLETION_INPUT} characters before the cursor`);
      return;
    }
    if (this.#completing) {
      this.#fail(ref, 'LIMIT', 'a completion is already running in this session');
      return;
    }
    const target = completionTarget(code, cursor);
    if (!target) {
      this.#emit({ type: 'completions', ref, from: cursor, to: cursor, candidates: [], truncated: false });
      return;
    }
    const realm = this.#ensureRealm();
    const request = { ref, answered: false };
    this.#completing = request;
    const json = JSON.stringify({ path: target.path, prefix: target.prefix });
    scheduleEntry({
      owner: this,
      prepare: () => (this.#state === 'ready' && !request.answered ? COMPLETION_TIMEOUT_MS : undefined),
      run: (timeout) => {
        this.#completed = undefined;
        realm.enterCompletion(json, timeout);
      },
      finish: (outcome) => {
        realm.leave();
        this.#cpuMs += outcome.ms;
        const answer = this.#completed;
        this.#completed = undefined;
        if (this.#completing === request) this.#completing = undefined;
        if (request.answered) return;
        request.answered = true;
        if (outcome.kind === 'timeout') {
          this.#fail(ref, 'TIMEOUT', `completion exceeded its time budget of ${COMPLETION_TIMEOUT_MS} ms`);
          return;
        }
        this.#emit({ type: 'completions', ref, ...candidates(target, answer) });
      },
    });
  }

  // ---- the database ----------------------------------------------------------

  #sessionDatabase(): SessionDatabase {
    const pool = this.#databaseConfig?.pool;
    if (!pool) {
      throw new DatabaseError(
        'DB_UNAVAILABLE',
        `no database is configured: ${this.#databaseConfig?.hint ?? 'start the gateway with --database-url'}`,
      );
    }
    this.#database ??= new SessionDatabase(pool.forUser(this.#user), (level, text, ended) => {
      const ref = this.#active?.ref ?? null;
      // Not metered like output: the audit log must not lose a transaction's end.
      if (ended) this.#emit({ type: 'transaction', ref, ...ended });
      this.#emitLog(ref, level, text);
    });
    return this.#database;
  }

  /** `commit` / `rollback` requests, in queue order with the evals. */
  #endTransaction(kind: 'commit' | 'rollback', ref: number): void {
    this.#busy = true;
    const run = async () => {
      const database = this.#sessionDatabase();
      await (kind === 'commit' ? database.commit() : database.rollback());
    };
    run()
      .then(
        () => this.#emit({ type: 'ok', ref }),
        (error: unknown) => {
          const failure = toDatabaseError(error);
          this.#emit({ type: 'error', ref, error: { ...failure.toJSON() } });
        },
      )
      .finally(() => {
        this.#busy = false;
        if (this.#state === 'ready') this.#runNext();
      });
  }

  /** A host call from realm code (the `db` driver). Returns its id; the answer is delivered by a pump. */
  #onCall(op: string, payload: string): number | undefined {
    if (!isDatabaseOp(op)) return undefined;
    const id = ++this.#callSeq;
    this.#calls.set(id, this.#active?.evalId ?? 0);
    this.#performCall(op, payload).then(
      (answer) => this.#deliver(id, true, answer),
      (error: unknown) => {
        const failure = toDatabaseError(error);
        const hint = this.#databaseConfig?.pool ? {} : { hint: this.#databaseConfig?.hint ?? '' };
        this.#deliver(id, false, JSON.stringify({ ...failure.toJSON(), ...hint }));
      },
    );
    return id;
  }

  async #performCall(op: DatabaseOp, payload: string): Promise<string> {
    const database = this.#sessionDatabase();
    const active = this.#active;
    return performDatabaseCall(database, op, payload, active ? active.started + active.timeoutMs : undefined, (text) =>
      this.#emitLog(this.#active?.ref ?? null, 'warn', text),
    );
  }

  #deliver(id: number, ok: boolean, payload: string): void {
    // An answer for an eval that ended (timeout, interrupt, close) is dropped.
    if (!this.#calls.delete(id)) return;
    this.#realm?.deliver(id, ok, payload);
  }

  // ---- background work: fired timers, host-call answers -------------------

  #schedulePump(): void {
    if (this.#pumpScheduled || this.#state !== 'ready') return;
    // One entry per turn of the event loop, however many events queued.
    this.#pumpScheduled = true;
    let active: ActiveEval | undefined;
    let owner = 0;
    scheduleEntry({
      owner: this,
      prepare: () => {
        const realm = this.#realm;
        if (!realm || this.#state !== 'ready' || !realm.hasPendingEvents) {
          this.#pumpScheduled = false;
          return undefined;
        }
        active = this.#active;
        owner = active ? active.evalId : realm.nextEventOwner;
        const budget = active
          ? active.timeoutMs - (performance.now() - active.started)
          : this.limits.backgroundTimeoutMs;
        if (active && budget <= 0) {
          this.#pumpScheduled = false;
          this.#timeout(active);
          return undefined;
        }
        return budget;
      },
      run: (timeout) => {
        this.#backgroundOwner = owner;
        this.#entryStarted = performance.now();
        this.#realm?.enterPump(owner, timeout);
      },
      finish: (outcome) => {
        this.#pumpScheduled = false;
        this.#entryStarted = 0;
        this.#backgroundOwner = 0;
        const realm = this.#realm;
        if (!realm) return;
        realm.leave();
        this.#afterPump(realm, active, outcome);
      },
    });
  }

  #afterPump(realm: Realm, active: ActiveEval | undefined, outcome: EntryOutcome): void {
    this.#cpuMs += outcome.ms;
    if (active && this.#active === active) active.cpuMs += outcome.ms;
    if (outcome.kind === 'timeout') this.#settled = undefined;
    else this.#takeSettlement();
    if (outcome.kind === 'timeout') {
      if (active && this.#active === active) {
        this.#timeout(active);
      } else {
        const dropped = realm.clearTimers();
        this.#emitLog(
          null,
          'error',
          `Uncaught Error: a timer callback exceeded its time budget of ${this.limits.backgroundTimeoutMs} ms; ${dropped} timer(s) cleared`,
        );
      }
    }
    if (realm.hasPendingEvents) this.#schedulePump();
  }

  // ---- output ----------------------------------------------------------------

  #onLog(level: LogLevel, text: string): void {
    const active = this.#active;
    if (!active) {
      this.#emitLog(this.#refByEvalId.get(this.#backgroundOwner) ?? null, level, text);
      return;
    }
    const verdict = this.#output.forEval(active, text);
    if (verdict === 'send') this.#emitLog(active.ref, level, text);
    else if (verdict === 'notice') {
      this.#emitLog(
        active.ref,
        'warn',
        `[output truncated: this eval wrote more than ${this.limits.maxOutputBytesPerEval} bytes]`,
      );
    }
  }

  #emitLog(ref: number | null, level: LogLevel, text: string): void {
    const verdict = this.#output.perSecond(text);
    if (verdict === 'send') this.#emit({ type: 'log', ref, level, text });
    else if (verdict === 'notice') {
      this.#emit({
        type: 'log',
        ref,
        level: 'warn',
        text: `[output dropped: more than ${this.limits.maxOutputBytesPerSecond} bytes per second]`,
      });
    }
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
