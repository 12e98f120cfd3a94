// Tests run on the TypeScript sources (ts-jest, CommonJS transform); the published build is ESM.
// (A .mjs config: Jest reads it without compiling it first, a few seconds off every run.)

const shared = {
  testEnvironment: 'node',
  testMatch: ['**/*.spec.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: { module: 'commonjs', moduleResolution: 'node', isolatedModules: true }, diagnostics: { warnOnly: false } }],
  },
  // Sources import with explicit `.js` extensions (required by Node ESM); map them back to the .ts files.
  // src/protocol/addon-require.ts needs `import.meta`, which CommonJS has not: Jest gets its own `require` instead.
  moduleNameMapper: {
    '^\\./addon-require\\.js$': '<rootDir>/spec/support/addon-require.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
    '^rivven-rx$': '<rootDir>/src/index.ts',
  },
};

/**
 * spec/unit files that need no broker but take seconds of CPU each (hundreds of MB decoded, 100,000
 * fuzzed frames): the `stress` project, so that `unit` stays a run of seconds.
 */
const stress = ['value-decoder', 'hostile-broker', 'consumer-hostile-broker', 'fuzz'].map((name) => `<rootDir>/spec/unit/${name}.spec.ts`);

/**
 * Three projects, and one Jest run for `npm test` (so the summary reporter prints one closing line):
 * - unit: no broker, no harness build (`npm run test:unit`, or `jest --selectProjects unit`);
 * - stress: no broker either, but heavy (`jest --selectProjects stress`);
 * - integration: against the real rivvend 0.0.22 its global setup starts (a project's global setup
 *   runs only when one of its tests is selected, so the other two never start a broker).
 *
 * @type {import('jest').Config}
 */
const config = {
  projects: [
    { ...shared, displayName: 'unit', roots: ['<rootDir>/spec/unit'], testPathIgnorePatterns: ['/node_modules/', ...stress] },
    { ...shared, displayName: 'stress', roots: ['<rootDir>/spec/unit'], testMatch: stress },
    {
      ...shared,
      displayName: 'integration',
      roots: ['<rootDir>/spec/integration'],
      globalSetup: '<rootDir>/spec/support/global-setup.ts',
      globalTeardown: '<rootDir>/spec/support/global-teardown.ts',
    },
  ],
  // Jest reads the test timeout from the global config only (not per project).
  testTimeout: 60_000,
  reporters: ['default', '<rootDir>/spec/support/summary-reporter.cjs'],
};

export default config;
