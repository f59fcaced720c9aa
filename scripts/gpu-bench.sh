#!/usr/bin/env bash
# Full-size benchmarks on a GPU machine, each next to its PyTorch anchor measured in the same call
# on the same card (DESIGN §5). Every JSON file and log goes into one tarball, $OUT/bench.tar.gz
# (out/ without $OUT; the device tool brings back only a few files), and the summary table
# (tools/bench/summary.py) is printed last.
#
# Usage: scripts/gpu-bench.sh [BENCH...]   (default: gemm attention dit vae; "all": all but upstream)
#   gemm attention dit vae conv umt5 denoise   fastvideo bench NAME + tools/bench/torch_NAME_anchor.py
#   dit14b    bench dit --config 14b and torch_dit_anchor.py --config 14b, both on the first
#             $DIT14B_LAYERS blocks (default 8), the full 40-block forward extrapolated per layer
#   load      bench load of a real-size 1.3B checkpoint (random weights, bf16 text encoder) onto
#             the GPU, first round with the files evicted from the page cache, then warm; no anchor
#   fullgen   fastvideo generate on that checkpoint at the 1.3B preset (480x832x81, 50 steps):
#             eager, compile mode, and compile mode with FASTVIDEO_CFG_GATE_STEP=0.5 (FLASH_ATTN,
#             bf16), then the last two with FP8 linears and SAGE_ATTN (both lossy, opt-in);
#             FULLGEN_MODES picks some of eager compile compile_gate compile_fp8_sage{,_gate}
#   compile   issue 11's table: the 1.3B DiT forward (FLASH_ATTN) eager, compiled, with FP8 linears
#             and both, beside torch_dit_anchor.py (eager, torch.compile); UMT5 compiled beside
#             torch_umt5_anchor.py; the 1.3B denoise step at 256x256x17 eager and compiled
#   autotune  compile mode max-autotune (GEMM autotuning) against plain compile mode: the 1.3B DiT
#             forward and the 256x256x17 step (eager too)
#   insitu    SAGE_ATTN against FLASH_ATTN timed inside the eager DiT forward (bench dit
#             --time-attention: events around each self-attention call), each in turn twice; 1.3B
#             whole, 14B on its first 4 blocks. Alone, in a loop, the INT8/FP8 kernel gets a higher
#             clock than between the forward's GEMMs (docs/perf.md, session 37)
#   upstream  SAGE_ATTN and VSA's fine stage against the upstream projects' own kernels built on
#             the card (tools/bench/sageattention_anchor.py, fastvideo_vsa_anchor.py; their sources
#             in .anchors/ from tools/bench/fetch_anchors.sh: carry .anchors in the device call)
# denoise times the first $DENOISE_STEPS (default 10) of the 50 steps and extrapolates (say so when
# quoting); DENOISE_STEPS=50 runs them all. load and fullgen write the checkpoint (17.5 GB) to
# $FULL_MODEL_DIR (default /tmp/fastvideo-full-1.3b) once and delete it at the end.
# "all" takes longer than one 10-minute device call: split it, e.g. "gemm attention dit vae",
# "umt5 denoise dit14b", "load fullgen".
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-out}"
work="$out/bench"
rm -rf "$work"
mkdir -p "$work"
denoise_steps="${DENOISE_STEPS:-10}"
dit14b_layers="${DIT14B_LAYERS:-8}"
ckpt="${FULL_MODEL_DIR:-/tmp/fastvideo-full-1.3b}"
made_ckpt=0

finish() {  # the tarball (only it stays in $out), then the card and the table
  nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,temperature.gpu --format=csv >"$work/card.txt" 2>&1
  python3 tools/bench/summary.py "$work" >"$work/summary.txt" 2>&1
  [ "$made_ckpt" = 1 ] && rm -rf "$ckpt"
  tar -czf "$out/bench.tar.gz" -C "$out" bench && rm -rf "$work"
  tar -xzOf "$out/bench.tar.gz" bench/card.txt bench/summary.txt
}

if [ ! -f build-gpu/build.ninja ]; then
  cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90a \
    >"$work/configure.log" 2>&1
fi
# fastvideo_bench: `fastvideo bench` runs the separate fastvideo-bench program.
if ! cmake --build build-gpu --parallel "$(nproc)" --target fastvideo_cli fastvideo_bench \
  >"$work/build.log" 2>&1; then
  tail -30 "$work/build.log"
  finish
  exit 1
fi

failed=0  # a step failed: the exit status says so after the table
# run LOG COMMAND...: stdout+stderr to $work/LOG.log, its tail shown on failure, wall time logged,
# and the SM clock and power through the run (tools/bench/sample_clocks.sh; its samples in
# $work/LOG.clocks.csv): under the power cap the clock a number was timed at depends on the kernel.
run() {
  local log=$1 t0=$SECONDS
  shift
  tools/bench/sample_clocks.sh "$work/$log.clocks.csv" "$@" >"$work/$log.log" 2>&1 ||
    { echo "FAILED: $*"; tail -20 "$work/$log.log"; failed=1; }
  echo "wall $((SECONDS - t0)) s: $*" >>"$work/$log.log"
}

ensure_checkpoint() {  # the real-size 1.3B checkpoint load and fullgen share
  [ "$made_ckpt" = 1 ] && return
  rm -rf "$ckpt"
  run make_model build-gpu/fastvideo make-tiny-model "$ckpt" --config 1.3b \
    --text-encoder-dtype bf16 --seed 0
  du -sh "$ckpt" >>"$work/make_model.log" 2>&1
  made_ckpt=1
}

benches=("$@")
[ ${#benches[@]} -eq 0 ] && benches=(gemm attention dit vae)
[ "${benches[*]}" = all ] &&
  benches=(gemm attention dit vae conv umt5 denoise compile autotune insitu dit14b load fullgen)
for b in "${benches[@]}"; do
  case "$b" in
    gemm | vae | conv | umt5)
      run "$b" build-gpu/fastvideo bench "$b" --json "$work/$b.json"
      run "torch_$b" python3 "tools/bench/torch_${b}_anchor.py" --json "$work/torch_$b.json"
      ;;
    attention)  # every backend; then the flash kernels alone, ours and PyTorch's (summary.py)
      run attention build-gpu/fastvideo bench attention --json "$work/attention.json"
      run torch_attention python3 tools/bench/torch_attention_anchor.py \
        --json "$work/torch_attention.json"
      run attention_flash build-gpu/fastvideo bench attention --backends FLASH_ATTN \
        --json "$work/attention_flash.json"
      run torch_attention_flash python3 tools/bench/torch_attention_anchor.py --backends flash \
        --json "$work/torch_attention_flash.json"
      ;;
    dit)  # both dense self-attention backends, then the anchor
      run dit build-gpu/fastvideo bench dit --attention-backend TORCH_SDPA --json "$work/dit.json"
      run dit_flash build-gpu/fastvideo bench dit --attention-backend FLASH_ATTN \
        --json "$work/dit_flash.json"
      run torch_dit python3 tools/bench/torch_dit_anchor.py --json "$work/torch_dit.json"
      ;;
    denoise)
      run denoise build-gpu/fastvideo bench denoise --steps "$denoise_steps" --json "$work/denoise.json"
      run torch_denoise python3 tools/bench/torch_denoise_anchor.py --steps "$denoise_steps" \
        --json "$work/torch_denoise.json"
      ;;
    compile)
      run dit_compile build-gpu/fastvideo bench dit --attention-backend FLASH_ATTN --compile \
        --json "$work/dit_compile.json"
      run dit_fp8 build-gpu/fastvideo bench dit --attention-backend FLASH_ATTN \
        --transformer-quant FP8 --compile --json "$work/dit_fp8.json"
      run torch_dit python3 tools/bench/torch_dit_anchor.py --json "$work/torch_dit.json"
      run umt5_compile build-gpu/fastvideo bench umt5 --compile --json "$work/umt5_compile.json"
      run torch_umt5 python3 tools/bench/torch_umt5_anchor.py --json "$work/torch_umt5.json"
      for mode in eager compile; do
        run "small_$mode" build-gpu/fastvideo bench denoise --height 256 --width 256 \
          --num-frames 17 --steps 10 $([ "$mode" = compile ] && echo --compile) \
          --json "$work/small_$mode.json"
      done
      # The VAE's compile mode (compile.vae_enabled) at the preset and at 256x256x17.
      for size in "480 832 81 vae" "256 256 17 small_vae"; do
        set -- $size
        for mode in eager compile; do
          run "$4_$mode" build-gpu/fastvideo bench vae --height "$1" --width "$2" \
            --num-frames "$3" $([ "$mode" = compile ] && echo --compile) \
            --json "$work/$4_$mode.json"
        done
      done
      ;;
    autotune)  # compile mode max-autotune against reduce-overhead, same call
      run dit_compile build-gpu/fastvideo bench dit --attention-backend FLASH_ATTN --compile \
        --json "$work/dit_compile.json"
      run dit_autotune build-gpu/fastvideo bench dit --attention-backend FLASH_ATTN --compile \
        --autotune --json "$work/dit_autotune.json"
      for mode in eager compile autotune; do
        run "small_$mode" build-gpu/fastvideo bench denoise --height 256 --width 256 \
          --num-frames 17 --steps 10 $([ "$mode" != eager ] && echo --compile) \
          $([ "$mode" = autotune ] && echo --autotune) --json "$work/small_$mode.json"
      done
      ;;
    insitu)
      for config in 1.3b 14b; do
        layers=()
        [ "$config" = 14b ] && layers=(--layers 4)
        for round in 1 2; do
          for backend in FLASH_ATTN SAGE_ATTN; do
            name="insitu_${config}_${backend}_$round"
            run "$name" build-gpu/fastvideo bench dit --config "$config" "${layers[@]}" \
              --warmup 1 --repeats 5 --time-attention --attention-backend "$backend" \
              --json "$work/$name.json"
          done
        done
      done
      ;;
    upstream)  # the two long compiles side by side first, then every timed run one at a time
      export FASTVIDEO_ANCHOR_BUILD_DIR="${TMPDIR:-/tmp}/fastvideo-anchor-builds"
      run sageattention_build python3 tools/bench/sageattention_anchor.py \
        --sageattention .anchors/SageAttention --build-only &
      run fastvideo_vsa_build python3 tools/bench/fastvideo_vsa_anchor.py \
        --fastvideo-kernel .anchors/fastvideo-kernel --thunderkittens .anchors/thunderkittens \
        --build-only
      wait
      run attention_upstream build-gpu/fastvideo bench attention \
        --backends FLASH_ATTN,SAGE_ATTN,VIDEO_SPARSE_ATTN --shapes 1.3b,14b,whole-tiles \
        --json "$work/attention_upstream.json"
      run sageattention python3 tools/bench/sageattention_anchor.py \
        --sageattention .anchors/SageAttention --json "$work/sageattention.json"
      run fastvideo_vsa python3 tools/bench/fastvideo_vsa_anchor.py \
        --fastvideo-kernel .anchors/fastvideo-kernel --thunderkittens .anchors/thunderkittens \
        --json "$work/fastvideo_vsa.json"
      ;;
    dit14b)
      run dit14b build-gpu/fastvideo bench dit --config 14b --layers "$dit14b_layers" \
        --json "$work/dit14b.json"
      run torch_dit14b python3 tools/bench/torch_dit_anchor.py --config 14b \
        --layers "$dit14b_layers" --json "$work/torch_dit14b.json"
      ;;
    load)
      ensure_checkpoint
      run load build-gpu/fastvideo bench load --model "$ckpt" --device cuda --evict \
        --json "$work/load.json"
      ;;
    fullgen)  # eager, compile mode, compile mode with the CFG gate at half the steps; the
      # compiled two again with FP8 linears and SAGE_ATTN
      ensure_checkpoint
      for mode in ${FULLGEN_MODES:-eager compile compile_gate compile_fp8_sage compile_fp8_sage_gate}; do
        flags=() gate= backend=
        [ "$mode" != eager ] && flags=(--enable-torch-compile)
        [[ "$mode" == *fp8_sage* ]] && flags+=(--transformer-quant FP8) backend=SAGE_ATTN
        [[ "$mode" == *gate ]] && gate=0.5
        run "fullgen_$mode" env ${gate:+FASTVIDEO_CFG_GATE_STEP=$gate} \
          ${backend:+FASTVIDEO_ATTENTION_BACKEND=$backend} build-gpu/fastvideo generate \
          --model "$ckpt" --device cuda --num-inference-steps 50 "${flags[@]}" \
          --prompt "A red fox runs through fresh snow at dawn." --output "$work/full.y4m" \
          --overwrite --log-json "$work/fullgen_$mode.json"
        # The video of random weights is noise: keep its size, not its 48 MB.
        ls -l "$work/full.y4m" >>"$work/fullgen_$mode.log" 2>&1
        rm -f "$work/full.y4m"
        python3 - "$work/fullgen_$mode.json" "$mode" <<'PY' 2>&1 | tee -a "$work/fullgen_$mode.log"
import json, sys
j = json.load(open(sys.argv[1]))
print(f"== {sys.argv[2]}")
for s in j["stages"]:
    print(f"{s['name']:16s} {s['seconds']:9.2f} s  peak device {s['peak_device_bytes'] / 2**30:6.2f} GiB")
print(f"{'total':16s} {j['total_seconds']:9.2f} s (compile {j['compile_seconds']:.2f} s)")
# The seed page's discipline: one-time compile work (graph capture, GEMM autotuning) apart.
print(f"{'steady state':16s} {j['total_seconds'] - j['compile_seconds']:9.2f} s (total less the one-time compile)")
PY
      done
      ;;
    *) echo "unknown benchmark $b (gemm attention dit vae conv umt5 denoise compile autotune insitu upstream dit14b load fullgen)" ;;
  esac
done
finish
exit "$failed"
