#!/usr/bin/env bash
# Regenerates schema/google.json, the hashicorp/google 6.50.0 schema subset the
# stand-in provider serves, from the .jsii manifest (and compiled lib/*.js) of
# the npm package @cdktf/provider-google@16.12.1, which cdktf generated from
# that provider's schema. Only the google_* types that ../*.tf declare are kept.
#
#   ./gen-schema.sh          rewrite schema/google.json
#   ./gen-schema.sh --check  fail if schema/google.json differs from a fresh generation
#
# The package (31 MB) is fetched once with `npm pack` into
# ${TF_STANDIN_CACHE:-$HOME/.cache/didit-risk/standin} and checked against the
# sha256 below.
set -euo pipefail

pkg=@cdktf/provider-google
version=16.12.1
sha256=c13e11596542ffb7412d5f4caa9376525fbef88d18cdedac03c9b3c392a1fc80

here=$(cd "$(dirname "$0")" && pwd)
cache=${TF_STANDIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/didit-risk/standin}
dir=$cache/cdktf-provider-google-$version
tgz=$dir/cdktf-provider-google-$version.tgz

if [[ ! -f $dir/package/.complete ]]; then
  mkdir -p "$dir"
  if [[ ! -f $tgz ]]; then
    echo "fetching $pkg@$version with npm pack into $dir" >&2
    (cd "$dir" && npm pack --silent "$pkg@$version" >/dev/null)
  fi
  echo "$sha256  $tgz" | sha256sum -c --quiet - || { rm -f "$tgz"; echo "checksum mismatch for $tgz" >&2; exit 1; }
  rm -rf "$dir/package"
  tar -xzf "$tgz" -C "$dir" --wildcards 'package/.jsii' 'package/lib/*.js'
  touch "$dir/package/.complete"
fi

out=$here/schema/google.json
target=$out
if [[ ${1:-} == --check ]]; then
  target=$(mktemp)
  trap 'rm -f "$target"' EXIT
fi

(cd "$here" && go run ./cmd/genschema -pkg "$dir/package" -config "$here/.." -out "$target" \
  -source "$pkg@$version (.jsii and lib/*/index.js)")

if [[ ${1:-} == --check ]]; then
  if ! cmp -s "$target" "$out"; then
    diff -u "$out" "$target" | head -40 >&2 || true
    echo "schema/google.json is stale: run terraform/standin-provider/gen-schema.sh" >&2
    exit 1
  fi
  echo "schema/google.json matches $pkg@$version" >&2
fi
