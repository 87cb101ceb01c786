import { type ChildProcess, fork } from 'node:child_process';
import path from 'node:path';
import type { LaunchOptions, Page } from 'playwright-core';

/**
 * playwright-core in a child process (browser-driver.js says why), used from
 * the test through a stand-in `Page`: property accesses and calls are recorded
 * (`page.locator('#code').nth(1).fill('x')`) and replayed in the child when
 * the result is awaited. Builder calls (`locator`, `nth`, `getByRole`, ...)
 * stay synchronous as in Playwright; arguments and results must be cloneable
 * (no functions: evaluate strings, e.g. `page.evaluate('document.title')`).
 */

type Step = { readonly get: string; readonly call?: undefined } | { readonly call: string; readonly args: unknown[] };

const BUILDERS = new Set([
  'locator',
  'nth',
  'first',
  'last',
  'filter',
  'and',
  'or',
  'getByRole',
  'getByLabel',
  'getByText',
  'getByPlaceholder',
  'getByTitle',
  'getByTestId',
]);

export interface RemotePage {
  readonly page: Page;
  /** Uncaught page errors and console errors so far (the browser's own WebSocket failure messages excepted). */
  problems(): Promise<string[]>;
  close(): Promise<void>;
}

export class RemoteBrowser {
  readonly #child: ChildProcess;
  readonly #waiting = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  #nextId = 0;

  private constructor(child: ChildProcess) {
    this.#child = child;
    child.on('message', (message: { id: number; ok: boolean; value?: unknown; error?: string }) => {
      const waiter = this.#waiting.get(message.id);
      if (!waiter) return;
      this.#waiting.delete(message.id);
      if (message.ok) waiter.resolve(message.value);
      else waiter.reject(new Error(message.error));
    });
    child.on('exit', (code) => {
      for (const waiter of this.#waiting.values()) waiter.reject(new Error(`browser driver exited (${code})`));
      this.#waiting.clear();
    });
  }

  static async launch(userDataDir: string, options: LaunchOptions & Record<string, unknown>): Promise<RemoteBrowser> {
    const child = fork(path.join(__dirname, 'browser-driver.js'), [], {
      execArgv: [],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const browser = new RemoteBrowser(child);
    await browser.#send({ op: 'launch', userDataDir, options });
    return browser;
  }

  async newPage(url: string): Promise<RemotePage> {
    const id = (await this.#send({ op: 'newPage', url })) as number;
    const page = chain((steps) => this.#send({ op: 'call', page: id, chain: steps }), []) as unknown as Page;
    return {
      page,
      problems: () => this.#send({ op: 'problems', page: id }) as Promise<string[]>,
      close: async () => {
        await this.#send({ op: 'closePage', page: id });
      },
    };
  }

  async close(): Promise<void> {
    if (this.#child.connected) {
      await this.#send({ op: 'close' }).catch(() => {});
      this.#child.disconnect();
    }
    if (this.#child.exitCode === null) {
      await new Promise((resolve) => {
        const timer = setTimeout(() => this.#child.kill('SIGKILL'), 5000);
        this.#child.once('exit', () => resolve(clearTimeout(timer)));
      });
    }
  }

  #send(message: Record<string, unknown>): Promise<unknown> {
    const id = ++this.#nextId;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      this.#child.send({ ...message, id }, (error) => {
        if (!error) return;
        this.#waiting.delete(id);
        reject(error);
      });
    });
  }
}

function chain(run: (steps: Step[]) => Promise<unknown>, steps: Step[]): unknown {
  return new Proxy(() => {}, {
    get(_target, property) {
      if (property === 'then' || property === 'catch' || property === 'finally') {
        const last = steps[steps.length - 1];
        if (last === undefined || last.call === undefined || BUILDERS.has(last.call)) return undefined;
        const promise = run(steps);
        return promise[property].bind(promise);
      }
      if (typeof property === 'symbol') return undefined;
      return chain(run, [...steps, { get: property }]);
    },
    apply(_target, _this, args: unknown[]) {
      const last = steps[steps.length - 1];
      if (last === undefined || last.call !== undefined) throw new TypeError('not a method');
      return chain(run, [...steps.slice(0, -1), { call: last.get, args }]);
    },
  });
}
