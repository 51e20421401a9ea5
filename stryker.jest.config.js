/**
 * The Jest configuration `npm run test:mutation` (Stryker) runs: only the unit tests of the pure
 * decision modules it mutates. No services, no synth, no child processes: each mutant reruns the
 * tests that cover it (Stryker's per-test coverage), so these must stay fast and deterministic.
 * A new decision module adds its test file here and its source to `mutate` in stryker.config.json.
 */
const transform = { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] };
module.exports = {
  testEnvironment: 'node',
  transform,
  modulePathIgnorePatterns: ['<rootDir>/dist/', '<rootDir>/cdktf.out/'],
  moduleFileExtensions: ['ts', 'js', 'json'],
  testMatch: [
    '<rootDir>/test/runtime/admission/controller.test.ts',
    '<rootDir>/test/runtime/admission/convergence.test.ts',
    '<rootDir>/test/runtime/admission/limiter.test.ts',
    '<rootDir>/test/runtime/proxy/admission/**/*.test.ts',
    '<rootDir>/test/runtime/common/backoff.test.ts',
    '<rootDir>/test/runtime/common/balancers.test.ts',
    '<rootDir>/test/runtime/common/circuit-breaker.test.ts',
    '<rootDir>/test/runtime/common/health-state.test.ts',
    '<rootDir>/test/runtime/common/outlier-detector.test.ts',
    '<rootDir>/test/runtime/common/retry-budget.test.ts',
    '<rootDir>/test/runtime/common/upstream/**/*.test.ts',
    '<rootDir>/test/runtime/cache/cache.test.ts',
    '<rootDir>/test/runtime/proxy/cache/**/*.test.ts',
    '<rootDir>/test/runtime/ratelimit/token-bucket.test.ts',
    '<rootDir>/test/runtime/worker/outcome.test.ts',
    '<rootDir>/test/runtime/overload/overload-decisions.test.ts',
    '<rootDir>/test/envs/environments.test.ts',
    '<rootDir>/test/envs/validate.test.ts',
  ],
};
