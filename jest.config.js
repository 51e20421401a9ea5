/**
 * Two projects so each half of the product can be run on its own:
 *   npx jest --selectProjects iac
 *   npx jest --selectProjects runtime
 * TypeScript is transpiled without type checking (ts-jest, isolatedModules);
 * `tsc --noEmit` runs as its own step of `npm test`.
 */
const transform = { '^.+\\.ts$': ['ts-jest', { isolatedModules: true, diagnostics: false }] };
const common = {
  testEnvironment: 'node',
  transform,
  moduleFileExtensions: ['ts', 'js', 'json'],
};
module.exports = {
  projects: [
    { ...common, displayName: 'iac', testMatch: ['<rootDir>/test/iac/**/*.test.ts'] },
    { ...common, displayName: 'runtime', testMatch: ['<rootDir>/test/runtime/**/*.test.ts'] },
  ],
};
