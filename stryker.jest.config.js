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
    '<rootDir>/test/runtime/proxy/admission/controller.test.ts',
    '<rootDir>/test/runtime/proxy/admission/convergence.test.ts',
    '<rootDir>/test/runtime/proxy/admission/drain-meter.test.ts',
    '<rootDir>/test/runtime/proxy/admission/limiter.test.ts',
    '<rootDir>/test/runtime/proxy/admission/priority-queue.test.ts',
    '<rootDir>/test/runtime/proxy/admission/replica-share.test.ts',
    '<rootDir>/test/runtime/proxy/admission/replica-allocation.test.ts',
    // the pure parsing, combining and slot learning; the scraper's I/O (in-process simulators,
    // seconds per run) is in saturation-scraper.test.ts, left out on purpose
    '<rootDir>/test/runtime/proxy/admission/saturation.test.ts',
    // which scraped members cannot make their slots known; the proxy's log and metric of it, against
    // real /metrics endpoints, are in capacity-gauges.test.ts, left out for the same reason
    '<rootDir>/test/runtime/proxy/admission/gauge-watch.test.ts',
    '<rootDir>/test/runtime/common/backoff.test.ts',
    '<rootDir>/test/runtime/common/upstream/balancers/*.test.ts',
    '<rootDir>/test/runtime/common/upstream/circuit-breaker.test.ts',
    '<rootDir>/test/runtime/common/upstream/health-state.test.ts',
    '<rootDir>/test/runtime/common/upstream/outlier-detector.test.ts',
    '<rootDir>/test/runtime/common/upstream/retry-budget.test.ts',
    '<rootDir>/test/runtime/proxy/cache/cache.test.ts',
    '<rootDir>/test/runtime/proxy/cache/request-key.test.ts',
    '<rootDir>/test/runtime/proxy/ratelimit/token-bucket.test.ts',
    '<rootDir>/test/runtime/worker/outcome.test.ts',
    '<rootDir>/test/runtime/proxy/overload/overload-decisions.test.ts',
    '<rootDir>/test/runtime/proxy/auth-priority.test.ts',
    '<rootDir>/test/runtime/proxy/priority.test.ts',
    '<rootDir>/test/runtime/proxy/request-validation.test.ts',
    '<rootDir>/test/envs/environments.test.ts',
    '<rootDir>/test/envs/validate.test.ts',
  ],
};
