# shellcheck shell=bash
# Sourced by the GPU check scripts (gpu-check.sh, gpu-parallel.sh) from the repository root:
# named steps with their logs under $out ($OUT, or out/) and a PASS/FAIL summary.

out="${OUT:-out}"
mkdir -p "$out"
fv_bin=build-gpu  # where the fastvideo binary was built (gpu-parallel.sh's rehearsal: build)
summary=()

step() {  # step NAME COMMAND...: runs, logs to $out/NAME.log, records pass/fail
  local name=$1
  shift
  local t0=$SECONDS
  if "$@" >"$out/$name.log" 2>&1; then
    summary+=("PASS $name ($((SECONDS - t0)) s)")
  else
    summary+=("FAIL $name ($((SECONDS - t0)) s): see $out/$name.log")
    tail -30 "$out/$name.log"
  fi
  # Each verdict also as it comes, so a call cut off at its time limit still shows them.
  echo "${summary[-1]}"
}

# gtest_skip_is_failure BINARY [ARGS...]: runs a gtest binary. Here a GPU exists, so a skipped test
# (its GPU check failed) counts as a failure like a failed one.
gtest_skip_is_failure() {
  local log rc
  log=$(timeout 300 "$@" 2>&1)  # a hung kernel fails the step instead of the whole call
  rc=$?
  printf '%s\n' "$log"
  [ "$rc" -eq 0 ] || return "$rc"
  if grep -q '^\[  SKIPPED \]' <<<"$log"; then
    echo "$1 skipped tests on a GPU machine"
    return 1
  fi
}

# cuda_nccl_test's several-GPU suites and the GPUs each needs ("SUITE:K"); their tests skip on
# fewer, so nccl_test_step leaves such a suite out instead. A new suite that needs more than one GPU
# goes here (unlisted, it skips on a smaller machine, and gtest_skip_is_failure fails the step).
nccl_test_suites=(CudaNcclMultiGpu:2 CudaNcclThreeGpus:3)

# nccl_test_step NAME BINARY GPUS: runs cuda_nccl_test as a step, without the suites that need
# more than GPUS GPUs (a --gtest_filter), so the tests it runs are exactly those GPUS allows and
# none may skip; each suite left out gets a "NOT RUN" line in the summary.
nccl_test_step() {
  local name=$1 bin=$2 gpus=$3 entry left_out=() notes=() filter
  for entry in "${nccl_test_suites[@]}"; do
    if [ "$gpus" -lt "${entry#*:}" ]; then
      left_out+=("${entry%:*}.*")
      notes+=("NOT RUN ${entry%:*}.* (needs ${entry#*:} GPUs or more; this machine has $gpus)")
    fi
  done
  if [ ${#left_out[@]} -eq 0 ]; then
    step "$name" gtest_skip_is_failure "$bin"
  else
    filter=$(IFS=:; echo "-${left_out[*]}")
    step "$name" gtest_skip_is_failure "$bin" --gtest_filter="$filter"
  fi
  summary+=("${notes[@]}")
  [ ${#notes[@]} -eq 0 ] || printf '%s\n' "${notes[@]}"
}

# ms_ssim_at_least A B MIN [MIN_PSNR]: compare, then gate on the mean MS-SSIM, which must be a
# number (frames under 161 pixels a side give "n/a": a failure, not a pass), and, when given, on the
# PSNR over all frames. MS-SSIM alone barely sees the tiny model's attention (VSA keeping 1 of 9
# tiles still gives 0.997 against dense); the PSNR does (34.6 dB there, against 45 dB for the CUDA
# bf16 run against the CPU's f32), so comparisons that should differ only by rounding gate on both.
# Exit status 1: a gate failed; 2: nothing was compared (compare failed, no mean line).
ms_ssim_at_least() {
  local report
  report=$("$fv_bin/fastvideo" compare "$1" "$2") || { printf '%s\n' "$report"; return 2; }
  printf '%s\n' "$report" | awk -v min="$3" -v min_psnr="${4:-}" '$1 == "mean" {
    seen = 1
    print "mean MS-SSIM", $4, "PSNR", $2 " dB"
    ok = $4 ~ /^[0-9.]+$/ && $4 >= min
    if (min_psnr != "") ok = ok && ($2 == "inf" || ($2 ~ /^[0-9.]+$/ && $2 + 0 >= min_psnr))
    exit !ok }
    END { if (!seen) { print "no mean line in the comparison"; exit 2 } }'
}

# fails_gate GATE...: succeeds when the gate fails on its numbers (exit status 1: a change it must
# see), and fails when it passes or could not compare; its output is kept.
fails_gate() {
  "$@"
  local rc=$?
  if [ "$rc" -eq 0 ]; then
    echo "the gate passed, but must fail here: it does not see this change"
    return 1
  fi
  [ "$rc" -eq 1 ] || { echo "the gate compared nothing (exit status $rc)"; return 1; }
}

# note_ms_ssim NAME: appends the mean MS-SSIM (and PSNR) of step NAME's log to the last summary line.
note_ms_ssim() {
  summary[-1]+=" - $(grep '^mean MS-SSIM' "$out/$1.log" || echo 'no MS-SSIM')"
}
