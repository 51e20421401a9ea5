#!/usr/bin/env bash
# The whole test suite: services, type check, build, jest. `.ci/run` calls exactly this
# (through `npm test`). Extra arguments are passed to jest.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/services.sh
echo "test: type check (tsc --noEmit)"
npx tsc -p tsconfig.json --noEmit
echo "test: lint (eslint + layering and import cycles, npm run lint)"
npm run --silent lint
echo "test: build (runtimes and the cdktf app are spawned as compiled JavaScript)"
npm run --silent build

mkdir -p node_modules/.cache
report=node_modules/.cache/jest-report.json
status=0
npx jest --ci --json --outputFile="$report" "$@" || status=$?
# The closing line CI reads: "N passed, N failed".
node -e '
  const r = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
  console.log(`jest: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped`);
' "$report" || true
exit "$status"
