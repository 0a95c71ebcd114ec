#!/bin/sh
# Type-checks the page, then fails when the committed generated code or bundle differ from what build.sh makes of the
# sources (CI runs this after `npm ci`).
set -eu
cd "$(dirname "$0")"
./node_modules/.bin/tsc -p tsconfig.json
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
OUT="$scratch" sh build.sh
status=0
diff -r src/gen "$scratch/src/gen" || status=1
cmp dist/register.js "$scratch/dist/register.js" || status=1
if [ "$status" -ne 0 ]; then
  echo "web/: the committed bundle is out of date; run 'sh web/build.sh' and commit the result" >&2
  exit 1
fi
echo "web/: the committed bundle is up to date"
