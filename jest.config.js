// Two projects so either can run alone: `unit` needs nothing but Node;
// `integration` talks to real sockets and a real MySQL/MariaDB.
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
      testMatch: ['<rootDir>/__tests__/unit/**/*.test.ts', '<rootDir>/__tests__/sandbox/**/*.test.ts'],
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: [
        '<rootDir>/__tests__/{e2e,db}/**/*.test.ts',
        '<rootDir>/__tests__/deploy/**/*.test.ts',
        '<rootDir>/__tests__/clients/**/*.test.ts',
        '<rootDir>/__tests__/web/**/*.test.ts',
        '<rootDir>/__tests__/executors/**/*.test.ts',
      ],
      globalSetup: '<rootDir>/__tests__/helpers/global-setup.ts',
      globalTeardown: '<rootDir>/__tests__/helpers/global-teardown.ts',
    },
  ],
};
