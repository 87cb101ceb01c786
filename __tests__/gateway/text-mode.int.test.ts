import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { connect, startTestGateway } from '../helpers/gateway';

const run = promisify(execFile);
const WSCAT = path.join(__dirname, '..', '..', 'node_modules', 'wscat', 'bin', 'wscat');

describe('text mode (no subprotocol, as wscat connects)', () => {
  test('a banner, then results rendered like the Node REPL', async () => {
    const gateway = await startTestGateway();
    const client = await connect(gateway, { json: false });
    expect(await client.next()).toMatch(/^vmgate \S+ — session [0-9a-f-]{36}\. Type \.help for help\.$/);
    expect(await client.line('let a = 6')).toBe('undefined');
    expect(await client.line('a * 7')).toBe('42');
    expect(await client.line('_ + 1')).toBe('43');
    expect(await client.line('({ a: 1, s: "x" })')).toBe("{ a: 1, s: 'x' }");
    expect(await client.line('null.x')).toBe("Uncaught TypeError: Cannot read properties of null (reading 'x')");
    expect(await client.line('throw new RangeError("r")')).toBe('Uncaught RangeError: r\n    at REPL6:1:7');
    // As the Node REPL prints it: the line, V8's underline, then the message.
    expect(await client.line('let = =')).toBe("let = =\n      ^\n\nUncaught SyntaxError: Unexpected token '='");
    // An input cut short (wscat sends each line as a frame): where it ends, and how to send more lines.
    expect(await client.line('let x = {')).toMatch(
      /Uncaught SyntaxError: Unexpected end of input\n\(the input ends at line 1, column 10 before it is complete: .*send a multi-line input as one frame/,
    );
    expect(await client.line('foo bar')).toBe("foo bar\n    ^^^\n\nUncaught SyntaxError: Unexpected identifier 'bar'");
  });

  test('console output comes first, then the result', async () => {
    const gateway = await startTestGateway();
    const client = await connect(gateway, { json: false });
    await client.next();
    client.ws.send('console.log("hello"); 5');
    expect(await client.next()).toBe('hello');
    expect(await client.next()).toBe('5');
  });

  test('dot commands', async () => {
    const gateway = await startTestGateway({ session: { defaultTimeoutMs: 100 } });
    const client = await connect(gateway, { json: false });
    await client.next();
    expect(await client.line('.help')).toContain('.commit');
    expect(await client.line('.stats')).toBe('no evaluation has finished yet');
    await client.line('1');
    expect(await client.line('.stats')).toMatch(/^[\d.]+ ms total, [\d.]+ ms JavaScript/);
    expect(await client.line('.commit')).toMatch(/^Error \[DB_UNAVAILABLE\]/);
    expect(await client.line('.nope')).toBe('Unknown command .nope. Type .help for help.');
    expect(await client.line('while (true) {}')).toBe('Error [TIMEOUT]: evaluation exceeded its time budget of 100 ms');
    expect(await client.line('.5 + 1')).toBe('1.5');
  });

  test('.timeout shows and sets the budget of later evals, up to the server maximum', async () => {
    const gateway = await startTestGateway({ session: { defaultTimeoutMs: 100, maxTimeoutMs: 400 } });
    const client = await connect(gateway, { json: false });
    await client.next();
    expect(await client.line('.timeout')).toBe('evaluations may run 100 ms (server default 100 ms, maximum 400 ms)');
    // Longer than the default, well within the new budget.
    expect(await client.line('.timeout 300')).toBe('evaluations may now run 300 ms');
    expect(await client.line('const t0 = Date.now(); while (Date.now() - t0 < 150) {} "done"')).toBe("'done'");
    expect(await client.line('.timeout 99999')).toBe(
      "evaluations may now run 400 ms (the server's maximum; 99999 ms asked)",
    );
    expect(await client.line('while (true) {}')).toBe('Error [TIMEOUT]: evaluation exceeded its time budget of 400 ms');
    expect(await client.line('.timeout soon')).toMatch(/^\.timeout takes a whole number of milliseconds/);
    expect(await client.line('.timeout default')).toBe('evaluations may now run 100 ms');
  });

  test('the real wscat CLI, in text mode and in JSON mode', async () => {
    const gateway = await startTestGateway();
    const text = await run(
      process.execPath,
      [WSCAT, '-c', gateway.url, '-x', 'let a = 6', '-x', 'a * 7', '-w', '1', '--no-color'],
      {
        timeout: 20_000,
      },
    );
    expect(text.stdout.split('\n').slice(1, 3)).toEqual(['undefined', '42']);
    const json = await run(
      process.execPath,
      [
        WSCAT,
        '-c',
        gateway.url,
        '-s',
        'vmgate.v1',
        '-x',
        JSON.stringify({ op: 'eval', id: 1, code: '6 * 7' }),
        '-w',
        '1',
        '--no-color',
      ],
      { timeout: 20_000 },
    );
    expect(json.stdout).toContain('"type":"result","id":1,"value":42');
  });
});
