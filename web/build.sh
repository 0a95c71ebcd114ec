#!/bin/sh
# Rebuilds the registration page's bundle: protobuf-es code generated from ../proto, then
# src/register.ts bundled by esbuild into dist/register.js (committed, so that running
# passlink needs no Node.js). Needs `npm ci` in this directory first.
#
#   sh web/build.sh            rebuild in place
#   OUT=/tmp/x sh web/build.sh  write generated code and bundle under /tmp/x instead
set -eu
cd "$(dirname "$0")"
out="${OUT:-.}"
export BUF_CACHE_DIR="${BUF_CACHE_DIR:-${TMPDIR:-/tmp}/passlink-buf-cache}"
rm -rf "$out/src/gen"
mkdir -p "$out/src/gen" "$out/dist"
./node_modules/.bin/buf generate --template buf.gen.yaml -o "$out"
if [ "$out" != "." ]; then
  cp src/register.ts "$out/src/register.ts"
fi
NODE_PATH="$(pwd)/node_modules" ./node_modules/.bin/esbuild "$out/src/register.ts" --bundle --minify --format=esm \
  --target=es2020 --legal-comments=none --log-level=warning \
  --outfile="$out/dist/register.js"
