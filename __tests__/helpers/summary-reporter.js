// Prints the totals as one plain line, `N passed, N failed`, after jest's own
// summary (CI tools that do not parse jest's output read this line), preceded
// by the name of every test that did not run, so nothing is skipped silently.
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const notRun = [];
    for (const file of results.testResults) {
      for (const test of file.testResults) {
        if (test.status === 'pending' || test.status === 'todo' || test.status === 'skipped') {
          notRun.push(test.fullName);
        }
      }
    }
    if (notRun.length > 0) {
      process.stdout.write(`\nNot run (${notRun.length}):\n${notRun.map((name) => `  - ${name}\n`).join('')}`);
    }
    const skipped = results.numPendingTests + results.numTodoTests;
    const failed = results.numFailedTests + (results.numRuntimeErrorTestSuites ?? 0);
    process.stdout.write(
      `\n${results.numPassedTests} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`,
    );
  }
}
module.exports = SummaryReporter;
