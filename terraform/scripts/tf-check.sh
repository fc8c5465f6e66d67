#!/usr/bin/env bash
# Offline checks of the Terraform configuration (make tf-check):
#   1. terraform fmt -check -recursive
#   2. the stand-in's schema subset is what the generator makes from the cdktf
#      manifest (npm; cached; TF_SKIP_SCHEMA_CHECK=1 skips when offline)
#   3. build and install the stand-in provider (install-provider.sh), run its Go tests
#   4. init (from the filesystem mirror only), provider version selected == 6.50.0
#   5. validate, plan -refresh=false with tests/plan.tfvars
#   6. terraform test (tests/*.tftest.hcl, plans only)
#   7. negative tests: each tests/negative/*.tf added alone to the configuration
#      must make validate fail with its "# expect:" message
# Terraform runs in a scratch copy under build/terraform/check, so the real
# terraform/ folder never gets a .terraform or a lock file of the stand-in.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
tfdir=$root/terraform
out=${TF_BUILD_DIR:-$root/build/terraform}
work=$out/check
want_version=6.50.0

export TF_BUILD_DIR=$out
export TF_CLI_CONFIG_FILE=$out/terraformrc
export CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 TF_INPUT=0
unset TF_PLUGIN_CACHE_DIR TF_DATA_DIR TF_WORKSPACE

step() {
  local name=$1 start=$SECONDS
  shift
  "$@"
  printf 'tf-check: %-34s ok (%ds)\n' "$name" $((SECONDS - start))
}

tf() { terraform -chdir="$work" "$@" -no-color; }

fmt_check() { terraform fmt -check -recursive "$tfdir"; }

schema_check() {
  if [[ ${TF_SKIP_SCHEMA_CHECK:-} == 1 ]]; then
    echo "tf-check: schema reproducibility check skipped (TF_SKIP_SCHEMA_CHECK=1)"
    return
  fi
  "$tfdir/standin-provider/gen-schema.sh" --check
}

unit() { (cd "$tfdir/standin-provider" && GOWORK=off go test ./... >/dev/null); }

provider() { "$tfdir/scripts/install-provider.sh"; }

# copy_config DIR: the root module's files (not its tests' scratch state).
copy_config() {
  mkdir -p "$1"
  cp "$tfdir"/*.tf "$tfdir"/firestore.rules "$1"/
}

init() {
  rm -rf "$work"
  copy_config "$work"
  cp -r "$tfdir/tests" "$work/tests"
  tf init -input=false -backend=false >"$work/init.log" || { cat "$work/init.log"; return 1; }
  local got
  got=$(tf version -json | sed -n 's/.*"registry.terraform.io\/hashicorp\/google": "\([^"]*\)".*/\1/p')
  if [[ $got != "$want_version" ]]; then
    echo "hashicorp/google resolved to '$got' from a mirror offering 5.45.0, $want_version and 7.0.0: the version constraint must select 6.x only" >&2
    return 1
  fi
}

validate() { tf validate >/dev/null; }

plan() {
  tf plan -refresh=false -input=false -lock=false -var-file=tests/plan.tfvars -out="$work/plan.tfplan" >"$work/plan.log" ||
    { cat "$work/plan.log"; return 1; }
  grep -E '^Plan: ' "$work/plan.log"
}

tftest() { tf test; }

negative() {
  local failed=0 f name dir log expect
  for f in "$tfdir"/tests/negative/*.tf; do
    name=$(basename "$f" .tf)
    dir=$work/negative/$name
    rm -rf "$dir"
    copy_config "$dir"
    cp "$f" "$dir/zz_negative.tf"
    ln -s "$work/.terraform" "$dir/.terraform"
    cp "$work/.terraform.lock.hcl" "$dir/"
    expect=$(sed -n 's/^# expect: //p' "$f")
    log=$dir/validate.log
    if terraform -chdir="$dir" validate -no-color >"$log" 2>&1; then
      if [[ $expect == VALID ]]; then
        echo "  ok   $name (valid, as it should be)"
        continue
      fi
      echo "  FAIL $name: validate passed; the stand-in missed the mistake" >&2
      failed=1
    elif [[ $expect == VALID ]]; then
      echo "  FAIL $name: validate failed on a correct configuration:" >&2
      cat "$log" >&2
      failed=1
    elif tr '\n' ' ' <"$log" | tr -s ' ' | grep -Eq -- "$expect"; then
      echo "  ok   $name (rejected: $(grep -m1 -E '^Error: ' "$log" | sed 's/^Error: //'))"
    else
      echo "  FAIL $name: validate failed, but not with /$expect/:" >&2
      cat "$log" >&2
      failed=1
    fi
  done
  return $failed
}

start=$SECONDS
step "terraform fmt -check" fmt_check
step "schema subset reproducible" schema_check
step "stand-in provider built" provider
step "stand-in unit tests" unit
step "init (offline), google $want_version" init
step "validate" validate
step "plan -refresh=false" plan
step "terraform test" tftest
step "negative tests (validate must fail)" negative
echo "tf-check: all checks passed in $((SECONDS - start))s"
