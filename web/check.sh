#!/bin/sh
# Type-checks the pages, runs the unit tests of their shared code, then fails when the committed
# generated code or bundles differ from what build.sh makes of the sources (CI runs this after
# `npm ci`).
set -eu
cd "$(dirname "$0")"
./node_modules/.bin/tsc -p tsconfig.json
sh test.sh
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
OUT="$scratch" sh build.sh
status=0
diff -r src/gen "$scratch/src/gen" || status=1
# Every bundle, both ways: a changed one, a missing one, and one no page builds any more.
diff -rq dist "$scratch/dist" || status=1
if [ "$status" -ne 0 ]; then
  echo "web/: the committed bundles are out of date; run 'sh web/build.sh' and commit the result" >&2
  exit 1
fi
echo "web/: the committed bundles are up to date"
