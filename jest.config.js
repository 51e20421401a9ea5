/**
 * Two projects so each half of the product can be run on its own:
 *   npx jest --selectProjects iac
 *   npx jest --selectProjects runtime
 * TypeScript is transpiled without type checking (ts-jest transpiles file by file because
 * tsconfig.json sets `isolatedModules`); `tsc --noEmit` runs as its own step of `npm test`.
 */
const transform = { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] };
const common = {
  testEnvironment: 'node',
  transform,
  // Compiled output and synth output are not test sources (dist/ carries a copy of package.json).
  modulePathIgnorePatterns: ['<rootDir>/dist/', '<rootDir>/lib/', '<rootDir>/cdktf.out/'],
  // examples/ imports the library by its package name, as a consumer does; in the repository that is the sources.
  moduleNameMapper: { '^surgeguard/constructs$': '<rootDir>/constructs/index.ts' },
  moduleFileExtensions: ['ts', 'js', 'json'],
};
module.exports = {
  // A private TMPDIR for the run, removed at its end: cdktf's Testing.app() outdirs go there.
  globalSetup: '<rootDir>/test/support/jest-global-setup.js',
  globalTeardown: '<rootDir>/test/support/jest-global-teardown.js',
  projects: [
    // The infrastructure half: constructs, stacks, environments, monitoring, examples, docs.
    {
      ...common,
      displayName: 'iac',
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/runtime/', '<rootDir>/test/contract/'],
    },
    // The runtimes and what they agree on with the infrastructure.
    { ...common, displayName: 'runtime', testMatch: ['<rootDir>/test/runtime/**/*.test.ts', '<rootDir>/test/contract/**/*.test.ts'] },
  ],
};
