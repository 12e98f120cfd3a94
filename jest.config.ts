import type { Config } from 'jest';

// Tests run on the TypeScript sources (ts-jest, CommonJS transform); the published build is ESM.
const config: Config = {
  testEnvironment: 'node',
  roots: ['<rootDir>/spec'],
  testMatch: ['**/*.spec.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: { module: 'commonjs', moduleResolution: 'node', isolatedModules: true } , diagnostics: { warnOnly: false } }],
  },
  // Sources import with explicit `.js` extensions (required by Node ESM); map them back to the .ts files.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1', '^rivven-rx$': '<rootDir>/src/index.ts' },
  globalSetup: '<rootDir>/spec/support/global-setup.ts',
  globalTeardown: '<rootDir>/spec/support/global-teardown.ts',
  testTimeout: 60_000,
  reporters: ['default', '<rootDir>/spec/support/summary-reporter.cjs'],
};

export default config;
