import path from 'node:path';
import { connect, type Frame, startTestGateway, type TestClient } from '../helpers/gateway';

/**
 * The `complete` op over real sockets (docs/protocol.md, "complete"): what it
 * offers, and that it never runs user code — getters, setters, Proxy traps,
 * `toJSON` — and stays bounded on huge objects and long prototype chains.
 */

jest.setTimeout(60_000);

const SHARED = path.join(__dirname, '..', '..', 'examples', 'shared-state.json');

async function complete(client: TestClient, code: string, cursor?: number): Promise<Frame> {
  return (await client.request({ op: 'complete', code, ...(cursor === undefined ? {} : { cursor }) })).frame;
}

async function names(client: TestClient, code: string): Promise<string[]> {
  const frame = await complete(client, code);
  expect(frame.type).toBe('completions');
  return frame.candidates as string[];
}

async function session(options: Parameters<typeof startTestGateway>[0] = {}): Promise<TestClient> {
  const client = await connect(await startTestGateway({ sharedFile: SHARED, ...options }));
  await client.next(); // hello
  return client;
}

describe('completion (op "complete")', () => {
  test('properties of a dotted path, globals, bindings and keywords, with the range they replace', async () => {
    const client = await session();
    expect(await complete(client, 'shared.cu')).toEqual({
      type: 'completions',
      id: 'r1',
      from: 7,
      to: 9,
      candidates: ['currencies'],
      truncated: false,
    });
    const shared = await names(client, 'shared.');
    expect(shared.slice(0, 2)).toEqual(['currencies', 'products']);
    expect(shared).toContain('hasOwnProperty'); // inherited, after the own names
    expect(shared.indexOf('hasOwnProperty')).toBeGreaterThan(shared.indexOf('products'));
    expect(await names(client, 'shared.currencies.U')).toEqual(['USD']);
    expect(await names(client, 'shared?.currencies.G')).toEqual(['GBP']);

    await client.eval('let alpha = 1; const beta = { gamma: { delta: 1 } }; var s = "text"');
    expect(await names(client, 'alp')).toEqual(['alpha']);
    expect(await names(client, 'beta.gamma.')).toContain('delta'); // a const binding is followed
    expect(await names(client, 's.toUpp')).toEqual(['toUpperCase']);
    expect(await names(client, 'Math.P')).toEqual(['PI']);
    expect(await names(client, 'typeo')).toEqual(['typeof']);
    expect(await names(client, 'x = Math.max(1, Math.mi')).toEqual(['min']);
    await client.eval('({ fooBar: 1 })');
    expect(await names(client, '_.foo')).toEqual(['fooBar']); // the last result, as in the Node REPL
    expect(await names(client, '__vmga')).toEqual([]);
    expect(await names(client, '__vmgate.')).toEqual([]);

    // The cursor in the middle: only the text before it counts.
    expect(await complete(client, 'Math.P + 1', 6)).toMatchObject({ from: 5, to: 6, candidates: ['PI'] });
    // Nothing is evaluated that is not a plain path; nothing inside strings or comments.
    for (const code of ['f().', 'a[0].', '"shared.', '// shared.', '1.', '`shared.', '(1 + 2).', 'shared.x.y.']) {
      expect(await names(client, code)).toEqual([]);
    }
    // The realm's lazily built globals are followed (console is built on the spot); `db` and `sql`
    // run library code when built, so they are followed only once the session has used them.
    expect(await names(client, 'console.lo')).toEqual(['log']);
    expect(await names(client, 'db.selectF')).toEqual([]);
    expect((await client.eval('typeof db.selectFrom')).value).toBe('function');
    expect(await names(client, 'db.selectF')).toEqual(['selectFrom']);
  });

  test('no getter, setter, Proxy trap or toJSON runs; huge objects and long chains stay bounded', async () => {
    const client = await session();
    await client.eval(`
      globalThis.hits = [];
      const note = (what) => { hits.push(what); return { x: 1 } };
      globalThis.withGetter = { get g() { return note('getter') }, plain: { x: 1 } };
      Object.defineProperty(globalThis, 'globalGetter', { get() { return note('global getter') }, configurable: true });
      const traps = {};
      for (const trap of ['get', 'has', 'ownKeys', 'getOwnPropertyDescriptor', 'getPrototypeOf', 'defineProperty', 'apply', 'construct']) {
        traps[trap] = (...args) => { note('trap ' + trap); return Reflect[trap](...args) };
      }
      globalThis.prox = new Proxy({ a: 1 }, traps);
      globalThis.revocableProxy = Proxy.revocable({ a: 1 }, traps).proxy;
      globalThis.holder = { prox, inner: { prox } };
      globalThis.onProxy = Object.create(prox);
      onProxy.own = 1;
      globalThis.loop = new Proxy({}, { getPrototypeOf() { note('loop'); return loop } });
      let deep = {};
      for (let i = 0; i < 5000; i++) deep = Object.create(deep);
      globalThis.deep = deep;
      globalThis.longNames = { short: 1, ['n'.repeat(100000)]: 2 };
      Array.prototype.map = function () { note('map'); return [] };
      Object.freeze = function (o) { note('freeze'); return o };
      globalThis.big = {};
      for (let i = 0; i < 200000; i++) big['k' + i] = i;
      'ready'`);
    expect(await names(client, 'withGetter.')).toEqual(expect.arrayContaining(['g', 'plain']));
    expect(await names(client, 'withGetter.g.')).toEqual([]);
    expect(await names(client, 'withGetter.plain.')).toContain('x');
    expect(await names(client, 'globalGetter.')).toEqual([]);
    expect(await names(client, 'globalGett')).toEqual(['globalGetter']);
    expect(await names(client, 'prox.')).toEqual([]);
    expect(await names(client, 'revocableProxy.')).toEqual([]);
    expect(await names(client, 'holder.prox.')).toEqual([]);
    expect(await names(client, 'holder.inner.prox.a')).toEqual([]);
    expect(await names(client, 'onProxy.')).toEqual(['own']);
    expect(await names(client, 'longNames.')).toContain('short');
    expect((await names(client, 'longNames.n')).length).toBe(0);
    expect(await names(client, 'db.')).toEqual([]); // not built yet: building it would call the replaced builtins
    expect(await names(client, 'loop.')).toEqual([]);
    expect((await names(client, 'deep.')).length).toBeLessThanOrEqual(1000);

    // Array.prototype planted with an index setter and toJSON: the realm's answer is built without them.
    await client.eval(`
      Object.defineProperty(Array.prototype, '0', { set(v) { note('index setter') }, configurable: true });
      Array.prototype.toJSON = function () { note('toJSON'); return [] };
      'planted'`);
    expect(await names(client, 'Math.P')).toEqual(['PI']);
    await client.eval(`delete Array.prototype[0]; delete Array.prototype.toJSON; 'removed'`);

    const huge = await complete(client, 'big.');
    if (huge.type === 'completions') {
      expect(huge).toMatchObject({ truncated: true });
      expect((huge.candidates as string[]).length).toBe(1000);
    } else {
      expect(huge).toMatchObject({ type: 'error', error: { code: 'TIMEOUT' } });
    }
    const none = await complete(client, 'big.zzz');
    expect(['completions', 'error']).toContain(none.type);

    expect((await client.eval('hits')).value).toEqual([]);
    expect((await client.eval('1 + 1')).value).toBe(2);
  });

  test('answered while an eval waits, without disturbing it; bad requests get precise errors', async () => {
    const client = await session();
    const evalId = 'waiting';
    client.send({
      op: 'eval',
      id: evalId,
      code: 'let early = 1; await new Promise((r) => setTimeout(r, 1500)); early + 1',
    });
    // Give the eval time to start and declare its binding.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const { frame } = await client.request({ op: 'complete', code: 'earl' });
    expect(frame).toMatchObject({ type: 'completions', candidates: ['early'] });
    const { frame: result } = await client.until('result', evalId);
    expect(result).toMatchObject({ value: 2 });

    client.send({ op: 'complete', id: 'b1', code: 'x', cursor: 5 });
    expect(await client.next()).toMatchObject({ type: 'error', id: 'b1', error: { code: 'BAD_REQUEST' } });
    client.send({ op: 'complete', id: 'b2' });
    expect(await client.next()).toMatchObject({ type: 'error', id: 'b2', error: { code: 'BAD_REQUEST' } });
    client.send({ op: 'complete', id: 'b3', code: 'x', cursor: 0.5 });
    expect(await client.next()).toMatchObject({ type: 'error', id: 'b3', error: { code: 'BAD_REQUEST' } });
    client.send({ op: 'complete', id: 'b4', code: `${'x'.repeat(70000)}.` });
    expect(await client.next()).toMatchObject({ type: 'error', id: 'b4', error: { code: 'LIMIT' } });
    expect((await client.eval('early')).value).toBe(1);
  });

  test('text mode: .complete <code>', async () => {
    const gateway = await startTestGateway({ sharedFile: SHARED });
    const client = await connect(gateway, { json: false });
    await client.next(); // banner
    expect(await client.line('.complete shared.cur')).toBe('currencies');
    expect(await client.line('.complete Math.P')).toBe('PI');
    expect(await client.line('.complete nothingLikeThis')).toBe('(no completions)');
    expect(await client.line('.help')).toContain('.complete');
  });

  test('works the same in an executor process', async () => {
    const client = await session({ executors: { count: 1 } });
    expect(await names(client, 'shared.prod')).toEqual(['products']);
    await client.eval('globalThis.p = new Proxy({}, { ownKeys() { throw new Error("trap ran") } })');
    expect(await names(client, 'p.')).toEqual([]);
    expect((await client.eval('6 * 7')).value).toBe(42);
  });
});
