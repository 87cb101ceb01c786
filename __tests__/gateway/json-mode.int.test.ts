import { connect, startTestGateway } from '../helpers/gateway';

describe('JSON mode (vmgate.v1)', () => {
  test('hello, then a session with REPL semantics', async () => {
    const gateway = await startTestGateway();
    const client = await connect(gateway);
    const hello = await client.next();
    expect(hello).toMatchObject({
      type: 'hello',
      protocol: 'vmgate.v1',
      server: { name: 'vmgate', version: expect.any(String) },
      limits: { maxFrameBytes: 1048576, defaultTimeoutMs: 5000 },
      shared: null,
      user: null,
    });
    expect(hello.session).toMatch(/^[0-9a-f-]{36}$/);
    await client.eval('let a = 6');
    expect(await client.eval('a * 7')).toMatchObject({
      type: 'result',
      value: 42,
      text: '42',
      stats: { ms: expect.any(Number) },
    });
  });

  test('log frames stream before the terminal frame, with the request id', async () => {
    const gateway = await startTestGateway();
    const client = await connect(gateway);
    await client.next();
    const { frame, logs } = await client.request({ op: 'eval', code: 'console.log("one"); console.warn("two"); 3' });
    expect(logs).toEqual([
      { type: 'log', id: 'r1', level: 'log', text: 'one' },
      { type: 'log', id: 'r1', level: 'warn', text: 'two' },
    ]);
    expect(frame).toMatchObject({ type: 'result', id: 'r1', value: 3 });
  });

  test("a timer's output after its eval finished still carries that eval's id", async () => {
    const gateway = await startTestGateway();
    const client = await connect(gateway);
    await client.next();
    const { frame } = await client.request({ op: 'eval', code: 'setTimeout(() => console.log("later"), 30); "armed"' });
    expect(frame).toMatchObject({ type: 'result', id: 'r1', value: 'armed' });
    expect(await client.next()).toEqual({ type: 'log', id: 'r1', level: 'log', text: 'later' });
  });

  test('values JSON cannot carry are tagged', async () => {
    const gateway = await startTestGateway();
    const client = await connect(gateway);
    await client.next();
    expect((await client.eval('undefined')).value).toEqual({ $type: 'undefined' });
    expect((await client.eval('10n')).value).toEqual({ $type: 'bigint', value: '10' });
    expect((await client.eval('new Date(0)')).value).toEqual({ $type: 'date', value: '1970-01-01T00:00:00.000Z' });
    expect((await client.eval('({ s: "x", n: [1, 2] })')).value).toEqual({ s: 'x', n: [1, 2] });
  });

  test('errors carry stable codes', async () => {
    const gateway = await startTestGateway({ session: { defaultTimeoutMs: 200 } });
    const client = await connect(gateway);
    await client.next();
    expect(await client.eval('null.x')).toMatchObject({
      type: 'error',
      error: { code: 'UNCAUGHT', name: 'TypeError', message: "Cannot read properties of null (reading 'x')" },
    });
    expect(await client.eval('let = =')).toMatchObject({
      error: {
        code: 'SYNTAX_ERROR',
        message: "Unexpected token '='",
        line: 1,
        column: 7,
        text: "let = =\n      ^\n\nUncaught SyntaxError: Unexpected token '='",
      },
    });
    expect(await client.eval('while (true) {}')).toMatchObject({ error: { code: 'TIMEOUT' } });
    expect((await client.request({ op: 'commit' })).frame).toMatchObject({
      type: 'error',
      error: { code: 'DB_UNAVAILABLE' },
    });
  });

  test('_ and _error, as in the Node REPL', async () => {
    const gateway = await startTestGateway();
    const client = await connect(gateway);
    await client.next();
    await client.eval('6 * 7');
    expect(await client.eval('_')).toMatchObject({ type: 'result', value: 42, text: '42' });
    await client.eval('throw new RangeError("r")');
    // An error leaves _ as it was.
    expect(await client.eval('_')).toMatchObject({ value: 42 });
    expect(await client.eval('_error.message')).toMatchObject({ value: 'r' });
  });

  test('malformed frames get BAD_REQUEST and the session goes on', async () => {
    const gateway = await startTestGateway();
    const client = await connect(gateway);
    await client.next();
    client.send('not json');
    expect(await client.next()).toMatchObject({ type: 'error', id: null, error: { code: 'BAD_REQUEST' } });
    client.send('[1, 2]');
    expect(await client.next()).toMatchObject({ type: 'error', id: null, error: { code: 'BAD_REQUEST' } });
    client.send({ op: 'nope', id: 7 });
    expect(await client.next()).toMatchObject({
      type: 'error',
      id: 7,
      error: { code: 'BAD_REQUEST', message: 'unknown op "nope"' },
    });
    client.send({ op: 'eval', id: 'x' });
    expect(await client.next()).toMatchObject({ type: 'error', id: 'x', error: { code: 'BAD_REQUEST' } });
    client.send({ op: 'eval', id: { nested: true }, code: '1' });
    expect(await client.next()).toMatchObject({ type: 'error', id: null, error: { code: 'BAD_REQUEST' } });
    client.send({ op: 'eval', id: 'neg', code: '1', timeoutMs: -5 });
    expect(await client.next()).toMatchObject({ type: 'error', id: 'neg', error: { code: 'BAD_REQUEST' } });
    client.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    expect(await client.next()).toMatchObject({ type: 'error', error: { code: 'BAD_REQUEST' } });
    expect(await client.eval('"still fine"')).toMatchObject({ type: 'result', value: 'still fine' });
  });

  test('ping, interrupt and the bounded queue', async () => {
    const gateway = await startTestGateway({ session: { maxQueuedEvals: 1 } });
    const client = await connect(gateway);
    await client.next();
    expect((await client.request({ op: 'ping' })).frame).toEqual({ type: 'pong', id: 'r1' });
    client.send({ op: 'eval', id: 'slow', code: 'await new Promise((r) => setTimeout(r, 10000))', timeoutMs: 20000 });
    client.send({ op: 'eval', id: 'queued', code: '1' });
    client.send({ op: 'eval', id: 'over', code: '2' });
    expect((await client.until('error', 'over')).frame).toMatchObject({ error: { code: 'LIMIT' } });
    client.send({ op: 'interrupt', id: 'int' });
    const terminals = new Map<unknown, Record<string, unknown>>();
    while (terminals.size < 3) {
      const frame = await client.next();
      if (frame.type !== 'log') terminals.set(frame.id, frame);
    }
    expect(terminals.get('slow')).toMatchObject({ type: 'error', error: { code: 'INTERRUPTED' } });
    expect(terminals.get('int')).toMatchObject({ type: 'ok' });
    expect(terminals.get('queued')).toMatchObject({ type: 'result', value: 1 });
  });

  test('every request with an id gets exactly one terminal frame', async () => {
    const gateway = await startTestGateway({ session: { defaultTimeoutMs: 100 } });
    const client = await connect(gateway);
    await client.next();
    const requests = [
      { op: 'eval', code: '1' },
      { op: 'eval', code: 'throw 1' },
      { op: 'eval', code: 'x x' },
      { op: 'eval', code: 'while(true){}' },
      { op: 'eval', code: 'console.log(1); await null; 2' },
      { op: 'ping' },
      { op: 'commit' },
      { op: 'rollback' },
      { op: 'interrupt' },
      { op: 'bogus' },
      { op: 'eval' },
    ];
    for (const [i, r] of requests.entries()) client.send({ ...r, id: i });
    client.send({ op: 'eval', id: 'last', code: '"done"', timeoutMs: 1000 });
    const terminal = new Map<unknown, number>();
    for (;;) {
      const frame = await client.next();
      if (frame.type === 'log') continue;
      terminal.set(frame.id, (terminal.get(frame.id) ?? 0) + 1);
      if (frame.id === 'last') break;
    }
    await new Promise((r) => setTimeout(r, 50));
    for (const extra of client.frames.slice(-5)) expect((extra as { id: unknown }).id).not.toBe(undefined);
    expect([...terminal.entries()].sort((a, b) => String(a[0]).localeCompare(String(b[0])))).toEqual(
      [...requests.map((_r, i) => [i, 1]), ['last', 1]].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    );
  });
});
