#!/bin/sh
# Rebuilds the pages' bundles: protobuf-es code generated from ../proto, then each page's
# src/<page>.ts (with src/common/) bundled by esbuild into dist/<page>.js (committed, so that
# running passlink needs no Node.js). Needs `npm ci` in this directory first.
#
#   sh web/build.sh            rebuild in place
#   OUT=/tmp/x sh web/build.sh  write generated code and bundles under /tmp/x instead
set -eu
cd "$(dirname "$0")"
out="${OUT:-.}"
# The pages, each src/<page>.ts → dist/<page>.js (check.sh compares the same list).
pages="register login account"
export BUF_CACHE_DIR="${BUF_CACHE_DIR:-${TMPDIR:-/tmp}/passlink-buf-cache}"
rm -rf "$out/src/gen"
mkdir -p "$out/src/gen" "$out/dist"
./node_modules/.bin/buf generate --template buf.gen.yaml -o "$out"
if [ "$out" != "." ]; then
  rm -rf "$out/src/common"
  cp -R src/common "$out/src/common"
  for page in $pages; do
    cp "src/$page.ts" "$out/src/$page.ts"
  done
fi
for page in $pages; do
  NODE_PATH="$(pwd)/node_modules" ./node_modules/.bin/esbuild "$out/src/$page.ts" --bundle --minify \
    --format=esm --target=es2020 --legal-comments=none --log-level=warning \
    --outfile="$out/dist/$page.js"
done
