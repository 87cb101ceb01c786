import { performance } from 'node:perf_hooks';
import { decodeValue } from '../../protocol/value-codec';
import { type EvalOutcome, LoadConnection, type Opening } from './connection';
import { LatencyHistogram, round } from './histogram';
import { checkLoadOptions, LOAD_DEFAULTS, type LoadHooks, type LoadOptions, normalizeUrl, redactUrl } from './options';
import { type EvalContext, type LoadScript, type SessionContext, validateScript } from './script';
import type { LoadPhase, LoadSummary, StopReason } from './summary';
import { judge, parseThreshold, type Threshold } from './thresholds';

/**
 * The load run: `sessions` slots, each holding one gateway session in a
 * closed loop (send an eval, wait for its terminal frame, send the next).
 * Sessions open at `rate` per second; a session that drops is replaced
 * (paced the same way, with a backoff). The first `warmupS` seconds are not
 * measured; the measured window lasts `durationS` seconds (or until
 * `maxEvals` measured evals were sent). An eval belongs to the window it
 * started in.
 *
 * Bounds: every wait has a deadline (open timeout, eval guard = the eval's
 * budget + 5 s, close grace), connection attempts are capped (20 failed in
 * a row per session slot, with a backoff between them), and a watchdog ends
 * whatever is left once the run has stopped and drained.
 */

const GUARD_GRACE_MS = 5_000;
const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 5_000;
/** A slot gives up after this many failed connection attempts in a row... */
const FAILURES_IN_A_ROW = 20;
/** ...or this many attempts in all (sessions dropped and replaced included). */
const ATTEMPTS_PER_SLOT = 10_000;
const OPENING_GRACE_MS = 1_000;

/** Runs a load test and resolves with its summary (it never rejects for gateway problems: see `problem`). */
export async function runLoad(options: LoadOptions, hooks: LoadHooks = {}): Promise<LoadSummary> {
  return new LoadRun(options, hooks).run();
}

function bump(map: Record<string, number>, key: string, by = 1): void {
  map[key] = (map[key] ?? 0) + by;
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

class LoadRun {
  readonly #url: string;
  readonly #script: LoadScript;
  readonly #sessions: number;
  readonly #rate: number | undefined;
  readonly #durationMs: number;
  readonly #warmupMs: number;
  readonly #timeoutMs: number | undefined;
  readonly #maxEvals: number | undefined;
  readonly #headers: Record<string, string>;
  readonly #openTimeoutMs: number;
  readonly #options: LoadOptions;
  readonly #hooks: LoadHooks;
  readonly #thresholds: readonly Threshold[];

  // clock (performance.now() ms)
  #start = 0;
  #warmupEnd = 0;
  #stopAt: number | undefined;
  #lastAnswerAt = 0;
  #stopReason: StopReason | undefined;
  #scriptError: string | undefined;

  // waits that a stop must cut short, connections and attempts a watchdog may end
  readonly #wakers = new Set<() => void>();
  readonly #openings = new Set<Opening>();
  readonly #connections = new Set<LoadConnection>();
  #nextOpenAt = 0;
  #maxGuardMs = 0;
  #watchdog: NodeJS.Timeout | undefined;
  #deadline: NodeJS.Timeout | undefined;
  /** Slots whose session is set up (or that gave up): the clock of `warmupAfterSetup` starts when all are. */
  #slotsReady = 0;
  #cancelOpenings: NodeJS.Timeout | undefined;

  // figures. During the warm-up `#latency` is `#warmupLatency`; the first
  // measured eval swaps in a fresh histogram (`#measuring`).
  readonly #warmupLatency = new LatencyHistogram();
  #latency = this.#warmupLatency;
  #measuring = false;
  readonly #serverMs = new LatencyHistogram();
  readonly #openMs = new LatencyHistogram();
  #measuredStarted = 0;
  #answeredInWindow = 0;
  #okInWindow = 0;
  #okAnswered = 0;
  #ok = 0;
  #errorCount = 0;
  readonly #errors: Record<string, number> = {};
  readonly #samples: Record<string, string> = {};
  #warmupEvals = 0;
  #warmupErrors = 0;
  #attempts = 0;
  #opened = 0;
  #openFailureCount = 0;
  readonly #openFailures: Record<string, number> = {};
  #setupFailed = 0;
  readonly #setupErrors: Record<string, number> = {};
  #dropped = 0;
  readonly #closeCodes: Record<string, number> = {};
  #open = 0;
  #peakOpen = 0;
  // progress
  #progressEvals = 0;
  #progressAt = 0;

  constructor(options: LoadOptions, hooks: LoadHooks) {
    checkLoadOptions(options);
    this.#options = options;
    this.#hooks = hooks;
    this.#thresholds = (options.thresholds ?? []).map(parseThreshold);
    this.#url = normalizeUrl(options.url);
    this.#script = validateScript({ setup: options.setup, code: options.code, check: options.check });
    this.#sessions = options.sessions ?? LOAD_DEFAULTS.sessions;
    this.#rate = options.rate;
    this.#durationMs = (options.durationS ?? LOAD_DEFAULTS.durationS) * 1000;
    this.#warmupMs = (options.warmupS ?? LOAD_DEFAULTS.warmupS) * 1000;
    this.#timeoutMs = options.timeoutMs;
    this.#maxEvals = options.maxEvals;
    this.#openTimeoutMs = options.openTimeoutMs ?? LOAD_DEFAULTS.openTimeoutMs;
    this.#headers = { ...options.headers };
    if (options.token !== undefined) this.#headers.authorization = `Bearer ${options.token}`;
  }

  async run(): Promise<LoadSummary> {
    const cpuBefore = process.cpuUsage();
    this.#start = performance.now();
    this.#warmupEnd = Number.POSITIVE_INFINITY;
    if (!this.#options.warmupAfterSetup) this.#startClock();
    this.#nextOpenAt = this.#start;
    this.#progressAt = this.#start;
    const interval = this.#options.progressIntervalMs ?? LOAD_DEFAULTS.progressIntervalMs;
    const progress = this.#hooks.onProgress ? setInterval(() => this.#reportProgress(), interval) : undefined;
    const signal = this.#options.signal;
    const onAbort = () => this.#stop('aborted');
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) this.#stop('aborted');
    try {
      const slots = Array.from({ length: this.#sessions }, (_, slot) => this.#slot(slot));
      await Promise.all(slots);
      this.#stop('no-sessions'); // all slots ended before any other reason: nothing left to run
    } finally {
      clearTimeout(this.#deadline);
      clearTimeout(this.#watchdog);
      clearTimeout(this.#cancelOpenings);
      if (progress) clearInterval(progress);
      signal?.removeEventListener('abort', onAbort);
    }
    if (this.#hooks.onProgress) this.#reportProgress();
    const cpu = process.cpuUsage(cpuBefore);
    return this.#summary(performance.now(), (cpu.user + cpu.system) / 1000);
  }

  // ---------------------------------------------------------------- control

  /** The warm-up starts now, the measured window after it. */
  #startClock(): void {
    if (this.#deadline !== undefined || this.#stopping) return;
    this.#warmupEnd = performance.now() + this.#warmupMs;
    if (this.#warmupMs === 0) this.#enterMeasure();
    this.#deadline = setTimeout(() => this.#stop('duration'), this.#warmupMs + this.#durationMs);
  }

  #slotReady(): void {
    if (++this.#slotsReady === this.#sessions) this.#startClock();
  }

  get #stopping(): boolean {
    return this.#stopReason !== undefined;
  }

  #stop(reason: StopReason): void {
    if (this.#stopping) return;
    this.#stopReason = reason;
    this.#stopAt = performance.now();
    if (this.#measuring) this.#hooks.onWindow?.('end');
    for (const wake of this.#wakers) wake();
    this.#wakers.clear();
    // A connection attempt under way gets a moment to finish, so that it can be
    // closed properly (1000): cut off mid-handshake, a session the gateway had
    // already accepted would wait out its resume grace period there.
    this.#cancelOpenings = setTimeout(() => {
      for (const opening of this.#openings) opening.cancel();
    }, OPENING_GRACE_MS);
    // Every eval has its guard, every close its grace: past them all, end what is left.
    this.#watchdog = setTimeout(() => this.#terminateAll(), this.#maxGuardMs + 5_000);
  }

  #terminateAll(): void {
    for (const opening of this.#openings) opening.cancel();
    for (const connection of this.#connections) connection.terminate();
  }

  /** Resolves after `ms`, or at once when the run stops. */
  #sleep(ms: number): Promise<void> {
    if (this.#stopping || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wakers.add(done);
    });
  }

  /** Waits for this session's turn under `rate`; false when the run stopped meanwhile. */
  async #paced(): Promise<boolean> {
    if (this.#stopping) return false;
    if (this.#rate !== undefined) {
      const now = performance.now();
      const at = Math.max(now, this.#nextOpenAt);
      this.#nextOpenAt = at + 1000 / this.#rate;
      await this.#sleep(at - now);
    }
    return !this.#stopping;
  }

  #guardMs(hello: { limits?: Readonly<Record<string, number>> } | undefined): number {
    const budget = this.#timeoutMs ?? hello?.limits?.defaultTimeoutMs ?? 5_000;
    const max = hello?.limits?.maxTimeoutMs;
    const guard = (max !== undefined ? Math.min(budget, max) : budget) + GUARD_GRACE_MS;
    this.#maxGuardMs = Math.max(this.#maxGuardMs, guard);
    return guard;
  }

  // ---------------------------------------------------------------- a session slot

  async #slot(slot: number): Promise<void> {
    let ready = false;
    const markReady = () => {
      if (!ready) this.#slotReady();
      ready = true;
    };
    try {
      await this.#slotLoop(slot, markReady);
    } finally {
      markReady();
    }
  }

  async #slotLoop(slot: number, markReady: () => void): Promise<void> {
    let backoff = BACKOFF_MIN_MS;
    let failures = 0;
    for (let attempt = 0; attempt < ATTEMPTS_PER_SLOT && failures < FAILURES_IN_A_ROW; attempt++) {
      if (!(await this.#paced())) return;
      this.#attempts++;
      const opening = LoadConnection.open(this.#url, { headers: this.#headers, openTimeoutMs: this.#openTimeoutMs });
      this.#openings.add(opening);
      const opened = await opening.result;
      this.#openings.delete(opening);
      if (!opened.ok) {
        if (opened.reason === 'CANCELLED') return;
        this.#openFailureCount++;
        failures++;
        bump(this.#openFailures, opened.reason);
        this.#sample(`open:${opened.reason}`, opened.detail);
        // Nothing ever opened and the first few attempts failed: the gateway is not there, or refuses us.
        if (this.#opened === 0 && this.#openFailureCount >= Math.min(this.#sessions, 3)) this.#stop('unreachable');
        await this.#sleep(backoff);
        backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
        continue;
      }
      backoff = BACKOFF_MIN_MS;
      failures = 0;
      const { connection, hello } = opened;
      this.#opened++;
      this.#openMs.record(opened.openMs);
      this.#connections.add(connection);
      this.#open++;
      this.#peakOpen = Math.max(this.#peakOpen, this.#open);
      let next: 'retire' | 'replace';
      try {
        next = await this.#session(
          connection,
          { session: slot, sessionId: hello.session },
          this.#guardMs(hello),
          markReady,
        );
      } finally {
        this.#open--;
        if (connection.dropCode !== undefined) {
          this.#dropped++;
          bump(this.#closeCodes, String(connection.dropCode));
        } else {
          await connection.close();
        }
        this.#connections.delete(connection);
      }
      if (next === 'retire' || this.#stopping) return;
      if (connection.dropCode !== undefined) {
        await this.#sleep(backoff);
        backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
      }
    }
  }

  /** Setup, then the eval loop. 'replace': open another session in this slot; 'retire': do not. */
  async #session(
    connection: LoadConnection,
    context: SessionContext,
    guardMs: number,
    markReady: () => void,
  ): Promise<'retire' | 'replace'> {
    const evalOptions = { timeoutMs: this.#timeoutMs, guardMs, collectLogs: this.#script.check !== undefined };
    // setup
    let setup: readonly string[];
    try {
      const source = this.#script.setup;
      const value = typeof source === 'function' ? source(context) : source;
      setup = value === undefined ? [] : typeof value === 'string' ? [value] : value;
    } catch (error) {
      this.#scriptFailed(`setup() threw: ${(error as Error)?.message ?? String(error)}`);
      return 'retire';
    }
    for (const code of setup) {
      if (this.#stopping) return 'retire';
      const outcome = await connection.eval(code, { ...evalOptions, collectLogs: false });
      if (outcome.kind === 'result') continue;
      if (!connection.isOpen) await connection.waitClosed(2_000);
      if (connection.dropCode !== undefined) return 'replace'; // the session dropped: not the setup's fault
      this.#setupFailed++;
      bump(this.#setupErrors, outcome.code);
      this.#sample(`setup:${outcome.code}`, outcome.message);
      return 'retire';
    }
    markReady();
    // the closed loop
    for (let iteration = 0; !this.#stopping && connection.isOpen; iteration++) {
      const measured = performance.now() >= this.#warmupEnd;
      if (measured && this.#maxEvals !== undefined && this.#measuredStarted >= this.#maxEvals) {
        this.#stop('max-evals');
        break;
      }
      if (measured && !this.#measuring) this.#enterMeasure();
      const evalContext: EvalContext = { ...context, iteration };
      let code: string;
      try {
        code = this.#code(evalContext);
      } catch (error) {
        this.#scriptFailed(`code() threw: ${(error as Error)?.message ?? String(error)}`);
        return 'retire';
      }
      if (measured) this.#measuredStarted++;
      const outcome = await connection.eval(code, evalOptions);
      const failure = await this.#judge(outcome, evalContext);
      this.#record(outcome, failure, measured);
      if (outcome.kind === 'lost') return 'replace'; // dropped, or unanswered: its queue is no longer ours to trust
    }
    if (!connection.isOpen) {
      // The gateway's close frame came in: let the close complete so that it counts as a drop.
      await connection.waitClosed(2_000);
      return 'replace';
    }
    return 'retire';
  }

  #code(context: EvalContext): string {
    const code = this.#script.code;
    if (typeof code === 'string') return code;
    if (typeof code === 'function') {
      const value = code(context);
      if (typeof value !== 'string') throw new TypeError(`it returned ${typeof value}, not a string`);
      return value;
    }
    return code[context.iteration % code.length] as string;
  }

  #scriptFailed(message: string): void {
    this.#scriptError ??= message;
    this.#stop('script-error');
  }

  /** The error code and message an outcome counts as, or undefined when it is a success. */
  async #judge(outcome: EvalOutcome, context: EvalContext): Promise<{ code: string; message: string } | undefined> {
    if (outcome.kind !== 'result') return { code: outcome.code, message: outcome.message };
    const check = this.#script.check;
    if (!check) return undefined;
    try {
      const verdict = await check(
        {
          value: decodeValue(JSON.stringify(outcome.wire)),
          wire: outcome.wire,
          text: outcome.text,
          stats: outcome.stats,
          logs: outcome.logs,
        },
        context,
      );
      if (verdict === undefined || verdict === true) return undefined;
      const message = typeof verdict === 'string' ? verdict : `check returned ${String(verdict)} for ${outcome.text}`;
      return { code: 'CHECK_FAILED', message };
    } catch (error) {
      return { code: 'CHECK_FAILED', message: (error as Error)?.message ?? String(error) };
    }
  }

  // ---------------------------------------------------------------- figures

  #enterMeasure(): void {
    this.#measuring = true;
    this.#latency = new LatencyHistogram();
    this.#hooks.onWindow?.('start');
  }

  #record(outcome: EvalOutcome, failure: { code: string; message: string } | undefined, measured: boolean): void {
    const now = performance.now();
    if (!measured) {
      if (outcome.kind !== 'lost') {
        this.#warmupEvals++;
        this.#warmupLatency.record(outcome.ms);
      }
      if (failure) this.#warmupErrors++;
    } else {
      if (outcome.kind !== 'lost') {
        this.#latency.record(outcome.ms);
        if (outcome.stats && typeof outcome.stats.ms === 'number') this.#serverMs.record(outcome.stats.ms);
        this.#lastAnswerAt = now;
        if (!failure) this.#okAnswered++;
        if (this.#stopAt === undefined || now <= this.#stopAt) {
          this.#answeredInWindow++;
          if (!failure) this.#okInWindow++;
        }
      }
      if (failure) {
        this.#errorCount++;
        bump(this.#errors, failure.code);
        this.#sample(failure.code, failure.message);
      } else {
        this.#ok++;
      }
    }
  }

  #sample(key: string, message: string): void {
    if (!(key in this.#samples)) this.#samples[key] = message.length > 500 ? `${message.slice(0, 500)}…` : message;
  }

  #reportProgress(): void {
    const now = performance.now();
    const seconds = (now - this.#progressAt) / 1000;
    const answeredSoFar = this.#warmupEvals + this.#ok + this.#errorCount;
    const perSec = seconds > 0 ? (answeredSoFar - this.#progressEvals) / seconds : 0;
    this.#progressEvals = answeredSoFar;
    this.#progressAt = now;
    const phase: LoadPhase = this.#stopping ? 'drain' : now < this.#warmupEnd ? 'warmup' : 'measure';
    this.#hooks.onProgress?.({
      elapsedS: round3((now - this.#start) / 1000),
      phase,
      sessionsOpen: this.#open,
      sessionsTarget: this.#sessions,
      evals: this.#measuring ? this.#latency.count : this.#warmupEvals,
      evalsPerSec: Math.round(perSec * 10) / 10,
      p50: this.#latency.percentile(50),
      p99: this.#latency.percentile(99),
      errors: this.#measuring ? this.#errorCount : this.#warmupErrors,
    });
  }

  #summary(end: number, cpuMs: number): LoadSummary {
    const stopReason = this.#stopReason ?? 'no-sessions';
    const stopAt = this.#stopAt ?? end;
    const windowStart = Math.min(this.#warmupEnd, stopAt);
    // A run cut short by its eval cap (or by running out of sessions) ends at its last answer.
    const windowEnd =
      stopReason === 'max-evals' || stopReason === 'no-sessions' ? Math.max(stopAt, this.#lastAnswerAt) : stopAt;
    const measured = this.#measuring ? this.#latency : new LatencyHistogram();
    const windowS = Math.max(0, (windowEnd - windowStart) / 1000);
    const toLastAnswer = stopReason === 'max-evals' || stopReason === 'no-sessions';
    const answered = toLastAnswer ? this.#latency.count : this.#answeredInWindow;
    const okAnswered = toLastAnswer ? this.#okAnswered : this.#okInWindow;
    const perSec = (count: number) =>
      windowS > 0 && this.#measuring && this.#opened > 0 ? round3(count / windowS) : null;
    const elapsedMs = end - this.#start;
    const summary: Omit<LoadSummary, 'thresholds' | 'passed'> = {
      url: redactUrl(this.#url),
      config: {
        sessions: this.#sessions,
        rate: this.#rate ?? null,
        durationS: this.#durationMs / 1000,
        warmupS: this.#warmupMs / 1000,
        timeoutMs: this.#timeoutMs ?? null,
        maxEvals: this.#maxEvals ?? null,
        setup: this.#script.setup !== undefined,
        check: this.#script.check !== undefined,
      },
      stopReason,
      problem: this.#problem(),
      elapsedS: round3(elapsedMs / 1000),
      windowS: round3(windowS),
      evals: {
        total: this.#ok + this.#errorCount,
        ok: this.#ok,
        errors: this.#errorCount,
        perSec: perSec(answered),
        okPerSec: perSec(okAnswered),
      },
      latencyMs: measured.summary(),
      serverMs: this.#serverMs.summary(),
      errors: { ...this.#errors },
      errorSamples: { ...this.#samples },
      sessions: {
        target: this.#sessions,
        attempts: this.#attempts,
        opened: this.#opened,
        openFailures: { ...this.#openFailures },
        setupFailed: this.#setupFailed,
        setupErrors: { ...this.#setupErrors },
        dropped: this.#dropped,
        closeCodes: { ...this.#closeCodes },
        peakOpen: this.#peakOpen,
      },
      sessionOpenMs: this.#openMs.summary(),
      warmup: { evals: this.#warmupEvals, errors: this.#warmupErrors },
      client: { cpuPct: elapsedMs > 0 ? Math.round((cpuMs / elapsedMs) * 1000) / 10 : 0 },
    };
    const thresholds = judge(this.#thresholds, { ...summary, thresholds: [], passed: false }, (which, p) =>
      round((which === 'open' ? this.#openMs : measured).percentile(p)),
    );
    const passed = summary.problem === null && thresholds.every((verdict) => verdict.ok);
    return { ...summary, thresholds, passed };
  }

  #problem(): string | null {
    const counts = (map: Record<string, number>) =>
      Object.entries(map)
        .sort((a, b) => b[1] - a[1])
        .map(([key, n]) => `${key} ×${n}`)
        .join(', ');
    if (this.#scriptError) return this.#scriptError;
    if (this.#opened === 0) {
      if (this.#openFailureCount === 0) return 'no session was opened (the run was stopped first)';
      const [first] = Object.entries(this.#openFailures).sort((a, b) => b[1] - a[1]);
      const detail = first ? this.#samples[`open:${first[0]}`] : undefined;
      return `could not open any session: ${counts(this.#openFailures)}${detail ? ` (${detail})` : ''}`;
    }
    if (this.#setupFailed === this.#opened && this.#ok + this.#errorCount === 0) {
      return `the setup failed in every session: ${counts(this.#setupErrors)}`;
    }
    if (this.#ok === 0 && this.#errorCount > 0) return `every measured eval failed: ${counts(this.#errors)}`;
    return null;
  }
}
