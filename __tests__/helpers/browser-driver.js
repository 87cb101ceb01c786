// Runs Chromium (through playwright-core) in a process of its own, driven by
// the test over the fork IPC channel (see remote-browser.ts).
//
// Why a separate process: playwright-core uses AsyncLocalStorage, which on
// Node 20 turns on async_hooks promise tracking for the whole process. The
// gateway refuses to start in such a process (session realms cannot run
// safely with it), and a jest worker stays tainted for the test files that
// run in it later. So the gateway runs in the test process and the browser here.

const { chromium } = require('playwright-core');

let context;
const pages = new Map();
let nextPage = 0;

// Builder methods of Page and Locator return at once (no promise); every other call is awaited.
async function apply(target, chain) {
  let value = target;
  for (const step of chain) {
    if (step.call === undefined) value = value[step.get];
    else value = value[step.call](...step.args);
  }
  if (value && typeof value.then === 'function') value = await value;
  try {
    return structuredClone(value);
  } catch {
    return undefined; // a handle or a locator: nothing to send back
  }
}

async function handle(message) {
  switch (message.op) {
    case 'launch':
      context = await chromium.launchPersistentContext(message.userDataDir, message.options);
      return undefined;
    case 'newPage': {
      const page = await context.newPage();
      page.setDefaultTimeout(message.timeoutMs ?? 10000);
      const id = ++nextPage;
      const problems = [];
      page.on('pageerror', (error) => problems.push(error.message));
      page.on('console', (entry) => {
        // A refused or dropped WebSocket is logged by the browser itself; anything else is a bug.
        if (entry.type() === 'error' && !/WebSocket connection|Failed to load resource/.test(entry.text())) {
          problems.push(entry.text());
        }
      });
      pages.set(id, { page, problems });
      if (message.url) await page.goto(message.url);
      return id;
    }
    case 'call':
      return apply(pages.get(message.page).page, message.chain);
    case 'problems':
      return [...pages.get(message.page).problems];
    case 'closePage':
      await pages.get(message.page)?.page.close();
      pages.delete(message.page);
      return undefined;
    case 'close':
      await context?.close();
      context = undefined;
      return undefined;
    default:
      throw new Error(`unknown op ${message.op}`);
  }
}

process.on('message', (message) => {
  handle(message).then(
    (value) => process.send({ id: message.id, ok: true, value }),
    (error) => process.send({ id: message.id, ok: false, error: String(error?.message ?? error) }),
  );
});
process.on('disconnect', () => {
  void (context?.close() ?? Promise.resolve()).finally(() => process.exit(0));
});
