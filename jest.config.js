// __tests__/ mirrors the source folders; the file name says which project a
// test belongs to, so either can run alone: `*.test.ts` (unit) needs nothing
// but Node; `*.int.test.ts` (integration) talks to real sockets, processes and
// a real MySQL/MariaDB.
const transform = { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] };
// Generous timeouts: the suite spawns processes and a database on a 2-core machine.
const common = { testEnvironment: 'node', transform, moduleFileExtensions: ['ts', 'js', 'json'] };

module.exports = {
  // A global option (jest ignores it inside `projects`).
  testTimeout: 30_000,
  reporters: ['default', '<rootDir>/__tests__/helpers/summary-reporter.js'],
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/__tests__/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '\\.int\\.test\\.ts$'],
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/__tests__/**/*.int.test.ts'],
      globalSetup: '<rootDir>/__tests__/helpers/global-setup.ts',
      globalTeardown: '<rootDir>/__tests__/helpers/global-teardown.ts',
    },
  ],
};
