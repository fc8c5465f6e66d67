#!/usr/bin/env bash
# Builds the offline stand-in for hashicorp/google (../standin-provider) and
# installs it into a filesystem mirror under build/terraform, with a Terraform
# CLI configuration that installs hashicorp/google from that mirror only:
#
#   export TF_CLI_CONFIG_FILE=$PWD/build/terraform/terraformrc CHECKPOINT_DISABLE=1
#
# Besides 6.50.0 (the schema it serves) the mirror offers the same binary as
# 5.45.0 and 7.0.0, decoys that make `terraform init` prove the configuration's
# version constraint selects 6.x and nothing else (tf-check asserts 6.50.0).
# The binary is rebuilt on every run (the Go build cache makes that a couple of
# seconds) and replaced only when it changed.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
src=$root/terraform/standin-provider
out=${TF_BUILD_DIR:-$root/build/terraform}
version=$(sed -n 's/^ "version": "\(.*\)",$/\1/p' "$src/schema/google.json")
[[ -n $version ]] || { echo "no version in $src/schema/google.json" >&2; exit 1; }
platform=$(go env GOOS)_$(go env GOARCH)

mkdir -p "$out/bin"
bin=$out/bin/terraform-provider-google
(cd "$src" && GOWORK=off go build -o "$bin.new" .)
if [[ -f $bin ]] && cmp -s "$bin" "$bin.new"; then
  rm "$bin.new"
else
  mv "$bin.new" "$bin"
fi

mirror=$out/mirror
for v in "$version" 5.45.0 7.0.0; do
  d=$mirror/registry.terraform.io/hashicorp/google/$v/$platform
  mkdir -p "$d"
  f=$d/terraform-provider-google_v$v
  if ! [[ $f -ef $bin ]]; then
    rm -f "$f"
    ln "$bin" "$f" 2>/dev/null || cp "$bin" "$f"
  fi
done

cat >"$out/terraformrc" <<RC
# Written by terraform/scripts/install-provider.sh: offline stand-in provider.
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.terraform.io/hashicorp/google"]
  }
}
RC
echo "stand-in hashicorp/google $version ($platform) in $mirror" >&2
