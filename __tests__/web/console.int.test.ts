import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import type { Gateway } from '../../gateway/server';
import { CLOSE_CODES, JSON_SUBPROTOCOL } from '../../protocol/messages';
import { directConnection, startDbGateway, tableName } from '../helpers/database';
import { startTestGateway } from '../helpers/gateway';
import { RemoteBrowser } from '../helpers/remote-browser';

/**
 * The web console end to end, in a real headless Chromium (Debian's
 * `chromium`, driven by playwright-core in a child process: see
 * browser-driver.js; `npm test` installs chromium: bin/system-deps.sh). The gateway runs here.
 */

const CHROMIUM = process.env.VMGATE_CHROMIUM ?? '/usr/bin/chromium';
// Fresh screenshots go to an ignored folder; docs/images/ keeps the published copies.
const SCREENSHOTS = path.join(__dirname, '..', '..', '.vmgate', 'screenshots');
const SHARED = path.join(__dirname, '..', '..', 'examples', 'shared-state.json');

// Each test takes a few seconds on an idle machine; the margin is for busy CI machines.
jest.setTimeout(60_000);

let browser: RemoteBrowser;
let userDataDir: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install it (apt-get install -y chromium) or set VMGATE_CHROMIUM`);
  }
  userDataDir = mkdtempSync(path.join(os.tmpdir(), 'vmgate-chromium-'));
  browser = await RemoteBrowser.launch(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1000, height: 720 },
    deviceScaleFactor: 1,
    reducedMotion: 'reduce',
  });
});

afterAll(async () => {
  await browser?.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

/** A TCP proxy in front of the gateway: `drop()` cuts every connection the way a network does. */
interface Proxy {
  readonly url: string;
  drop(): void;
  /** While blocked, new connections are cut at once (the gateway is unreachable). */
  blocked: boolean;
  close(): Promise<void>;
}

const proxies: Proxy[] = [];
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});

async function startProxy(gateway: Gateway): Promise<Proxy> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    if (proxy.blocked) {
      client.destroy();
      return;
    }
    const upstream = net.connect(gateway.port, '127.0.0.1');
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', end);
      socket.on('close', end);
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const proxy: Proxy = {
    url: `http://127.0.0.1:${port}/`,
    blocked: false,
    drop() {
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    },
    close() {
      proxy.drop();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
  proxies.push(proxy);
  return proxy;
}

const httpUrl = (gateway: Gateway) => `${gateway.url.replace(/^ws/, 'http')}/`;

/** A new tab on the console: the page, the errors it logged, and a way to close it. */
async function openConsole(
  url: string,
): Promise<{ page: Page; problems(): Promise<string[]>; close(): Promise<void> }> {
  return browser.newPage(url);
}

/**
 * Waits until a JavaScript expression is truthy in the page. Polled from here:
 * Playwright's own waitForFunction compiles strings with eval, which the
 * console's Content-Security-Policy forbids (as it should).
 */
async function until(page: Page, expression: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await page.evaluate(expression))) {
    if (Date.now() > deadline) {
      const transcript = await page.evaluate('document.getElementById("transcript").innerText');
      throw new Error(`timed out after ${timeoutMs} ms waiting for: ${expression}\ntranscript:\n${transcript}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const connected = (page: Page) => until(page, 'document.getElementById("status").dataset.state === "open"');
const text = (page: Page, selector: string) =>
  page.evaluate(
    `document.querySelector(${JSON.stringify(selector)})?.textContent.replace(/\\s+/g, ' ').trim() ?? null`,
  ) as Promise<string | null>;
const focused = (page: Page) => page.evaluate('document.activeElement?.id') as Promise<string>;

/** What the console shows for its n-th eval, once it has finished (null while it runs). */
interface Shown {
  readonly outcome: string;
  readonly result: string | null;
  readonly logs: string[];
  readonly stats: string | null;
  readonly error: string | null;
  readonly errorText: string | null;
  readonly table: { head: string[]; rows: string[][]; caption: string } | null;
}
const shown = (n: number) => `(() => {
  const e = document.querySelectorAll('article.entry')[${n}];
  if (!e || e.classList.contains('running')) return null;
  const text = (el) => (el ? el.textContent.replace(/\\s+/g, ' ').trim() : null);
  const table = e.querySelector('table.rows');
  return {
    outcome: [...e.classList].find((c) => c.startsWith('is-')) ?? '',
    result: text(e.querySelector('.result .tree')),
    logs: [...e.querySelectorAll('.log')].map((l) => l.querySelector('.level').textContent + ' ' + l.querySelector('.text').textContent),
    stats: text(e.querySelector('.stats')),
    error: text(e.querySelector('.error-code')),
    errorText: text(e.querySelector('.error-text')),
    table: table && {
      head: [...table.querySelectorAll('th')].map(text),
      rows: [...table.querySelectorAll('tbody tr')].map((r) => [...r.cells].map(text)),
      caption: text(table.caption),
    },
  };
})()`;

/** Types code into the editor and presses Enter; returns the index of its entry. */
async function start(page: Page, code: string): Promise<number> {
  const n = (await page.evaluate('document.querySelectorAll("article.entry").length')) as number;
  await page.locator('#code').fill(code);
  await page.locator('#code').press('Enter');
  return n;
}

/** Waits for the n-th eval to finish and returns what the console shows for it. */
async function settled(page: Page, n: number, timeoutMs?: number): Promise<Shown> {
  await until(page, `${shown(n)} !== null`, timeoutMs);
  return (await page.evaluate(shown(n))) as Shown;
}

/** Runs code as a user does (typed, Enter) and returns what the console shows once it finished. */
async function run(page: Page, code: string): Promise<Shown> {
  return settled(page, await start(page, code));
}

describe('web console', () => {
  test('runs code, shows results as trees and rows as tables, keeps history, commits, interrupts', async () => {
    const gateway = await startDbGateway();
    const table = tableName('web_people');
    const { page, problems, close } = await openConsole(httpUrl(gateway));
    await connected(page);
    expect(await text(page, '#session-id')).toMatch(/^[0-9a-f]{8}$/);
    // No transaction yet: Commit and Rollback wait for one.
    expect(await page.evaluate('[commit.disabled, rollback.disabled]')).toEqual([true, true]);

    // The codec module is the server's own: it decodes what the server encodes.
    const decoded = await page.evaluate(`import('/static/codec.js').then(({ default: codec }) => {
      const value = codec.decode('{"a":{"$type":"bigint","value":"10"},"m":{"$type":"map","entries":[["k",1]]}}');
      return [typeof value.a, value.m instanceof Map, value.m.get('k')];
    })`);
    expect(decoded).toEqual(['bigint', true, 1]);

    // A result, streamed logs and stats.
    expect(await run(page, 'console.log("hi"); console.warn("careful"); 6 * 7')).toMatchObject({
      outcome: 'is-ok',
      result: '42',
      logs: ['log hi', 'warn careful'],
      stats: expect.stringMatching(/^[\d.]+ ms · CPU [\d.]+ ms · DB [\d.]+ ms · 0 queries$/),
    });

    // Multi-line input: Enter in incomplete input starts a new line, Shift+Enter always does.
    const code = page.locator('#code');
    await code.pressSequentially('const o = {');
    await code.press('Enter');
    await code.pressSequentially("n: 10n, when: new Date(0), m: new Map([['k', [1, 2]]]),");
    await code.press('Shift+Enter');
    await code.pressSequentially('bytes: new Uint8Array([1, 2, 3]), f: async function go() {} }');
    expect((await code.inputValue()).split('\n')).toHaveLength(3);
    expect(await page.evaluate('document.querySelectorAll("article.entry").length')).toBe(1);
    await code.press('Enter');
    expect(await settled(page, 1)).toMatchObject({ outcome: 'is-ok', result: 'undefined' });

    // A tree: collapsed to a preview, opened with a click (children are built then), tags shown as their types.
    const n = await start(page, 'o.self = o; o');
    expect((await settled(page, n)).result).toMatch(
      /^▸?\s*\{n: 10n, when: 1970-01-01T00:00:00\.000Z, m: Map\(1\), bytes: Uint8Array\(3\), f: \[AsyncFunction: go\], …\}$/,
    );
    const root = page.locator('article.entry').nth(n).locator('.tree > details');
    await root.locator('> summary').click();
    const kids = root.locator('> .kids');
    const rows = await kids.locator('> *').allTextContents();
    expect(rows).toEqual([
      'n: 10n',
      'when: 1970-01-01T00:00:00.000Z',
      "m: Map(1) {'k' => Array(2)}",
      'bytes: Uint8Array(3) [1, 2, 3]',
      'f: [AsyncFunction: go]',
      'self: [Circular *$]',
    ]);
    const titles = await page.evaluate(
      `[...document.querySelectorAll('article.entry')[${n}].querySelectorAll('.tree .kids > * > .v, .tree .kids > details > summary > .v')].map((v) => v.title)`,
    );
    expect(titles).toEqual(['bigint', 'Date', 'Map(1)', 'Uint8Array', 'function', 'circular reference: show $']);
    // Keyboard: Right opens the focused node.
    await kids.locator('[data-path="$.m"] > summary').focus();
    await page.keyboard.press('ArrowRight');
    await until(page, `document.querySelector('[data-path="$.m[0]"]') !== null`);
    expect(await text(page, '[data-path="$.m[0]"] > summary')).toBe("0: 'k' => Array(2)");
    // The circular reference leads to the node it names.
    await kids.locator('[data-path="$.self"] button').click();
    expect(await page.evaluate('document.activeElement.parentElement.dataset.path')).toBe('$');

    // History (kept in localStorage): Up in an empty editor brings back the last input, Down the draft.
    await code.press('ArrowUp');
    expect(await code.inputValue()).toBe('o.self = o; o');
    await code.press('ArrowDown');
    expect(await code.inputValue()).toBe('');

    // Rows as a table; the transaction opens with the first statement.
    const ddl = `await sql\`CREATE TABLE ${table} (id INT PRIMARY KEY, name VARCHAR(20), born DATETIME, big BIGINT)\`.execute(db)`;
    expect(await run(page, ddl)).toMatchObject({ stats: expect.stringMatching(/1 query$/) });
    const insert = `await db.insertInto('${table}').values([{ id: 1, name: 'ann', born: new Date(0), big: 9007199254740993n }, { id: 2, name: 'bob', born: null, big: 5 }]).execute()`;
    expect(await run(page, insert)).toMatchObject({ stats: expect.stringMatching(/1 query$/) });
    expect(await text(page, '#tx-state')).toBe('open');
    expect(await text(page, '#tx-age')).toMatch(/^for \d+ s$/);
    expect(await page.evaluate('[commit.disabled, rollback.disabled]')).toEqual([false, false]);
    const select = await start(page, `await db.selectFrom('${table}').selectAll().orderBy('id').execute()`);
    expect((await settled(page, select)).table).toEqual({
      head: ['id', 'name', 'born', 'big'],
      rows: [
        ['1', 'ann', '1970-01-01T00:00:00.000Z', '9007199254740993n'],
        ['2', 'bob', 'null', '5'],
      ],
      caption: '2 rows',
    });
    // The tree is the other view of the same value.
    const selected = page.locator('article.entry').nth(select);
    await selected.getByRole('button', { name: 'Tree' }).click();
    expect(((await page.evaluate(shown(select))) as Shown).result).toBe('(2) [{…}, {…}]');
    expect(await selected.getByRole('button', { name: 'Tree' }).getAttribute('aria-pressed')).toBe('true');

    // Nothing is visible outside the session before the commit; everything after.
    const outside = await directConnection();
    const [before] = await outside.query(`SELECT COUNT(*) AS n FROM ${table}`);
    expect(Number((before as Array<{ n: number }>)[0]?.n)).toBe(0);
    await page.getByRole('button', { name: 'Commit' }).click();
    await until(page, `document.querySelector('#tx-state').textContent === 'none'`);
    expect(await page.evaluate('[...document.querySelectorAll(".notice-ok")].pop()?.textContent')).toBe('Committed.');
    const [names] = await outside.query(`SELECT name FROM ${table} ORDER BY id`);
    expect(names).toEqual([{ name: 'ann' }, { name: 'bob' }]);
    expect(await page.evaluate('[commit.disabled, rollback.disabled]')).toEqual([true, true]);

    // An error with its stack; a syntax error points at its place.
    expect(await run(page, 'function f() { throw new TypeError("bad", { cause: 1 }) }\nf()')).toMatchObject({
      outcome: 'is-error',
      error: 'UNCAUGHT',
      errorText: expect.stringMatching(/^Uncaught TypeError: bad at f \(REPL\d+:1:22\)/),
    });
    const syntax = await start(page, '1 +* 2');
    expect(await settled(page, syntax)).toMatchObject({ error: 'SYNTAX_ERROR' });
    expect(await text(page, `article.entry:nth-of-type(${syntax + 1}) mark.syntax-error`)).toBe('*');

    // Interrupt a waiting eval with the keyboard only: Tab from the editor reaches Run, then Interrupt.
    const waiting = await start(page, 'await new Promise((r) => setTimeout(r, 60000))');
    await until(page, '!document.getElementById("interrupt").disabled');
    await code.focus();
    await page.keyboard.press('Tab');
    expect(await focused(page)).toBe('run');
    await page.keyboard.press('Tab');
    expect(await focused(page)).toBe('interrupt');
    await page.keyboard.press('Enter');
    expect(await settled(page, waiting)).toMatchObject({ outcome: 'is-error', error: 'INTERRUPTED' });
    await until(page, 'document.getElementById("interrupt").disabled');

    // DROP commits implicitly (MySQL): clean up; the console knows no transaction is open then.
    expect((await run(page, `await sql\`DROP TABLE ${table}\`.execute(db); 'dropped'`)).result).toBe("'dropped'");
    expect(await text(page, '#tx-state')).toBe('none');

    // Look at it: a screenshot on a desktop and on a phone-sized viewport.
    const tree = await start(page, '({ user: { name: "ann", tags: new Set(["a", "b"]) }, at: new Date(0), n: 10n })');
    await settled(page, tree);
    const treeEntry = page.locator('article.entry').nth(tree);
    await treeEntry.locator('.tree > details > summary').click();
    await treeEntry.locator('[data-path="$.user"] > summary').click();
    const query = await start(
      page,
      "console.info('two rows'); await sql`SELECT 1 AS id, 'ann' AS name, 10.5 AS price UNION ALL SELECT 2, 'bob', NULL`.execute(db)",
    );
    expect((await settled(page, query)).table?.head).toEqual(['id', 'name', 'price']);
    await code.focus();
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'console.png') });
    await page.setViewportSize({ width: 390, height: 760 });
    await page.evaluate('document.getElementById("transcript").scrollTop = 1e9');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'console-phone.png') });
    // Nothing overflows sideways on a phone, and Run is in view.
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    expect(await page.evaluate('document.getElementById("run").getBoundingClientRect().bottom <= 760')).toBe(true);
    expect(await problems()).toEqual([]);
    await close();
  });

  test('resumes the same session after a dropped socket', async () => {
    const gateway = await startDbGateway();
    const proxy = await startProxy(gateway);
    const { page, problems, close } = await openConsole(proxy.url);
    await connected(page);
    const hello = (await page.evaluate('vmgate.connection.hello')) as { session: string; resume?: unknown };
    if (!hello.resume) {
      console.warn('SKIPPED: the gateway sends no hello.resume, so it cannot resume sessions (docs/protocol.md)');
      await close();
      return;
    }
    expect(await run(page, 'let kept = 41')).toMatchObject({ outcome: 'is-ok' });
    const tx =
      'await sql`CREATE TEMPORARY TABLE t (x INT)`.execute(db); await sql`INSERT INTO t VALUES (1)`.execute(db); "tx"';
    expect(await run(page, tx)).toMatchObject({ result: "'tx'" });
    expect(await text(page, '#tx-state')).toBe('open');

    // Drop while an eval is running and logging: what it writes meanwhile is replayed, once.
    const ticking = await start(
      page,
      'for (let i = 0; i < 4; i++) { console.log("tick " + i); await new Promise((r) => setTimeout(r, 200)) } kept + 1',
    );
    await until(page, `document.querySelectorAll('article.entry')[${ticking}].querySelector('.log') !== null`);
    proxy.drop();
    await until(page, 'document.getElementById("status").dataset.state !== "open"');
    await connected(page);
    expect(await settled(page, ticking)).toMatchObject({
      outcome: 'is-ok',
      result: '42',
      logs: ['log tick 0', 'log tick 1', 'log tick 2', 'log tick 3'],
    });
    expect(await page.evaluate('[...document.querySelectorAll(".notice")].pop().textContent')).toMatch(
      /^Connection restored after [\d.]+ s: same session, \d+ missed frames? replayed\.$/,
    );

    // The same realm, the same transaction.
    const again = 'kept + ":" + (await sql`SELECT COUNT(*) AS n FROM t`.execute(db)).rows[0].n';
    expect(await run(page, again)).toMatchObject({ result: "'41:1'" });
    expect(await text(page, '#tx-state')).toBe('open');

    // Drops with nothing running, twice in a row: still the same session.
    for (let i = 0; i < 2; i++) {
      proxy.drop();
      await until(page, 'document.getElementById("status").dataset.state !== "open"');
      await connected(page);
    }
    expect(await run(page, 'kept')).toMatchObject({ result: '41' });
    expect(await page.evaluate('vmgate.connection.snapshot()')).toMatchObject({
      session: hello.session,
      resumes: 3,
      state: 'open',
    });
    expect(await page.evaluate('document.getElementById("session-id").title')).toBe(hello.session);

    // A reload closes the socket (1001) and the new page resumes the session (kept in sessionStorage).
    await page.reload();
    await connected(page);
    expect(await page.evaluate('[...document.querySelectorAll(".notice")].pop().textContent')).toMatch(
      /^Resumed session [0-9a-f]{8} after the page was reloaded/,
    );
    expect(await page.evaluate('document.getElementById("session-id").title')).toBe(hello.session);
    expect(await text(page, '#tx-state')).toBe('open');
    // The transcript from before the reload is shown again (sessionStorage), then the new output.
    expect(
      await page.evaluate('[...document.querySelectorAll("article.entry pre.src")].map((e) => e.textContent)'),
    ).toEqual(expect.arrayContaining(['let kept = 41', 'kept']));
    expect(await run(page, 'kept')).toMatchObject({ result: '41' });
    expect(await problems()).toEqual([]);
    await close();
  });

  test('Tab completes in a popup; dot commands, help, promises as in text mode, the log filter, Ctrl+L', async () => {
    const gateway = await startTestGateway({ sharedFile: SHARED });
    const { page, problems, close } = await openConsole(httpUrl(gateway));
    await connected(page);
    const code = page.locator('#code');
    const popupOpen = '!document.getElementById("completions").hidden';
    const options = () =>
      page.evaluate(
        '[...document.querySelectorAll("#completions [role=option]")].map((o) => o.textContent)',
      ) as Promise<string[]>;
    const selected = () => text(page, '#completions [aria-selected="true"]');

    // One candidate is inserted at once.
    await code.fill('Math.P');
    await code.press('Tab');
    await until(page, 'document.getElementById("code").value === "Math.PI"');
    expect(await focused(page)).toBe('code');

    // Several open a list: own names first; arrows choose, Enter accepts (and does not run).
    expect(
      (await run(page, 'const cart = { items: [], total: 0, currency: "EUR" }; shared.products.length')).result,
    ).toBe('4');
    await code.fill('shared.');
    await code.press('Tab');
    await until(page, popupOpen);
    expect((await options()).slice(0, 2)).toEqual(['currencies', 'products']);
    expect(await selected()).toBe('currencies');
    await code.press('ArrowDown');
    expect(await selected()).toBe('products');
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'console-completion.png') });
    await code.press('Enter');
    expect(await code.inputValue()).toBe('shared.products');
    expect(await page.evaluate(popupOpen)).toBe(false);
    expect(await page.evaluate('document.querySelectorAll("article.entry").length')).toBe(1);

    // Typing narrows the list; Tab accepts; Esc closes it without interrupting anything.
    await code.fill('cart.');
    await code.press('Tab');
    await until(page, popupOpen);
    await code.pressSequentially('cu');
    await until(page, 'document.querySelectorAll("#completions [role=option]").length === 1');
    await code.press('Tab');
    expect(await code.inputValue()).toBe('cart.currency');
    await code.fill('cart.');
    await code.press('Tab');
    await until(page, popupOpen);
    await code.press('Escape');
    expect(await page.evaluate(popupOpen)).toBe(false);
    expect(await code.inputValue()).toBe('cart.');

    // Promises render as text mode renders them.
    await code.fill('');
    await run(page, 'Promise.resolve(42)');
    expect(await page.evaluate('[...document.querySelectorAll("article.entry .result")].pop().textContent')).toBe(
      'Promise { 42 }',
    );

    // Dot commands as in text mode.
    await run(page, '1 + 1');
    await code.fill('.stats');
    await code.press('Enter');
    await until(
      page,
      '/^Last evaluation: [\\d.]+ ms total/.test([...document.querySelectorAll(".notice")].pop().textContent)',
    );
    await code.fill('.nope');
    await code.press('Enter');
    await until(page, '/Unknown command \\.nope/.test([...document.querySelectorAll(".notice")].pop().textContent)');
    expect(await page.evaluate('document.getElementById("help-panel").hidden')).toBe(true);
    await code.fill('.help');
    await code.press('Enter');
    await until(page, '!document.getElementById("help-panel").hidden');
    const help = (await text(page, '#help-panel')) ?? '';
    for (const word of [
      'shared',
      'db',
      'sql',
      '.commit',
      '.rollback',
      '.interrupt',
      '.stats',
      '.clear',
      'Tab',
      'Ctrl+L',
    ]) {
      expect(help).toContain(word);
    }
    expect((await fetch(`${httpUrl(gateway)}docs/protocol.md`)).status).toBe(200);
    await page.getByRole('button', { name: 'Help' }).click();
    expect(await page.evaluate('document.getElementById("help-panel").hidden')).toBe(true);
    await code.fill('.commit');
    await code.press('Enter');
    // Sent as the commit op (this gateway has no database, so the server refuses it).
    await until(
      page,
      '/^Commit failed: DB_UNAVAILABLE/.test([...document.querySelectorAll(".notice")].pop().textContent)',
    );

    // The log filter hides the levels below the chosen one.
    await page.locator('#log-level').selectOption('warn');
    const logs = await start(page, 'console.log("quiet"); console.debug("quieter"); console.warn("loud"); 3');
    await settled(page, logs);
    const visible = `[...document.querySelectorAll('article.entry')[${logs}].querySelectorAll('.log')].filter((l) => getComputedStyle(l).display !== 'none').map((l) => l.textContent)`;
    expect(await page.evaluate(visible)).toEqual(['warnloud']);
    await page.locator('#log-level').selectOption('debug');
    expect(await page.evaluate(visible)).toHaveLength(3);

    // Ctrl+L (and .clear) clear the output.
    await code.focus();
    await page.keyboard.press('Control+l');
    expect(await page.evaluate('document.getElementById("transcript").children.length')).toBe(0);
    await run(page, '2');
    await code.fill('.clear');
    await code.press('Enter');
    expect(await page.evaluate('document.getElementById("transcript").children.length')).toBe(0);
    expect(await problems()).toEqual([]);
    await close();
  });

  test('says plainly when the session was lost, and starts a new one on request', async () => {
    const gateway = await startTestGateway({ limits: { resumeGraceMs: 600 } });
    const proxy = await startProxy(gateway);
    const { page, problems, close } = await openConsole(proxy.url);
    await connected(page);
    expect((await run(page, 'let gone = 1; gone')).result).toBe('1');
    proxy.blocked = true;
    proxy.drop();
    await until(page, 'document.getElementById("status").dataset.state === "lost"');
    expect(await text(page, '[role="alert"]')).toMatch(
      /^Session lost: .*(grace period|no such session).* Its bindings are gone and its open transaction was rolled back\. Start a new session$/,
    );
    proxy.blocked = false;
    await page.getByRole('alert').getByRole('button', { name: 'Start a new session' }).click();
    await connected(page);
    expect(await run(page, 'typeof gone')).toMatchObject({ result: "'undefined'" });
    expect(await problems()).toEqual([]);
    await close();
  });

  test('asks for a token when the gateway refuses the connection', async () => {
    const gateway = await startTestGateway({ auth: { tokens: ['s3cret'] } });
    const { page, problems, close } = await openConsole(httpUrl(gateway));
    await until(page, '!document.getElementById("token-panel").hidden');
    await until(page, '/requires an access token/.test(document.getElementById("token-help").textContent)');
    expect(await focused(page)).toBe('token');
    const field = page.getByLabel('Access token');
    await field.fill('wrong');
    await field.press('Enter');
    await until(page, '/with this token/.test(document.getElementById("token-help").textContent)');
    await field.fill('s3cret');
    await page.getByRole('button', { name: 'Connect' }).click();
    await connected(page);
    expect(await page.evaluate('document.getElementById("token-panel").hidden')).toBe(true);
    // The token went in a subprotocol, not in the URL that proxies log.
    expect(await page.evaluate('vmgate.connection.ws.url')).not.toContain('s3cret');
    expect(await page.evaluate('vmgate.connection.ws.protocol')).toBe('vmgate.v1');
    expect(await run(page, '1 + 1')).toMatchObject({ result: '2' });
    expect(await problems()).toEqual([]);
    await close();
  });

  test('the gateway serves the page, its modules and the realm codec from memory, with a strict CSP', async () => {
    const gateway = await startTestGateway();
    const base = httpUrl(gateway);
    const page = await fetch(base);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'none'; script-src 'self'/);
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    expect(await page.text()).toContain('<script type="module" src="/static/app.js"></script>');
    const codec = await fetch(`${base}static/codec.js`);
    expect(codec.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    const source = await codec.text();
    // The very text the realms run (the bundle of sandbox/realm/value-codec/), as a module.
    expect(source).toContain('function createValueCodec()');
    expect(source).toMatch(/export default codec;/);
    const etag = codec.headers.get('etag') ?? '';
    expect((await fetch(`${base}static/codec.js`, { headers: { 'if-none-match': etag } })).status).toBe(304);
    // The wire contract's constants, generated from protocol/ (the console defines none of its own).
    const wire = await (await fetch(`${base}static/protocol.js`)).text();
    expect(wire).toContain(`export const SUBPROTOCOL = "${JSON_SUBPROTOCOL}";`);
    expect(wire).toContain(`export const CLOSE_CODES = Object.freeze(${JSON.stringify(CLOSE_CODES)});`);
    const head = await fetch(`${base}static/app.js`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBeGreaterThan(1000);
    expect((await fetch(`${base}static/../package.json`)).status).toBe(404);
    expect((await fetch(`${base}static/nope.js`)).status).toBe(404);
    expect((await fetch(`${base}healthz`)).status).toBe(200);
  });

  test('the tokenizer: Enter runs only complete input; highlighting escapes the text', async () => {
    const gateway = await startTestGateway();
    const { page, problems, close } = await openConsole(httpUrl(gateway));
    const cases: Array<[string, boolean]> = [
      ['1 + 2', true],
      ['1 +', false],
      ['function f() {', false],
      ['function f() {\n  return 1\n}', true],
      ['`a $' + '{b', false],
      ['`a $' + '{ {x: 1}.x } b`', true],
      ['/* open', false],
      ['/[(]/.test(s)', true],
      ['x / 2 / 3', true],
      ['[1, 2,', false],
      [')', true],
      ['"unterminated', true],
      ['x++', true],
      ['', false],
    ];
    const results = (await page.evaluate(`import('/static/tokenize.js').then(({ isComplete, highlight }) => ({
      wrong: ${JSON.stringify(cases)}.filter(([src, want]) => isComplete(src) !== want).map(([src]) => src),
      html: highlight('const s = "<b>"; // c'),
    }))`)) as { wrong: string[]; html: string };
    expect(results.wrong).toEqual([]);
    // The transcript kept for reloads stays bounded: oldest records go first, a huge frame loses its value.
    const kept = (await page.evaluate(`import('/static/transcript-store.js').then(({ TranscriptStore }) => {
      const saved = new Map();
      const storage = { getItem: (k) => saved.get(k) ?? null, setItem: (k, v) => saved.set(k, v), removeItem: (k) => saved.delete(k) };
      const store = new TranscriptStore(storage);
      store.start('s1');
      for (let i = 0; i < 2000; i++) store.add({ t: 'notice', text: 'x'.repeat(1000) + i, level: 'info' });
      store.add({ t: 'frame', frame: { type: 'result', id: 'e1', value: 'y'.repeat(200000), text: 'big' } });
      store.flush();
      const records = store.load('s1');
      return { bytes: saved.get('vmgate.transcript').length, first: records[0].text.slice(1000), last: records.at(-1), other: store.load('s2').length };
    })`)) as { bytes: number; first: string; last: { frame: { value: unknown; text: string } }; other: number };
    expect(kept.bytes).toBeLessThan(600 * 1024);
    expect(Number(kept.first)).toBeGreaterThan(1000);
    expect(kept.last.frame).toMatchObject({ value: { $type: 'truncated', reason: 'size' } });
    expect(kept.other).toBe(0);
    expect(results.html).toBe(
      '<span class="tok-kw">const</span> s <span class="tok-punct">=</span> <span class="tok-str">&quot;&lt;b&gt;&quot;</span><span class="tok-punct">;</span> <span class="tok-com">// c</span>',
    );
    expect(await problems()).toEqual([]);
    await close();
  });
});
