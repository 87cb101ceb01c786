import { openSession, type TestSession } from '../helpers/engine';

/**
 * The escape suite (docs/design.md §1). Each attack tries to get hold of an object
 * of the host realm; `isForeign(x)` in the realm says whether `x` belongs to
 * another realm (its prototype chain does not end at this realm's
 * Object.prototype), and `tryHost(x)` tries the classic constructor-chain
 * escape on it. Every attack must report `false` / no escape.
 */
const PROBES = `
  const REALM_OBJECT_PROTO = Object.prototype;
  globalThis.isForeign = (x) => {
    if (x === null || (typeof x !== 'object' && typeof x !== 'function')) return false;
    let p = x;
    for (let i = 0; i < 1000; i++) {
      const next = Object.getPrototypeOf(p);
      if (next === null) return p !== REALM_OBJECT_PROTO && p !== x;
      p = next;
    }
    return true;
  };
  globalThis.tryHost = (x) => {
    try {
      const F = x.constructor.constructor;
      const p = F('return process')();
      return typeof p === 'object' ? 'ESCAPED' : 'no';
    } catch {
      return 'no';
    }
  };
  globalThis.foreignSeen = [];
  globalThis.check = (label, x) => { if (isForeign(x) || tryHost(x) === 'ESCAPED') foreignSeen.push(label); };
`;

async function armed(): Promise<TestSession> {
  const s = openSession();
  const reply = await s.eval(PROBES);
  expect(reply.terminal.type).toBe('result');
  return s;
}

async function expectNoEscape(s: TestSession, code: string, timeoutMs = 5_000): Promise<void> {
  const reply = await s.eval(code, timeoutMs);
  if (reply.code === 'TIMEOUT') throw new Error(`attack timed out: ${code}`);
  expect(await s.text('foreignSeen')).toBe('[]');
  expect(await s.text('typeof process')).toBe("'undefined'");
}

describe('escape attempts fail to reach the host realm', () => {
  test('constructor chains from the global object and every injected global', async () => {
    const s = await armed();
    await expectNoEscape(
      s,
      `for (const name of ['console', 'setTimeout', 'setInterval', 'clearTimeout', 'queueMicrotask', 'URL', 'URLSearchParams',
        'TextEncoder', 'TextDecoder', 'structuredClone', 'atob', 'btoa', 'crypto', 'performance', '__vmgate']) {
        check(name, globalThis[name]);
      }
      check('this', this);
      check('globalThis.constructor', globalThis.constructor);
      check('proto of global', Object.getPrototypeOf(globalThis));
      check('console.log', console.log);
      check('__vmgate.r', __vmgate.r);
      check('timer id', setTimeout(() => {}, 1));
      try { this.constructor.constructor('return process')(); foreignSeen.push('Function from this') } catch (e) { check('codegen error', e) }`,
    );
  });

  test('every object reachable from globalThis belongs to the realm', async () => {
    const s = await armed();
    await expectNoEscape(
      s,
      `const seen = new Set(); const queue = [globalThis];
      // Touch the lazy globals so their objects exist.
      void [URL, URLSearchParams, TextEncoder, TextDecoder, structuredClone, atob, btoa, crypto, performance];
      while (queue.length > 0 && seen.size < 20000) {
        const o = queue.pop();
        if (o === null || (typeof o !== 'object' && typeof o !== 'function') || seen.has(o)) continue;
        seen.add(o);
        check('reachable', o);
        queue.push(Object.getPrototypeOf(o));
        for (const key of Reflect.ownKeys(o)) {
          const d = Object.getOwnPropertyDescriptor(o, key);
          if (!d) continue;
          if ('value' in d) queue.push(d.value); else { queue.push(d.get); queue.push(d.set); }
        }
      }
      seen.size`,
    );
  });

  test('errors thrown by the engine, including stack overflows, are realm errors', async () => {
    const s = await armed();
    await expectNoEscape(
      s,
      `try { null.x } catch (e) { check('TypeError', e) }
      try { (function f() { f() })() } catch (e) { check('RangeError', e) }
      try { new Array(-1) } catch (e) { check('RangeError2', e) }
      try { JSON.parse('{') } catch (e) { check('SyntaxError', e) }
      try { eval('1') } catch (e) { check('EvalError', e) }
      try { decodeURIComponent('%') } catch (e) { check('URIError', e) }`,
    );
  });

  test('a stack overflow while a stack is formatted never yields a host error (CVE-2023-29199 family)', async () => {
    const s = await armed();
    await expectNoEscape(
      s,
      `let n = 0;
      function probe(d) {
        try { probe(d + 1) } catch (x) { check('overflow', x) }
        const e = new Error('y');
        try { void e.stack; n++ } catch (x) { check('stack getter', x) }
        try { Error.captureStackTrace({}) } catch (x) { check('captureStackTrace', x) }
        try { void new TypeError('t').stack } catch (x) { check('TypeError stack', x) }
      }
      probe(0); n`,
      20_000,
    );
  });

  test('host calls at the edge of the stack never throw a host error into the realm', async () => {
    const s = await armed();
    await expectNoEscape(
      s,
      `function deep(d, f) { try { deep(d + 1, f) } catch (x) { check('deep', x) } try { f() } catch (x) { check('host call', x) } }
      deep(0, () => console.log(''));
      deep(0, () => setTimeout(() => {}, 1));
      deep(0, () => crypto.randomUUID());
      deep(0, () => new URL('https://a.example/'));
      deep(0, () => performance.now());`,
      20_000,
    );
  });

  test('Error.prepareStackTrace cannot be replaced, so call sites are never handed to user code', async () => {
    const s = await armed();
    const reply = await s.eval(`
      let sites = null;
      try { Error.prepareStackTrace = (e, cs) => { sites = cs; return 'x' } } catch {}
      try { Object.defineProperty(Error, 'prepareStackTrace', { value: (e, cs) => { sites = cs } }) } catch {}
      try { Error.stackTraceLimit = 100 } catch {}
      const e = new Error('m');
      [sites, typeof e.stack, Error.stackTraceLimit]`);
    // The stack users see is built by the host from user frames only, never by a user hook.
    expect(reply.text).toBe("[ null, 'string', undefined ]");
  });

  test('promises returned to and created by the realm are realm promises', async () => {
    const s = await armed();
    await expectNoEscape(
      s,
      `check('async fn', (async () => {})());
      check('then', Promise.resolve().then(() => {}));
      const p = await new Promise((r) => setTimeout(() => r({}), 1)); check('resolved value', p);
      async function* g() { yield 1 } const it = g(); check('async generator', it); check('next', it.next());
      check('async gen proto', Object.getPrototypeOf(g));`,
    );
  });

  test('Symbol.species and thenables only ever see realm objects', async () => {
    const s = await armed();
    await expectNoEscape(
      s,
      `class P extends Promise { static get [Symbol.species]() { return function (exec) { exec((...a) => a.forEach((x) => check('species arg', x)), () => {}); } } }
      P.resolve(1).then(() => {});
      const thenable = { then(res, rej) { check('then res', res); check('then rej', rej); res(1) } };
      await thenable;
      class A extends Array { static get [Symbol.species]() { return function (...a) { a.forEach((x) => check('array species', x)); return [] } } }
      new A(1, 2).map((x) => x);`,
    );
  });

  test('Proxy traps only ever see realm objects', async () => {
    const s = await armed();
    await expectNoEscape(
      s,
      `const handler = new Proxy({}, { get(_t, trap) { return (...args) => { args.forEach((a) => check('trap ' + String(trap), a)); return Reflect[trap](...args) } } });
      const hostile = new Proxy({ a: 1 }, handler);
      console.log(hostile);
      console.log('%o', hostile);
      console.table([hostile]);
      setTimeout(() => {}, 1, hostile);
      structuredClone({ x: 1 });
      try { throw hostile } catch (e) { check('thrown proxy', e) }
      hostile`,
    );
  });

  test('a proxy thrown out of an eval, or returned as its result, is handled inside the realm', async () => {
    const s = await armed();
    const thrown = await s.eval(
      'throw new Proxy({}, { get() { throw new Error("trap") }, getPrototypeOf() { throw 1 }, ownKeys() { throw 2 } })',
    );
    expect(thrown.code).toBe('UNCAUGHT');
    const returned = await s.eval('new Proxy({}, { get() { throw new Error("trap") }, ownKeys() { throw 2 } })');
    expect(['result', 'error']).toContain(returned.terminal.type);
    expect(await s.text('foreignSeen')).toBe('[]');
  });

  test('hostile getters on thrown values run inside the realm under its budget', async () => {
    const s = await armed();
    // Rendering never calls getters of a plain thrown object...
    const plain = await s.eval('throw { get name() { while (true) {} }, get message() { while (true) {} } }', 200);
    expect(plain.code).toBe('UNCAUGHT');
    expect(plain.text).toContain('[Getter]');
    // ...but reads name and message of an error, inside the realm, under the eval's budget.
    const error = await s.eval(
      'const spin = new Error("x"); Object.defineProperty(spin, "name", { get() { while (true) {} } }); throw spin',
      200,
    );
    expect(error.code).toBe('TIMEOUT');
    expect(
      (await s.eval('const e = new Error("x"); Object.defineProperty(e, "message", { get() { throw e } }); throw e'))
        .code,
    ).toBe('UNCAUGHT');
    expect(await s.text('1 + 1')).toBe('2');
  });

  test('__defineGetter__ / setters on prototypes the host might touch change nothing on the host side', async () => {
    const s = await armed();
    await s.eval(`
      for (const key of ['code', 'stack', 'message', 'name', 'then', 'constructor', 'toJSON', 'length']) {
        try { Object.prototype.__defineGetter__(key, function () { check('getter ' + key, this); throw new Error('x') }) } catch {}
        try { Object.prototype.__defineSetter__(key, function (v) { check('setter ' + key, v); throw new Error('y') }) } catch {}
      }
      1`);
    // A timeout makes Node build its error object in this realm: it must not call user setters.
    expect((await s.eval('while (true) {}', 100)).code).toBe('TIMEOUT');
    expect((await s.eval('null.x')).code).toBe('UNCAUGHT');
    await s.eval('delete Object.prototype.constructor; delete Object.prototype.then; 1');
    expect(await s.text('foreignSeen.length')).toBe('0');
  });

  test('a hostile `code` setter on Error.prototype cannot abort the process on timeout', async () => {
    const s = await armed();
    await s.eval(
      'try { Object.defineProperty(Error.prototype, "code", { set() { throw 1 } }) } catch (e) { globalThis.refused = e.constructor.name }',
    );
    expect(await s.text('refused')).toBe("'TypeError'");
    expect((await s.eval('Object.freeze(Error.prototype); while (true) {}', 100)).code).toBe('TIMEOUT');
    expect(await s.text('"alive"')).toBe("'alive'");
  });

  test('arguments.callee.caller and Function.prototype.caller reach nothing', async () => {
    const s = await armed();
    await expectNoEscape(
      s,
      `function sloppy() { return [sloppy.caller, arguments.callee.caller] }
      const fromTimer = await new Promise((r) => setTimeout(() => r(sloppy()), 1));
      fromTimer.forEach((x) => check('caller from timer', x));
      sloppy().forEach((x) => check('caller', x));
      const ts = console.log; try { check('console caller', ts.caller) } catch {}
      await new Promise((r) => queueMicrotask(() => { r(sloppy()) })).then((xs) => xs.forEach((x) => check('microtask caller', x)));`,
    );
  });

  test('FinalizationRegistry and Atomics are gone, so nothing runs outside a timed entry', async () => {
    const s = await armed();
    expect(await s.text('[typeof FinalizationRegistry, typeof Atomics, typeof SharedArrayBuffer]')).toBe(
      "[ 'undefined', 'undefined', 'undefined' ]",
    );
  });
});

describe('isolation between sessions', () => {
  test('globals and prototypes changed in one session are invisible in another', async () => {
    const a = openSession();
    const b = openSession();
    await a.eval(
      'globalThis.leak = 1; Array.prototype.push = null; Object.prototype.toString = () => "polluted"; JSON.stringify = () => "x"; 1',
    );
    expect(await b.text('[typeof leak, typeof [].push, String({}), JSON.stringify({ a: 1 })]')).toBe(
      "[ 'undefined', 'function', '[object Object]', '{\"a\":1}' ]",
    );
    // The tampering session still renders its own results with the intrinsics captured at start.
    expect(await a.text('[1, { a: 2 }]')).toBe('[ 1, { a: 2 } ]');
  });
});

describe('process-level crashes a session could cause', () => {
  test('an accessor-looking property on Object.prototype cannot abort the process (Node vm descriptor bug)', async () => {
    const s = openSession();
    const reply = await s.eval(
      'Object.prototype.get = function () {}; Object.prototype.set = 1; x = 1; [x, Object.isExtensible(Object.prototype), "get" in {}]',
    );
    expect(reply.text).toBe('[ 1, false, false ]');
    expect((await s.eval('"use strict"; Object.prototype.value = 1')).text).toMatch(
      /^Uncaught TypeError: Cannot add property value, object is not extensible/,
    );
    expect((await s.eval('Object.defineProperty(Object.prototype, "get", { get() {} })')).code).toBe('UNCAUGHT');
    expect(await s.text('y = 2')).toBe('2');
  });
});
