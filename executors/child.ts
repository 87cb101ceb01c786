import v8 from 'node:v8';
import { provideRealmBundles } from '../common/realm-bundle';
import { compileKyselyBundle } from '../db/kysely-bundle';
import { DatabasePool } from '../db/pool';
import { errorBody } from '../protocol/error-codes';
import type { EngineDatabase } from '../sandbox/database-calls';
import type { EngineInput, EngineOutput } from '../sandbox/engine-messages';
import { describeWatchdog, NATIVE_WATCHDOG_ARG, watchdogKind } from '../sandbox/watchdog';
import { SharedStateStore } from '../shared-state/store';
import { MessageBatcher, unbatch } from './message-batch';
import type { ExecutorInit, ExecutorReport, FromExecutor, OpenInfo, TestResult, ToExecutor } from './protocol';
import { AccountedEngine, UsageLedger } from './usage';

/**
 * The entry point of an executor process (started by executors/executor.ts).
 * It hosts many session engines, each opened, fed and closed by messages from
 * the gateway, with its own copy of the shared state and its own database
 * pool. It holds no sockets to clients, no tokens and no secrets in its
 * environment; it runs under Node's permission model (no file writes, no
 * child processes, no workers, no addons but the watchdog's, reads limited to
 * the code it runs),
 * with code generation from strings disallowed in its own realm and a V8 heap
 * limit. The gateway's watchdog kills it when it stops answering or grows
 * past its memory bound.
 */

type Hosted = { readonly engine: AccountedEngine };

let init: ExecutorInit | undefined;
let shared: SharedStateStore | undefined;
let pool: DatabasePool | undefined;
let database: EngineDatabase | undefined;
let heapLimit = 0;
const ledger = new UsageLedger();
const sessions = new Map<number, Hosted>();

/** Messages of this turn, written together (message-batch.ts). */
const out = new MessageBatcher<FromExecutor>((message) => {
  if (process.connected) process.send?.(message);
});

function send(message: FromExecutor): void {
  out.push(message);
}

/** A message the gateway should not have sent: a bug on its side, reported on stderr. */
function complain(text: string): void {
  process.stderr.write(`vmgate executor: ${text}\n`);
}

// Loads the watchdog addon now, before `disarm` removes `dlopen`. Given the
// native watchdog but unable to load it, entries fall back to node:vm's: say so.
if (watchdogKind() !== 'native' && process.argv.includes(NATIVE_WATCHDOG_ARG)) complain(describeWatchdog());

process.on('message', (raw: unknown) => {
  if (!unbatch<ToExecutor>(raw, onMessage)) complain('malformed message');
});

function onMessage(message: ToExecutor): void {
  if (init === undefined) {
    if (message[0] !== 'init') {
      complain(`expected init, got ${String(message[0])}`);
      return;
    }
    start(message[1]);
    return;
  }
  switch (message[0]) {
    case 'open':
      open(message[1], message[2]);
      return;
    case 'in':
      input(message[1], message[2]);
      return;
    case 'pause':
      sessions.get(message[1])?.engine.pause();
      return;
    case 'resume':
      sessions.get(message[1])?.engine.resume();
      return;
    case 'ping':
      send(['pong', message[1], report()]);
      return;
    case 'shared':
      reloadShared(message[1]);
      return;
    case 'test':
      test(message[1], message[2]);
      return;
    case 'exit':
      void shutdown();
      return;
    default:
      complain(`unknown message ${String(message[0])}`);
  }
}

// The gateway went away: nothing here outlives it.
process.on('disconnect', () => process.exit(0));
// Interrupts are the gateway's to handle (it runs its executors' shutdown); an
// executor in its own process group should not see one, and ignores any that
// reaches it anyway.
process.on('SIGINT', () => {});

function start(config: ExecutorInit): void {
  init = config;
  provideRealmBundles(config.realmBundles);
  try {
    shared = config.sharedFile ? SharedStateStore.load(config.sharedFile) : undefined;
  } catch (error) {
    send(['fatal', `cannot load the shared state: ${(error as Error).message}`]);
    out.flush();
    setImmediate(() => process.exit(1));
    return;
  }
  let kysely: ReturnType<typeof compileKyselyBundle> | undefined;
  const bundle = config.kyselyBundle;
  if (config.database.kind === 'pool') {
    pool = new DatabasePool(config.database.options);
    database = { pool, hint: '', kysely: () => (kysely ??= compileKyselyBundle(bundle)) };
  } else {
    database = { pool: undefined, hint: config.database.hint, kysely: () => (kysely ??= compileKyselyBundle(bundle)) };
  }
  heapLimit = v8.getHeapStatistics().heap_size_limit;
  disarm();
  send(['ready', { pid: process.pid, heapLimit, shared: shared?.current.version ?? null }]);
}

/**
 * Powers this process never needs, removed before any session exists: a
 * signal to another process of the same user (the gateway, the embedded
 * database) is not covered by the permission model.
 */
function disarm(): void {
  const refuse = () => {
    throw new Error('not available in an executor');
  };
  for (const name of ['kill', '_kill', 'dlopen', 'setuid', 'setgid', 'seteuid', 'setegid', 'setgroups', 'initgroups']) {
    Object.defineProperty(process, name, { value: refuse, writable: false, configurable: false, enumerable: false });
  }
}

function open(sid: number, info: OpenInfo): void {
  if (sessions.has(sid)) {
    complain(`session ${sid} is already open`);
    return;
  }
  if (shared && info.shared !== null && shared.current.version !== info.shared) {
    // The gateway reloaded the file before telling us: catch up now.
    try {
      shared.reload();
    } catch (error) {
      complain(`shared state reload failed: ${(error as Error).message}`);
    }
  }
  const config = init as ExecutorInit;
  const engine = new AccountedEngine({
    limits: config.sessionLimits,
    shared: shared?.current.value,
    database,
    user: info.user,
    ledger,
    emit: (output: EngineOutput) => {
      send(['out', sid, output]);
      if (output.type === 'closed') sessions.delete(sid);
    },
  });
  sessions.set(sid, { engine });
}

function input(sid: number, message: EngineInput): void {
  const hosted = sessions.get(sid);
  if (!hosted) {
    // Closed here already (e.g. a close crossed an eval): answer so no request waits forever.
    if (message.type !== 'close' && typeof message.ref === 'number') {
      send(['out', sid, { type: 'error', ref: message.ref, error: errorBody('INTERRUPTED', 'session closed') }]);
    }
    return;
  }
  hosted.engine.send(message);
}

function reloadShared(version: string): void {
  if (!shared || shared.current.version === version) return;
  try {
    shared.reload();
  } catch (error) {
    complain(`shared state reload failed: ${(error as Error).message}`);
  }
}

function report(): ExecutorReport {
  const memory = process.memoryUsage();
  return {
    rss: memory.rss,
    heapUsed: memory.heapUsed,
    heapTotal: memory.heapTotal,
    heapLimit,
    external: memory.external,
    arrayBuffers: memory.arrayBuffers,
    sessions: sessions.size,
    dbBound: pool?.bound ?? 0,
    usage: ledger.report(),
  };
}

function test(id: number, op: string): void {
  if (!init?.testHooks) {
    complain('test messages are not enabled');
    return;
  }
  // Loaded only here: a production executor (test hooks off) never has the probes in memory.
  void import('./test-probes')
    .then(({ runTestProbe }) => runTestProbe(op))
    .then((result: TestResult) => send(['test', id, result]));
}

async function shutdown(): Promise<void> {
  await Promise.allSettled([...sessions.values()].map((hosted) => hosted.engine.close('executor shutting down')));
  await pool?.close();
  out.flush();
  process.exit(0);
}
