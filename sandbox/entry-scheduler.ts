import { performance } from 'node:perf_hooks';
import vm from 'node:vm';
import { guarded } from './watchdog';

/**
 * Timed entries into session realms, batched per turn of the event loop.
 *
 * Every entry into a realm runs under a timeout. With the native watchdog
 * (watchdog.ts: one thread per process), a timed entry is an untimed
 * `runInContext` inside a guarded call, which costs well under a microsecond.
 * Without it, node:vm's timeout starts a watchdog thread per call (~100 µs
 * here, docs/design.md §6): more than the work of a small eval. Entries
 * requested during one turn (frames from many sockets, database answers for
 * many sessions) therefore run together under ONE watchdog: a guarded call
 * (or a timed `runInContext` of a trivial script in a private context) calls
 * back into the host, which enters each realm in turn with an untimed
 * `runInContext` (each still drains its realm's microtasks, as
 * `afterEvaluate` does for any entry). The outer watchdog covers the nested
 * entries: when it fires, V8 terminates everything on the stack (realm and
 * host frames alike; no catch or finally runs) up to the outer call, which
 * reports the timeout. The host notes which entry it is in before entering,
 * so the culprit is known; entries not yet started run in the next batch. A
 * turn with a single entry uses a plain timed entry. Batches also keep the
 * fairness and budget rules below, whichever watchdog runs them.
 *
 * Budgets: a batch's watchdog gets the smallest budget in it; only entries
 * whose budgets are within BUDGET_SLACK of it join, and an entry starts only
 * within MAX_SPAN of the batch's start. So an entry in a batch gets at least
 * ~96% of its budget (2% slack, 2% or 2 ms of span, whichever is less).
 * An owner (a session) has at most one entry per batch, so what it records
 * during an entry is still its own when the batch ends.
 *
 * Fairness: entries are served least costly owner first, the cost being the
 * CPU time the owner used recently (decaying with a half-life of
 * USAGE_HALF_LIFE_MS) plus what its entries usually take (an average of its
 * past entries; for an owner with no history, the entry's whole budget), and
 * among equals by who was served longest ago (round-robin); waiting lowers
 * the cost (AGING), so nobody waits forever. Sessions that queue long evals
 * one after another therefore keep a light bystander waiting only for the
 * entry that is running, not for a turn of each of them.
 */

export type EntryOutcome =
  | { readonly kind: 'ok'; readonly ms: number }
  | { readonly kind: 'timeout'; readonly ms: number }
  | { readonly kind: 'threw'; readonly ms: number };

export interface Entry {
  /** Entries of one owner never share a batch. */
  readonly owner: object;
  /**
   * Called outside any entry, just before a batch is formed (perhaps more than
   * once): the budget in ms, or undefined to drop the entry.
   */
  prepare(): number | undefined;
  /**
   * Enters the realm. `timeoutMs` set: a timed entry of its own; undefined:
   * the batch's watchdog covers it. Throws whatever escapes (never read).
   */
  run(timeoutMs: number | undefined): void;
  /** Called outside any entry with what happened, in the order entries ran. */
  finish(outcome: EntryOutcome): void;
}

const BUDGET_SLACK = 0.02;
/** A flush yields to the event loop after this long (I/O, heartbeats, interrupts get their turn). */
const MAX_FLUSH_MS = 10;
const MAX_SPAN_MS = 2;
const MAX_SPAN_SHARE = 0.02;

/** How fast an owner's recent CPU use is forgotten. */
const USAGE_HALF_LIFE_MS = 2_000;
/**
 * Waiting lowers an entry's cost by this share of the time waited, so a
 * costly session still runs while lighter ones keep the process busy: after
 * waiting about ten times its cost at the most.
 */
const AGING = 0.1;

let queue: Entry[] = [];
let flushScheduled = false;

interface Usage {
  /** Decayed CPU ms as of `at`. */
  readonly ms: number;
  readonly at: number;
  /** What the owner's entries take, on average (recent ones weigh most). */
  readonly typical: number;
  /** When the owner was last served (round-robin among equals). */
  readonly served: number;
}
const usage = new WeakMap<object, Usage>();
const queuedAt = new WeakMap<Entry, number>();
let serial = 0;

function recentMs(used: Usage | undefined, now: number): number {
  return used ? used.ms * 2 ** (-(now - used.at) / USAGE_HALF_LIFE_MS) : 0;
}

/** How costly serving this owner's entry now looks: recent use plus what its entries usually take. */
function cost(owner: object, budget: number, now: number): number {
  const used = usage.get(owner);
  return recentMs(used, now) + (used ? used.typical : budget);
}

function charge(owner: object, ms: number): void {
  const now = performance.now();
  const used = usage.get(owner);
  usage.set(owner, {
    ms: recentMs(used, now) + ms,
    at: now,
    typical: used ? (used.typical + ms) / 2 : ms,
    served: ++serial,
  });
}

/** Runs `entry` in this turn's batch (after the I/O callbacks of the turn). */
export function scheduleEntry(entry: Entry): void {
  queuedAt.set(entry, performance.now());
  queue.push(entry);
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flush);
  }
}

/**
 * Whether an entry that threw was stopped by its timeout. The thrown value is
 * never inspected: with `afterEvaluate`, Node creates the timeout error of a
 * realm's own timed entry in the *realm's* context, so it is a realm object
 * like any other. Only the watchdog ends an entry after its budget.
 */
export function isTimeout(elapsedMs: number, timeoutMs: number): boolean {
  return elapsedMs >= timeoutMs - 1;
}

/**
 * Runs `run` as one timed entry of its own: `run` gets the timeout to give
 * `runInContext`, or undefined when the native watchdog already guards it.
 */
export function runTimed(run: (timeoutMs: number | undefined) => void, budgetMs: number): EntryOutcome {
  const timeout = Math.max(1, Math.ceil(budgetMs));
  const started = performance.now();
  const status = guarded(() => run(undefined), timeout);
  if (status !== undefined) return { kind: status, ms: performance.now() - started };
  try {
    run(timeout);
    return { kind: 'ok', ms: performance.now() - started };
  } catch {
    const ms = performance.now() - started;
    return isTimeout(ms, timeout) ? { kind: 'timeout', ms } : { kind: 'threw', ms };
  }
}

interface Slot {
  readonly entry: Entry;
  readonly budget: number;
  /** The owner's cost (see above) and when it was last served, as of this flush. */
  readonly cost: number;
  readonly served: number;
  started: number;
  ms: number;
  state: 'waiting' | 'running' | 'threw' | 'done';
}

function flush(): void {
  flushScheduled = false;
  // Entries scheduled while this flush runs wait for the next turn.
  let todo = queue;
  queue = [];
  const started = performance.now();
  /** The rest go first in the next turn; `late`: after what this turn's entries queued (their output). */
  const yieldWith = (rest: Entry[], late = false) => {
    queue = [...rest, ...queue];
    if (!flushScheduled) {
      flushScheduled = true;
      if (late) setImmediate(() => setImmediate(flush));
      else setImmediate(flush);
    }
  };
  let batches = 0;
  while (todo.length > 0) {
    if (performance.now() - started > MAX_FLUSH_MS) {
      yieldWith(todo);
      return;
    }
    const ready: Slot[] = [];
    const now = performance.now();
    for (const entry of todo) {
      const budget = entry.prepare();
      if (budget === undefined) continue;
      const served = usage.get(entry.owner)?.served ?? 0;
      const waited = now - (queuedAt.get(entry) ?? now);
      const slotCost = cost(entry.owner, budget, now) - AGING * waited;
      ready.push({ entry, budget, cost: slotCost, served, started: 0, ms: 0, state: 'waiting' });
    }
    if (ready.length === 0) return;
    // Fair order (least cost, then longest unserved). The first one's
    // budget picks the band: from the smallest budget at most 2% below it.
    ready.sort((a, b) => a.cost - b.cost || a.served - b.served);
    // An entry known to run long waits for the next turn once others ran in
    // this one, so what they wrote goes out (and new input comes in) first.
    const expected = usage.get(ready[0].entry.owner)?.typical ?? 0;
    if (batches > 0 && performance.now() - started + expected > MAX_FLUSH_MS) {
      yieldWith(
        ready.map((slot) => slot.entry),
        true,
      );
      return;
    }
    batches++;
    const head = ready[0].budget;
    let floor = head;
    for (const slot of ready) if (slot.budget < floor && slot.budget * (1 + BUDGET_SLACK) >= head) floor = slot.budget;
    const limit = floor * (1 + BUDGET_SLACK);
    const batch: Slot[] = [];
    const later: Entry[] = [];
    const owners = new Set<object>();
    for (const slot of ready) {
      if (slot.budget >= floor && slot.budget <= limit && !owners.has(slot.entry.owner)) {
        owners.add(slot.entry.owner);
        batch.push(slot);
      } else {
        later.push(slot.entry);
      }
    }
    const ran = runBatch(batch);
    todo = [...batch.slice(ran).map((slot) => slot.entry), ...later];
  }
}

/** Runs the slots in order, under the smallest budget among them; returns how many were started. */
function runBatch(batch: Slot[]): number {
  const first = batch[0];
  if (batch.length === 1) {
    const outcome = runTimed((timeout) => first.entry.run(timeout), first.budget);
    charge(first.entry.owner, outcome.ms);
    first.entry.finish(outcome);
    return 1;
  }
  let smallest = first.budget;
  for (const slot of batch) smallest = Math.min(smallest, slot.budget);
  const timeout = Math.max(1, Math.ceil(smallest));
  const span = Math.min(MAX_SPAN_MS, smallest * MAX_SPAN_SHARE);
  const started = performance.now();
  let timedOut = false;
  current = { batch, started, span };
  try {
    const status = guarded(runBatchBody, timeout);
    if (status === undefined) batchScript().runInContext(batchContext(), { timeout, displayErrors: false });
    else timedOut = status === 'timeout';
  } catch {
    // Only the watchdog ends the outer entry: every nested throw is caught below.
    timedOut = isTimeout(performance.now() - started, timeout);
  } finally {
    current = undefined;
  }
  let count = 0;
  for (const slot of batch) {
    if (slot.state === 'waiting') break;
    count++;
    if (slot.state === 'running') {
      // The entry the watchdog stopped (or, if something escaped the loop, the one it was in).
      const ms = performance.now() - slot.started;
      charge(slot.entry.owner, ms);
      slot.entry.finish(timedOut ? { kind: 'timeout', ms } : { kind: 'threw', ms });
    } else {
      charge(slot.entry.owner, slot.ms);
      slot.entry.finish({ kind: slot.state === 'done' ? 'ok' : 'threw', ms: slot.ms });
    }
  }
  return count;
}

let current: { readonly batch: Slot[]; readonly started: number; readonly span: number } | undefined;

/**
 * The body of a batch, called from inside the outer timed entry. Kept small:
 * it can be terminated at any point, so it only writes each slot's fields.
 */
function runBatchBody(): void {
  const state = current;
  if (!state) return;
  for (let i = 0; i < state.batch.length; i++) {
    const slot = state.batch[i];
    const now = performance.now();
    if (i > 0 && now - state.started > state.span) return;
    slot.started = now;
    slot.state = 'running';
    let ok = false;
    try {
      slot.entry.run(undefined);
      ok = true;
    } catch {
      // never read: a realm value
    }
    slot.ms = performance.now() - now;
    slot.state = ok ? 'done' : 'threw';
  }
}

let context: vm.Context | undefined;
let script: vm.Script | undefined;

/** node:vm's watchdog only: a private context that holds the host's batch function; no user code ever runs in it. */
function batchContext(): vm.Context {
  if (!context) {
    const global = Object.create(null) as Record<string, unknown>;
    global.run = runBatchBody;
    context = vm.createContext(global, { name: 'vmgate entry batch', codeGeneration: { strings: false, wasm: false } });
  }
  return context;
}

function batchScript(): vm.Script {
  script ??= new vm.Script('run()', { filename: 'vmgate:batch' });
  return script;
}
