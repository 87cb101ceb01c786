import { StartError } from '../../common/start-error';
import { DatabaseUrlError, parseDatabaseUrl } from '../../db/database-url';
import { GatewayStartError } from '../../gateway/start-error';
import { errorBody, errors } from '../../protocol/error-codes';
import {
  clientFrame,
  completionsFrame,
  errorFrame,
  errorFrameOf,
  helloFrame,
  logFrame,
  numberedFrame,
  okFrame,
  parseServerFrame,
  pongFrame,
  resultFrame,
  resumedFrame,
} from '../../protocol/frames';
import { JSON_SUBPROTOCOL, type ServerFrame } from '../../protocol/messages';

const stats = { ms: 1, cpuMs: 0.5, dbMs: 0, queries: 0, transactionMs: 0 };

describe('the wire contract (protocol/)', () => {
  test('every builder yields the typed frame, fields in one order', () => {
    const cases: [string, ServerFrame][] = [
      [logFrame(1, 'info', 'hi'), { type: 'log', id: 1, level: 'info', text: 'hi' }],
      [logFrame(null, 'warn', '[x]', true), { type: 'log', id: null, level: 'warn', text: '[x]', notKept: true }],
      [
        resultFrame('a', '{"$type":"bigint","value":"1"}', '1n', stats),
        {
          type: 'result',
          id: 'a',
          value: { $type: 'bigint', value: '1' },
          text: '1n',
          stats,
        },
      ],
      [okFrame(2), { type: 'ok', id: 2 }],
      [pongFrame(null), { type: 'pong', id: null }],
      [
        completionsFrame({ id: 3, from: 0, to: 2, candidates: ['ab'], truncated: false }),
        {
          type: 'completions',
          id: 3,
          from: 0,
          to: 2,
          candidates: ['ab'],
          truncated: false,
        },
      ],
      [
        resumedFrame({ session: 's', seq: 9, replayed: 2, notKept: 0, resume: { token: 't', graceMs: 5 } }),
        {
          type: 'resumed',
          session: 's',
          seq: 9,
          replayed: 2,
          notKept: 0,
          resume: { token: 't', graceMs: 5 },
        },
      ],
    ];
    for (const [text, frame] of cases) expect(text).toBe(JSON.stringify(frame));
    const hello = {
      session: 's',
      protocol: JSON_SUBPROTOCOL,
      server: { name: 'vmgate', version: '1' },
      limits: { maxFrameBytes: 1 },
      shared: null,
      user: null,
      resume: null,
    } as const;
    // Fields given in another order still go out in the contract's order.
    const shuffled = Object.fromEntries(Object.entries(hello).reverse()) as typeof hello;
    expect(helloFrame(shuffled)).toBe(JSON.stringify({ type: 'hello', ...hello }));
  });

  test('an error frame splices the encoded thrown value and keeps stats last', () => {
    const text = errorFrame(7, errorBody('UNCAUGHT', 'boom', { name: 'Error' }), stats, '{"$type":"undefined"}');
    expect(text).toBe(
      `{"type":"error","id":7,"error":{"code":"UNCAUGHT","message":"boom","name":"Error","value":{"$type":"undefined"}},"stats":${JSON.stringify(stats)}}`,
    );
    expect(numberedFrame(4, okFrame(1))).toBe('{"seq":4,"type":"ok","id":1}');
  });

  test('one factory builds every error payload: code and message first, never replaced by a detail', () => {
    expect(JSON.stringify(errorBody('LIMIT', 'too much', { code: 'X', message: 'Y', notKept: true }))).toBe(
      '{"code":"LIMIT","message":"too much","notKept":true}',
    );
    expect(JSON.stringify(errors.timeout(5))).toBe(
      '{"code":"TIMEOUT","message":"evaluation exceeded its time budget of 5 ms","timeoutMs":5}',
    );
    expect(JSON.parse(errorFrameOf(null, 'BAD_REQUEST', 'no'))).toEqual({
      type: 'error',
      id: null,
      error: { code: 'BAD_REQUEST', message: 'no' },
    });
  });

  test('clients parse frames and build requests through the contract', () => {
    expect(parseServerFrame('{"type":"pong","id":1}')).toEqual({ type: 'pong', id: 1 });
    for (const bad of ['nope', '5', 'null', '[]', '{"id":1}']) expect(parseServerFrame(bad)).toBeUndefined();
    expect(clientFrame({ op: 'eval', id: 1, code: '1' })).toBe('{"op":"eval","id":1,"code":"1"}');
  });

  test('startup errors share one root with a stable code', () => {
    const gateway = new GatewayStartError('PORT_IN_USE', 'port 1 on h is already in use');
    expect(gateway).toBeInstanceOf(StartError);
    expect(gateway.name).toBe('GatewayStartError');
    let url: unknown;
    try {
      parseDatabaseUrl('http://x');
    } catch (error) {
      url = error;
    }
    expect(url).toBeInstanceOf(DatabaseUrlError);
    expect(url).toBeInstanceOf(StartError);
    expect((url as StartError).code).toBe('BAD_DATABASE_URL');
  });
});
