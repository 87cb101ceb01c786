// A script for `vmgate bench --file`, in the module format (docs/clients.md,
// "Load tool"): it runs in the load tool itself, and exports
//   setup  code each session runs once, before its evals (string or array)
//   code   the code of each eval: a string, an array taken in turn, or a
//          function ({ session, sessionId, iteration }) => string
//   check  optional: (result, context) => true/undefined to pass, false or
//          a reason (string) to count the eval as CHECK_FAILED
//
//   vmgate bench ws://127.0.0.1:8080 --file examples/load-script.mjs --sessions 50 --rate 25 --duration 30

export const setup = ['let hits = 0', 'const words = new Map([[0, "alpha"], [1, "beta"], [2, "gamma"]])'];

export const code = [
  // even iterations: count, and give back the counter
  'hits += 1',
  // odd iterations: a bit of string work on the state the setup made
  'words.get(hits % words.size).toUpperCase().repeat(2)',
];

export function check(result, { iteration }) {
  if (iteration % 2 === 0) {
    // the counter grows by one on every even iteration of this session
    return result.value === iteration / 2 + 1 || `hits should be ${iteration / 2 + 1}, got ${result.text}`;
  }
  return /^(ALPHA|BETA|GAMMA){2}$/.test(result.value) || `unexpected word ${result.text}`;
}
