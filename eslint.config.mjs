// ESLint 9 flat config: the recommended JavaScript and typescript-eslint rules on every source
// file of the repository (general globs, so files added later are linted too). The layering and
// cycle rules live in .dependency-cruiser.cjs; `npm run lint` runs both.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeGlobals = {
  require: 'readonly', module: 'writable', exports: 'writable', process: 'readonly', console: 'readonly',
  __dirname: 'readonly', __filename: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly',
};

export default tseslint.config(
  { ignores: ['dist/', 'lib/', 'cdktf.out/', 'coverage/', 'node_modules/', '.gen/', 'bench/results/', '**/.terraform/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      // `_`-prefixed names are deliberately unused (an interface's parameter, a skipped tuple slot).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // Tests and the synth-output tools read Terraform JSON of open shape (`any` is the honest type
    // there) and some load a module lazily inside a test (require), so the module is only loaded
    // by the test that needs it.
    files: ['test/**/*.ts', 'scripts/**/*.ts', 'tools/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: nodeGlobals },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { sourceType: 'module', globals: nodeGlobals },
  },
);
