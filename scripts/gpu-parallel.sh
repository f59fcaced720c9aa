#!/usr/bin/env bash
# Issue 15's judged numbers on a machine with several GPUs, each against the one-GPU run of the
# same request in the same call. Logs go to $OUT (or out/); a summary is printed last, and the
# exit status is non-zero when a check failed.
#
# Usage: scripts/gpu-parallel.sh [MODE...]      (default: check; each mode fits one 10-minute call)
#   check  build, cuda_nccl_test with its several-GPU cases, then tiny generations on 1 GPU and
#          on several (sequence parallel, CFG-parallel, sharded weights) with every attention
#          backend, each against the same backend's one-GPU frames: MS-SSIM >= 0.99
#   speed  a real-size 1.3B checkpoint (random weights): the 480p preset, $PARALLEL_STEPS steps
#          (default 50) with CFG, on 1 GPU and on every layout of 2, 4 and 8 GPUs the machine has
#          (speed-up of the denoise stage and of the whole generation, frames against 1 GPU);
#          then FastVideo's CI request (480x832x45, 4 steps) on 1 GPU and with SP 2, end to end
#          (process wall time, loading included)
#   14b    a real-size 14B checkpoint (bf16, random weights): 720x1280x81, $PARALLEL_14B_STEPS
#          steps (default 2) with CFG, on 1 GPU and on all of them; then sharded weights
#          (use_fsdp_inference) on all of them with each GPU capped below the transformer's size
# Layouts: N GPUs run as sequence parallelism over N (sp N) where the model's heads divide by N,
# and as CFG-parallel (sp N/2 on each half) where they divide by N/2.
#
# PARALLEL_REHEARSAL=cpu runs the check mode's steps on this machine's CPU instead, as if it had 4
# GPUs (FASTVIDEO_CPU_RANKS=1: each rank a thread), with the CPU build in build/ (what .ci/run
# makes): it checks the script and the layouts before a several-GPU machine is lent. It skips
# cuda_nccl_test and FLASH_ATTN (GPU only; the sharded run uses TORCH_SDPA there).
set -uo pipefail
cd "$(dirname "$0")/.."
rehearsal="${PARALLEL_REHEARSAL:-}"
case "$rehearsal" in
  "") ;;
  cpu) export FASTVIDEO_CPU_RANKS=1 ;;
  *) echo "PARALLEL_REHEARSAL=$rehearsal: expected cpu or unset"; exit 2 ;;
esac
source scripts/lib/check_steps.sh
[ -n "$rehearsal" ] && fv_bin=build
scratch=/tmp/fastvideo-parallel  # videos and checkpoints: too big for $OUT
[ -n "$rehearsal" ] && scratch=/tmp/fastvideo-parallel-rehearsal
mkdir -p "$scratch"
prompt="A red fox runs through fresh snow at dawn."
if [ -n "$rehearsal" ]; then
  gpus=4 device=cpu dense=TORCH_SDPA
else
  gpus=$(nvidia-smi --query-gpu=name --format=csv,noheader | wc -l) device=cuda dense=FLASH_ATTN
  nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv >"$out/machine.txt" 2>&1
  nvidia-smi topo -m >>"$out/machine.txt" 2>&1
  cat "$out/machine.txt"
fi

# A hang is reported in a minute (the NCCL watchdog), not in the default five; NCCL's own warnings
# say why in the logs.
export FASTVIDEO_NCCL_TIMEOUT_S="${FASTVIDEO_NCCL_TIMEOUT_S:-60}" NCCL_DEBUG="${NCCL_DEBUG:-WARN}"
# NCCL_LIB in the cache: CMake found NCCL (without it every several-GPU step would fail in turn).
if [ -n "$rehearsal" ]; then
  step build cmake --build "$fv_bin" --target fastvideo_cli
else
  step configure cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CUDA_ARCHITECTURES=90a
  if ! grep -q '^NCCL_LIB:FILEPATH=/' build-gpu/CMakeCache.txt; then
    echo "gpu-parallel: CMake found no NCCL (see $out/configure.log); nothing here can run"
    exit 1
  fi
  step build cmake --build build-gpu --parallel "$(nproc)" --target fastvideo_cli cuda_nccl_test
fi

# layouts HEADS: "num_gpus:sp_size" for each GPU count above 1 this machine has.
layouts() {
  local heads=$1 n
  for n in 2 4 8; do
    [ "$n" -le "$gpus" ] || continue
    [ $((heads % n)) -eq 0 ] && echo "$n:$n"
    [ $((heads % (n / 2))) -eq 0 ] && echo "$n:$((n / 2))"
  done
}

# generate NAME MODEL OUTPUT [FLAGS...]: one generation on cuda:0 and the GPUs after it (the CPU
# in a rehearsal), with its --log-json beside its log; a run past $PARALLEL_RUN_TIMEOUT seconds
# (default 300) fails.
generate() {
  local name=$1 model=$2 video=$3
  shift 3
  step "$name" timeout "${PARALLEL_RUN_TIMEOUT:-300}" "$fv_bin/fastvideo" generate --model "$model" \
    --device "$device" --prompt "$prompt" --output "$video" --overwrite \
    --log-json "$out/$name.json" "$@"
}

# seconds JSON STAGE: a stage's seconds from a --log-json file ("total" for the whole).
seconds() {
  python3 - "$1" "$2" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
if sys.argv[2] == "total":
    print(f"{j['total_seconds']:.3f}")
else:
    print(next(f"{s['seconds']:.3f}" for s in j["stages"] if s["name"] == sys.argv[2]))
PY
}

# speedup NAME BASE: "denoise Xs (Y x), total Xs (Y x)" of run NAME against run BASE.
speedup() {
  local d0 d1 t0 t1
  d0=$(seconds "$out/$2.json" denoise) || return
  d1=$(seconds "$out/$1.json" denoise) || return
  t0=$(seconds "$out/$2.json" total) || return
  t1=$(seconds "$out/$1.json" total) || return
  awk -v d0="$d0" -v d1="$d1" -v t0="$t0" -v t1="$t1" 'BEGIN {
    printf "denoise %.2f s (%.2fx), total after loading %.2f s (%.2fx)", d1, d0 / d1, t1, t0 / t1 }'
}

mode_check() {
  [ -n "$rehearsal" ] || nccl_test_step cuda_nccl_test build-gpu/tests/cuda_nccl_test "$gpus"
  local tiny="$scratch/tiny" fastwan="$scratch/tiny-fastwan"
  rm -rf "$tiny" "$fastwan"
  step tiny-model "$fv_bin/fastvideo" make-tiny-model "$tiny" --seed 0
  step tiny-fastwan-model "$fv_bin/fastvideo" make-tiny-model "$fastwan" --config fastwan --seed 0
  local size=(--height 176 --width 176 --num-frames 9)
  local b extra layout n sp name backends=(TORCH_SDPA SAGE_ATTN SLA_ATTN VIDEO_SPARSE_ATTN
                                           SLIDING_TILE_ATTN)
  [ -n "$rehearsal" ] || backends=(FLASH_ATTN "${backends[@]}")
  # The tiny transformer has 2 heads: sp 2, and CFG-parallel over 2 or 4 GPUs.
  for b in "${backends[@]}"; do
    extra=()
    [ "$b" = SLA_ATTN ] && extra=(--SLA-topk-ratio 0.5)
    generate "tiny-$b-1gpu" "$tiny" "$scratch/tiny-$b-1.y4m" "${size[@]}" "${extra[@]}" \
      --attention-backend "$b"
    for layout in $(layouts 2); do
      n=${layout%:*} sp=${layout#*:} name="tiny-$b-${n}gpu-sp$sp"
      generate "$name" "$tiny" "$scratch/$name.y4m" "${size[@]}" "${extra[@]}" \
        --attention-backend "$b" --num-gpus "$n" --sp-size "$sp"
      step "$name-compare" ms_ssim_at_least "$scratch/tiny-$b-1.y4m" "$scratch/$name.y4m" 0.99
      note_ms_ssim "$name-compare"
    done
  done
  # VMOBA_ATTN with FastVideo's 480p config: 14 steps, the last two sparse.
  local vmoba=(--attention-backend VMOBA_ATTN --num-inference-steps 14
               --moba-config-path scripts/lib/vmoba_480p.json)
  generate tiny-VMOBA_ATTN-1gpu "$tiny" "$scratch/tiny-vmoba-1.y4m" "${size[@]}" "${vmoba[@]}"
  for layout in $(layouts 2); do
    n=${layout%:*} sp=${layout#*:} name="tiny-VMOBA_ATTN-${n}gpu-sp$sp"
    generate "$name" "$tiny" "$scratch/$name.y4m" "${size[@]}" "${vmoba[@]}" --num-gpus "$n" \
      --sp-size "$sp"
    step "$name-compare" ms_ssim_at_least "$scratch/tiny-vmoba-1.y4m" "$scratch/$name.y4m" 0.99
    note_ms_ssim "$name-compare"
  done
  # Sharded weights (each GPU a piece of every block) over 2 GPUs.
  generate tiny-fsdp-2gpu "$tiny" "$scratch/tiny-fsdp.y4m" "${size[@]}" \
    --attention-backend "$dense" --num-gpus 2 --sp-size 2 --use-fsdp-inference true
  step tiny-fsdp-2gpu-compare ms_ssim_at_least "$scratch/tiny-$dense-1.y4m" \
    "$scratch/tiny-fsdp.y4m" 0.99
  note_ms_ssim tiny-fsdp-2gpu-compare
  # FastWan (no CFG) with VSA at 0.8 over sp 2.
  generate tiny-fastwan-1gpu "$fastwan" "$scratch/tiny-fastwan-1.y4m" "${size[@]}" \
    --attention-backend VIDEO_SPARSE_ATTN
  generate tiny-fastwan-2gpu "$fastwan" "$scratch/tiny-fastwan-2.y4m" "${size[@]}" \
    --attention-backend VIDEO_SPARSE_ATTN --num-gpus 2 --sp-size 2
  step tiny-fastwan-2gpu-compare ms_ssim_at_least "$scratch/tiny-fastwan-1.y4m" \
    "$scratch/tiny-fastwan-2.y4m" 0.99
  note_ms_ssim tiny-fastwan-2gpu-compare
  rm -rf "$tiny" "$fastwan"
}

mode_speed() {
  local ckpt="$scratch/full-1.3b" steps="${PARALLEL_STEPS:-50}" layout n sp name
  rm -rf "$ckpt"
  step make-1.3b "$fv_bin/fastvideo" make-tiny-model "$ckpt" --config 1.3b \
    --text-encoder-dtype bf16 --seed 0
  generate speed-1gpu "$ckpt" "$scratch/speed-1.y4m" --num-inference-steps "$steps"
  summary[-1]+=" - $(speedup speed-1gpu speed-1gpu)"
  for layout in $(layouts 12); do
    n=${layout%:*} sp=${layout#*:} name="speed-${n}gpu-sp$sp"
    generate "$name" "$ckpt" "$scratch/$name.y4m" --num-inference-steps "$steps" \
      --num-gpus "$n" --sp-size "$sp"
    summary[-1]+=" - $(speedup "$name" speed-1gpu)"
    step "$name-compare" ms_ssim_at_least "$scratch/speed-1.y4m" "$scratch/$name.y4m" 0.99
    note_ms_ssim "$name-compare"
    rm -f "$scratch/$name.y4m"
  done
  rm -f "$scratch/speed-1.y4m"
  # FastVideo's CI budget (2x L40S, SP 2, 480x832x45, 4 steps: <= 34 s end to end): the whole
  # process, loading included.
  local ci=(--height 480 --width 832 --num-frames 45 --num-inference-steps 4) t0
  for layout in 1:1 2:2; do
    [ "${layout%:*}" -le "$gpus" ] || continue
    n=${layout%:*} sp=${layout#*:} t0=$SECONDS
    generate "ci-${n}gpu" "$ckpt" "$scratch/ci.y4m" "${ci[@]}" --num-gpus "$n" --sp-size "$sp"
    summary[-1]+=" - end to end $((SECONDS - t0)) s (process wall time)"
  done
  rm -rf "$ckpt" "$scratch/ci.y4m"
}

mode_14b() {
  local ckpt="$scratch/full-14b" steps="${PARALLEL_14B_STEPS:-2}" name
  local size=(--height 720 --width 1280 --num-frames 81 --num-inference-steps "$steps")
  rm -rf "$ckpt"
  step make-14b "$fv_bin/fastvideo" make-tiny-model "$ckpt" --config 14b \
    --transformer-dtype bf16 --text-encoder-dtype bf16 --seed 0
  generate 14b-1gpu "$ckpt" "$scratch/14b-1.y4m" "${size[@]}"
  summary[-1]+=" - $(speedup 14b-1gpu 14b-1gpu)"
  # 40 heads: sp over all the GPUs where they divide, else CFG-parallel.
  local sp=$gpus
  [ $((40 % gpus)) -eq 0 ] || sp=$((gpus / 2))
  name="14b-${gpus}gpu-sp$sp"
  generate "$name" "$ckpt" "$scratch/$name.y4m" "${size[@]}" --num-gpus "$gpus" --sp-size "$sp"
  summary[-1]+=" - $(speedup "$name" 14b-1gpu)"
  step "$name-compare" ms_ssim_at_least "$scratch/14b-1.y4m" "$scratch/$name.y4m" 0.99
  note_ms_ssim "$name-compare"
  # Sharded weights with each GPU capped below the 28 GB bf16 transformer.
  generate "14b-${gpus}gpu-fsdp-capped" "$ckpt" "$scratch/14b-fsdp.y4m" "${size[@]}" \
    --num-gpus "$gpus" --sp-size "$gpus" --use-fsdp-inference true --max-device-memory 24GiB
  summary[-1]+=" - $(speedup "14b-${gpus}gpu-fsdp-capped" 14b-1gpu)"
  step 14b-fsdp-capped-compare ms_ssim_at_least "$scratch/14b-1.y4m" "$scratch/14b-fsdp.y4m" 0.99
  note_ms_ssim 14b-fsdp-capped-compare
  rm -rf "$ckpt" "$scratch"/14b-*.y4m
}

if [ -n "$rehearsal" ] && [ "$*" != check ] && [ $# -ne 0 ]; then
  echo "PARALLEL_REHEARSAL=cpu rehearses the check mode only"
  exit 2
fi
if [ "$gpus" -lt 2 ]; then
  echo "gpu-parallel: this machine has $gpus GPU; issue 15's checks need 2 or more"
  exit 1
fi
modes=("$@")
[ ${#modes[@]} -eq 0 ] && modes=(check)
for m in "${modes[@]}"; do
  case "$m" in
    check | speed | 14b) "mode_$m" ;;
    *) echo "unknown mode $m (check speed 14b)"; exit 2 ;;
  esac
done

printf '\n== gpu-parallel summary (%s GPUs) ==\n' "$gpus"
printf '%s\n' "${summary[@]}"
! printf '%s\n' "${summary[@]}" | grep -q '^FAIL'
