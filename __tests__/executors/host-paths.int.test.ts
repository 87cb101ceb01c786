import type { ExecutorPool } from '../../executors/pool';
import type { Gateway } from '../../gateway/server';
import { openSession, startExecutorGateway } from '../helpers/executors';
import type { TestClient } from '../helpers/gateway';

/**
 * Paths where Node's own host code touches realm objects outside a timed
 * entry (issue 11, item 1). Every attack runs in a session of the only
 * executor, next to bystander sessions of the same process: the executor
 * must not die or hang (its pid and state stay the same), the attacker's
 * session keeps working, and every bystander keeps its bindings.
 *
 * Each path is tried with a trap that throws and with one that loops: the
 * first used to kill the process (every session closed with 1011), the
 * second to hang it outside the watchdog's reach.
 */

jest.setTimeout(60_000);

let gateway: Gateway;
let pool: ExecutorPool;

beforeAll(async () => {
  ({ gateway, pool } = await startExecutorGateway({
    session: { defaultTimeoutMs: 1_000, maxTimeoutMs: 2_000 },
    executors: { count: 1, unresponsiveMs: 1_500, heartbeatMs: 100 },
  }));
}, 120_000);

afterAll(async () => {
  await gateway?.close();
});

const TRAPS = {
  throwing: `{ get(target, key) { throw new Error('trap ' + String(key)); }, getOwnPropertyDescriptor() { throw new Error('gopd'); }, has() { throw new Error('has'); } }`,
  looping: `{ get(target, key) { for (;;) {} }, getOwnPropertyDescriptor() { for (;;) {} }, has() { for (;;) {} } }`,
} as const;

const GETTERS = {
  throwing: `function () { throw new Error('getter'); }`,
  looping: `function () { for (;;) {} }`,
} as const;

/** Each attack leaves a rejected promise (or error) for Node to find after the entry. */
const PATHS: Record<string, (trap: string, getter: string) => string> = {
  "a Proxy as Promise.prototype's prototype": (trap) =>
    `Object.setPrototypeOf(Promise.prototype, new Proxy({}, ${trap})); Promise.reject(1); 'sent'`,
  "a Proxy as a promise's own prototype": (trap) =>
    `{ const p = new Promise((_, reject) => setTimeout(() => reject(2), 0)); Object.setPrototypeOf(p, new Proxy({}, ${trap})); } 'sent'`,
  'a promise built with a Proxy new.target prototype': (trap) =>
    `{ function F() {} F.prototype = new Proxy({}, ${trap}); Reflect.construct(Promise, [(_, reject) => reject(3)], F); } 'sent'`,
  'a Promise subclass whose prototype chain holds a Proxy': (trap) =>
    `{ class P extends Promise {} Object.setPrototypeOf(P.prototype, new Proxy(Promise.prototype, ${trap})); P.reject(4); (async () => { throw 5; })(); } 'sent'`,
  "getters on every key Node's tracking could read": (_trap, getter) =>
    `{ const keys = Reflect.ownKeys(Promise.resolve()); for (const key of keys) Object.defineProperty(Promise.prototype, key, { get: ${getter} }); Promise.reject(6); } 'sent'`,
  'a rejection reason that is a Proxy': (trap) => `Promise.reject(new Proxy({}, ${trap})); 'sent'`,
  'a handler attached late (rejectionHandled)': (trap) =>
    `{ const p = Promise.reject(new Proxy({}, ${trap})); setTimeout(() => p.catch(() => {}), 20); } 'sent'`,
  'queueMicrotask callback throwing a hostile value': (trap) =>
    `queueMicrotask(() => { throw new Proxy({}, ${trap}); }); 'sent'`,
  'a timer callback throwing a hostile value': (trap) =>
    `setTimeout(() => { throw new Proxy({}, ${trap}); }, 0); 'sent'`,
  "the watchdog's timeout error meeting hostile Error.prototype getters": (_trap, getter) =>
    `for (const k of ['message', 'name', 'stack', 'cause', 'toString', 'constructor']) { try { Object.defineProperty(Error.prototype, k, { get: ${getter} }); } catch {} } for (;;) {}`,
  'a thenable with a hostile then, resolved into a promise': (trap) =>
    `Promise.resolve(new Proxy({}, ${trap})); (async () => new Proxy({}, ${trap}))(); 'sent'`,
  'an async function rejecting with getters on its error': (_trap, getter) =>
    `(async () => { const e = new Error('x'); for (const k of ['stack', 'message', 'name', 'code', 'cause']) Object.defineProperty(e, k, { get: ${getter} }); throw e; })(); 'sent'`,
};

/** Sessions of the same executor, each with a binding of its own (helpers/gateway.ts closes clients after each test). */
async function openBystanders(): Promise<TestClient[]> {
  const bystanders: TestClient[] = [];
  for (let i = 0; i < 3; i++) {
    const { client } = await openSession(gateway);
    expect(await client.eval(`let mine = 'bystander ${i}'; mine`)).toMatchObject({ type: 'result' });
    bystanders.push(client);
  }
  return bystanders;
}

async function checkBystanders(bystanders: readonly TestClient[]): Promise<void> {
  for (const [i, client] of bystanders.entries()) {
    expect(await client.eval('mine')).toMatchObject({ type: 'result', value: `bystander ${i}` });
  }
}

describe("Node's host code never runs realm code outside an entry", () => {
  for (const [path, build] of Object.entries(PATHS)) {
    for (const kind of ['throwing', 'looping'] as const) {
      test(`${path} (${kind})`, async () => {
        // (A failed case kills the executor: the next one waits for its replacement.)
        for (let waited = 0; pool.executors[0]?.state !== 'ready' && waited < 30_000; waited += 100) {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        const executor = pool.executors[0];
        const pid = executor?.pid;
        expect(executor?.state).toBe('ready');
        const bystanders = await openBystanders();
        const { client } = await openSession(gateway);
        expect(await client.eval('let kept = 41; kept')).toMatchObject({ value: 41 });

        const sent = await client.eval(build(TRAPS[kind], GETTERS[kind]));
        expect(['result', 'error']).toContain(sent.type);
        // Rejection tracking runs on the next ticks after the entry; a timer
        // attack fires a little later. Give them time to happen, then look.
        await new Promise((resolve) => setTimeout(resolve, 150));
        expect(await client.eval('kept + 1')).toMatchObject({ type: 'result', value: 42 });
        await checkBystanders(bystanders);

        expect(pool.executors[0]).toBe(executor);
        expect(executor?.pid).toBe(pid);
        expect(executor?.state).toBe('ready');
        client.ws.close();
        await client.closed;
      });
    }
  }
});
