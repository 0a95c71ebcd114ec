#!/bin/sh
# Runs the unit tests of the pages' shared code (tests/unit/*.test.mjs) with Node's test runner.
# esbuild bundles each test with the TypeScript it imports (--platform=node), so the tests run
# the same source the pages are built from. Needs `npm ci` in this directory first.
set -eu
cd "$(dirname "$0")"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
for test in tests/unit/*.test.mjs; do
  NODE_PATH="$(pwd)/node_modules" ./node_modules/.bin/esbuild "$test" --bundle --platform=node \
    --format=esm --target=node20 --log-level=warning --outfile="$scratch/$(basename "$test")"
done
node --test "$scratch"/*.test.mjs
