#!/usr/bin/env bash
# A/B kernel variants in one device call: for each variant folder (files laid out as in the
# repository, e.g. VARIANT/src/ops/cuda/x.cu), copy its files over the tree, rebuild
# fastvideo-bench and the CUDA tests it names, run those tests and the bench command, then put the
# tree back. The tree as it is runs first as "base", and is rebuilt at the end, so build-gpu holds
# the tree's own code afterwards, not the last variant's. Logs go to $OUT (or out/).
#
# Usage: scripts/gpu-ab.sh "BENCH ARGS[; BENCH ARGS...]" "TEST..." VARIANT_DIR...
#   e.g. scripts/gpu-ab.sh "attention --backends FLASH_ATTN,SAGE_ATTN --shapes 1.3b" \
#          "cuda_sage_attention_test" .ab/sage-v3
#   (several benchmarks per variant: "conv; vae --repeats 5")
# Variant folders must be untracked by git on the device (put them under an ignored folder and name
# it in the device call's carry list); scripts/ab-from-branches.sh makes them from git branches.
# AB_NO_REBUILD=1: leave build-gpu as the last variant built (see the end).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
out="${OUT:-out}"
mkdir -p "$out"
bench_args=$1
tests=$2
shift 2
backup=$(mktemp -d)
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90a \
  >"$out/configure.log" 2>&1 || { tail -20 "$out/configure.log"; exit 1; }
run_variant() {  # run_variant NAME: build, test, bench the tree as it is now
  local name=$1 log="$out/ab-$1.log" t
  echo "== $name"
  # shellcheck disable=SC2086
  if ! cmake --build build-gpu --parallel "$(nproc)" --target fastvideo-bench $tests >"$log" 2>&1; then
    tail -20 "$log"
    return
  fi
  for t in $tests; do
    timeout 300 "build-gpu/tests/$t" >>"$log" 2>&1 && echo "PASS $t" || echo "FAIL $t (see $log)"
  done
  local benches args
  IFS=';' read -ra benches <<<"$bench_args"
  for args in "${benches[@]}"; do
    # shellcheck disable=SC2086
    timeout 300 build-gpu/fastvideo-bench $args 2>&1 | tee -a "$log"
  done
}
run_variant base
for variant in "$@"; do
  files=$(cd "$variant" && find . -type f | sed 's|^\./||')
  for f in $files; do  # a file the tree lacks is removed again afterwards
    mkdir -p "$backup/$(dirname "$f")"
    if [ -e "$f" ]; then cp "$f" "$backup/$f"; fi
    cp "$variant/$f" "$f"
  done
  run_variant "$(basename "$variant")"
  for f in $files; do
    if [ -e "$backup/$f" ]; then cp "$backup/$f" "$f"; else rm -f "$f"; fi
  done
done
rm -rf "$backup"
# AB_NO_REBUILD=1 skips this last build when nothing after the A/B uses build-gpu (it then holds
# the last variant's code): a minute of device time.
[ "${AB_NO_REBUILD:-0}" = 1 ] && exit 0
# shellcheck disable=SC2086
cmake --build build-gpu --parallel "$(nproc)" --target fastvideo-bench $tests >"$out/rebuild-base.log" 2>&1 ||
  tail -20 "$out/rebuild-base.log"
