/**
 * A load test written as a script, with the load tool's library
 * (clients/load, docs/clients.md "Load tool"):
 *
 *   node -r @swc-node/register examples/load-test.ts [ws://127.0.0.1:8080] [seconds]
 *
 * Every session keeps a small shopping cart in its realm (the per-session
 * setup); every eval adds an item and returns the cart's total (a script per
 * eval, built from the session's iteration); a check asserts each total is
 * the one expected, so a session that lost its bindings, or a gateway that
 * mixed sessions up, shows as CHECK_FAILED errors. The script then applies
 * its own pass/fail criteria, as a CI job would, and sets the exit code.
 */
import { formatProgress, formatSummary, type LoadSummary, runLoad } from '../clients/load';

/** Price of the item added by eval `iteration` (0, 1, ... 6, 0, 1, ...). */
const price = (iteration: number) => iteration % 7;

/** The cart's total after evals 0..iteration: 21 per full cycle of 7, plus the partial one. */
function expectedTotal(iteration: number): number {
  const count = iteration + 1;
  const rest = count % 7;
  return Math.floor(count / 7) * 21 + (rest * (rest - 1)) / 2;
}

export interface ExampleResult {
  readonly summary: LoadSummary;
  /** Why this load test fails its own criteria (empty: it passed). */
  readonly failures: readonly string[];
}

export async function loadTest(
  url: string,
  durationS: number,
  onProgress?: (line: string) => void,
): Promise<ExampleResult> {
  const summary = await runLoad(
    {
      url,
      sessions: 20,
      rate: 20, // ramp up over one second...
      warmupS: 1, // ...which the measurements leave out
      durationS,
      timeoutMs: 2_000,
      setup: [
        'const cart = []',
        'function add(sku, price) { cart.push({ sku, price }); return cart.reduce((sum, item) => sum + item.price, 0); }',
      ],
      code: ({ session, iteration }) => `add(${JSON.stringify(`s${session}-${iteration}`)}, ${price(iteration)})`,
      check: (result, { iteration }) => {
        const expected = expectedTotal(iteration);
        return result.value === expected || `expected a total of ${expected}, got ${result.text}`;
      },
    },
    { onProgress: onProgress && ((progress) => onProgress(formatProgress(progress))) },
  );
  const failures: string[] = [];
  if (summary.problem) failures.push(summary.problem);
  if (summary.evals.errors > 0) failures.push(`${summary.evals.errors} evals failed`);
  const p99 = summary.latencyMs.p99;
  if (p99 !== null && p99 > 250) failures.push(`p99 latency ${p99} ms is above 250 ms`);
  return { summary, failures };
}

if (require.main === module) {
  const url = process.argv[2] ?? 'ws://127.0.0.1:8080';
  const seconds = Number(process.argv[3] ?? 10);
  loadTest(url, seconds, (line) => process.stderr.write(`${line}\n`)).then(
    ({ summary, failures }) => {
      process.stdout.write(`${formatSummary(summary)}\n`);
      for (const failure of failures) process.stderr.write(`FAIL: ${failure}\n`);
      process.exitCode = failures.length > 0 ? 1 : 0;
    },
    (error: Error) => {
      process.stderr.write(`${error.message}\n`);
      process.exitCode = 1;
    },
  );
}
