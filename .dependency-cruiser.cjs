/**
 * The layering of surgeguard, enforced by `npm run lint` (and so by `npm test`).
 *
 * Why dependency-cruiser and not eslint-plugin-import(-x)'s no-cycle / no-restricted-paths:
 * it resolves the whole import graph once (TypeScript type-only imports included), reports a
 * cycle with its full path, expresses the layers as path rules in one reviewable file, and is
 * pure JavaScript (eslint-plugin-import-x pulls in a native resolver whose platform binaries
 * this registry does not always carry). ESLint (eslint.config.mjs) checks the code itself.
 *
 * Data flows one way: envs -> stacks -> constructs -> contract, and runtime -> contract.
 */
const INFRA_PACKAGES = '^node_modules/(cdktf|@cdktf/[^/]+|constructs)/';

module.exports = {
  forbidden: [
    {
      name: 'no-cycle',
      comment: 'Import cycles hide the order of initialisation and make modules impossible to read or test alone.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'contract-imports-nothing-of-its-users',
      comment: 'contract/ is what infrastructure and runtimes agree on: both import it, it imports neither (nor cdktf).',
      severity: 'error',
      from: { path: '^contract/' },
      to: { path: ['^(runtime|constructs|stacks|envs|monitoring|tools|scripts|bench|examples|test)/', INFRA_PACKAGES] },
    },
    {
      name: 'runtime-knows-no-infrastructure',
      comment: 'The runtimes are deployed alone: no cdktf, no constructs/, stacks/, envs/, monitoring/ (shared names live in contract/).',
      severity: 'error',
      from: { path: '^runtime/' },
      to: { path: ['^(constructs|stacks|envs|monitoring|tools|scripts|bench|examples|test)/', INFRA_PACKAGES] },
    },
    {
      name: 'constructs-take-props-not-environments',
      comment:
        'Constructs are a library: they take props, never environment types or stacks. One door into runtime/: ' +
        'the runtime config schemas, so the ConfigMaps a construct renders are validated at synth by the very ' +
        'schema the runtime loads them with (runtime/*/config.ts and runtime/common/config/*).',
      severity: 'error',
      from: { path: '^constructs/' },
      to: {
        path: '^(envs|stacks|runtime|tools|scripts|bench|examples|test)/',
        pathNot: '^runtime/(proxy/config|worker/config|common/config/[^/]+)[.]ts$',
      },
    },
    {
      name: 'monitoring-reads-the-contract',
      comment: 'Alert rules and dashboards read metric names from contract/metrics.ts, never the runtimes\' internals.',
      severity: 'error',
      from: { path: '^monitoring/' },
      to: { path: '^(runtime|constructs|stacks|envs|tools|scripts|bench|examples|test)/' },
    },
    {
      name: 'only-tests-import-tests',
      comment: 'Test helpers are not product code.',
      severity: 'error',
      from: { pathNot: '^test/' },
      to: { path: '^test/' },
    },
  ],
  options: {
    // TypeScript-only imports (`import type`) count: a type cycle is still a cycle for a reader.
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|lib|cdktf\\.out|coverage|node_modules)/' },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
