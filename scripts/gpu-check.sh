#!/usr/bin/env bash
# One command on a GPU machine: build from the copied tree (CUDA sources for sm_90a), run every
# test (the CPU ones through ctest, each CUDA test binary on its own, where a skipped test is a
# failure), the tiny model on both devices, and print a summary. Logs go to $OUT (or out/).
# Usage: scripts/gpu-check.sh
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
source scripts/lib/check_steps.sh

{
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm --format=csv
  nvcc --version | tail -2
  ldd --version | head -1
  python3 -c "import torch; print('torch', torch.__version__, torch.version.cuda, torch.backends.cudnn.version())"
} >"$out/machine.txt" 2>&1
cat "$out/machine.txt"

# A fresh build: on a warm machine build-gpu can hold objects newer than the copied tree's files
# (an A/B call copied other versions in and out), which ninja would not rebuild (session 53).
rm -rf build-gpu
step configure cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90a
step build cmake --build build-gpu --parallel "$(nproc)"
# The CPU tests through ctest; the CUDA ones below, directly and one at a time.
step ctest ctest --test-dir build-gpu --output-on-failure -j4 -E '^cuda_'
gpus=$(nvidia-smi --query-gpu=name --format=csv,noheader | wc -l)
for bin in build-gpu/tests/cuda_*_test; do
  name=$(basename "$bin")
  if [ "$name" = cuda_nccl_test ]; then
    # The several-GPU suites this machine cannot run: said in the summary, not counted as passed.
    nccl_test_step "$name" "$bin" "$gpus"
  else
    step "$name" gtest_skip_is_failure "$bin"
  fi
done
# The measured errors against the reference goldens (tests/cuda_golden_test.cpp).
grep -h '^\[golden cuda\]' "$out/cuda_golden_test.log" 2>/dev/null
step torch-noise python3 tools/reference/torch_noise_vectors.py --check tests/data/torch_noise_vectors.json
# A tiny generation on CUDA against the CPU. Issue 3 asks PSNR >= 35 dB over all frames and no
# frame below 30 dB; the gate is 42 / 40 dB (measured 45.2 / 44.8 on an H100 and an H200), since a
# wrong attention costs the tiny model only ~10 dB (see ms_ssim_at_least).
tiny="$out/tiny-model"
rm -rf "$tiny"
step tiny-model build-gpu/fastvideo make-tiny-model "$tiny" --seed 0
for dev in cpu cuda; do
  step "tiny-$dev" build-gpu/fastvideo generate --model "$tiny" --device "$dev" --height 176 \
    --width 176 --num-frames 9 --prompt "A red fox runs through fresh snow at dawn." \
    --output "$out/tiny-$dev.y4m" --overwrite --log-json "$out/tiny-$dev.json"
done
step tiny-compare build-gpu/fastvideo compare "$out/tiny-cpu.y4m" "$out/tiny-cuda.y4m" \
  --min-mean-psnr 42 --min-worst-psnr 40
grep -E '^(mean|worst|at frame) ' "$out/tiny-compare.log"
# Its summary line also gives the verdict: mean PSNR and the worst frame.
summary[-1]+=" - $(grep '^PSNR ' "$out/tiny-compare.log" || echo 'no PSNR verdict')"
# VIDEO_SPARSE_ATTN (issue 9): at sparsity 0 on a model without gates it is dense attention, so the
# frames match FLASH_ATTN's (tiny-cuda ran the automatic choice, FLASH_ATTN on Hopper): MS-SSIM >=
# 0.99 and PSNR >= 40 dB. At sparsity 0.9 (1 of 9 tiles kept) that gate must fail: it sees attention.
step tiny-vsa env FASTVIDEO_ATTENTION_BACKEND=VIDEO_SPARSE_ATTN build-gpu/fastvideo generate \
  --model "$tiny" --device cuda --height 176 --width 176 --num-frames 9 \
  --prompt "A red fox runs through fresh snow at dawn." --output "$out/tiny-vsa.y4m" --overwrite
step tiny-vsa-compare ms_ssim_at_least "$out/tiny-cuda.y4m" "$out/tiny-vsa.y4m" 0.99 40
note_ms_ssim tiny-vsa-compare
step tiny-vsa-0.9 env FASTVIDEO_ATTENTION_BACKEND=VIDEO_SPARSE_ATTN build-gpu/fastvideo generate \
  --model "$tiny" --device cuda --height 176 --width 176 --num-frames 9 --VSA-sparsity 0.9 \
  --prompt "A red fox runs through fresh snow at dawn." --output "$out/tiny-vsa-0.9.y4m" --overwrite
step tiny-gate-sees-attention fails_gate ms_ssim_at_least "$out/tiny-cuda.y4m" \
  "$out/tiny-vsa-0.9.y4m" 0.99 40
note_ms_ssim tiny-gate-sees-attention
# ... and still be a picture of the same scene: a broken selection also fails the gate above.
# (0.997 and 34.6 dB on the CPU, 34.1 dB on an H100; the floor leaves room.)
step tiny-vsa-0.9-floor ms_ssim_at_least "$out/tiny-cuda.y4m" "$out/tiny-vsa-0.9.y4m" 0.95 28
note_ms_ssim tiny-vsa-0.9-floor
# The quantized and sparse-linear backends (issue 10) against FLASH_ATTN's frames at FastVideo's
# CI threshold across backends, MS-SSIM >= 0.93: SAGE_ATTN, and SLA_ATTN at topk_ratio 0.5 with
# proj_l zero (the tiny model has none); their PSNR is reported, not gated. SLIDING_TILE_ATTN
# (issue 14): the tiny grid (3x11x11 tokens, 1x2x2 tiles) is inside its default window, so it is
# dense attention: MS-SSIM >= 0.99 and PSNR >= 40 dB.
for b in SAGE_ATTN SLA_ATTN SLIDING_TILE_ATTN; do
  extra=()
  min=0.93 psnr=
  [ "$b" = SLA_ATTN ] && extra=(--SLA-topk-ratio 0.5)
  [ "$b" = SLIDING_TILE_ATTN ] && min=0.99 psnr=40
  step "tiny-$b" env FASTVIDEO_ATTENTION_BACKEND=$b build-gpu/fastvideo generate --model "$tiny" \
    --device cuda --height 176 --width 176 --num-frames 9 "${extra[@]}" \
    --prompt "A red fox runs through fresh snow at dawn." --output "$out/tiny-$b.y4m" --overwrite
  step "tiny-$b-compare" ms_ssim_at_least "$out/tiny-cuda.y4m" "$out/tiny-$b.y4m" "$min" $psnr
  note_ms_ssim "tiny-$b-compare"
done
# VMOBA_ATTN (issue 14) with FastVideo's 480p config (scripts/lib/vmoba_480p.json): 14 steps, so
# the last two (after its first_full_step 12) select chunks on the GPU and attend over them;
# FastVideo's CI threshold across backends, MS-SSIM >= 0.93, against FLASH_ATTN's frames of the
# same 14 steps.
for b in FLASH_ATTN VMOBA_ATTN; do
  extra=()
  [ "$b" = VMOBA_ATTN ] && extra=(--moba-config-path scripts/lib/vmoba_480p.json)
  step "tiny-14-steps-$b" env FASTVIDEO_ATTENTION_BACKEND=$b build-gpu/fastvideo generate \
    --model "$tiny" --device cuda --height 176 --width 176 --num-frames 9 \
    --num-inference-steps 14 "${extra[@]}" --prompt "A red fox runs through fresh snow at dawn." \
    --output "$out/tiny-14-$b.y4m" --overwrite
done
step tiny-VMOBA_ATTN-compare ms_ssim_at_least "$out/tiny-14-FLASH_ATTN.y4m" \
  "$out/tiny-14-VMOBA_ATTN.y4m" 0.93
note_ms_ssim tiny-VMOBA_ATTN-compare
# Compile mode (issue 11): the same generation replayed from CUDA graphs (the text encoder's too),
# MS-SSIM >= 0.99 and PSNR >= 40 dB.
step tiny-compile build-gpu/fastvideo generate --model "$tiny" --device cuda --height 176 \
  --width 176 --num-frames 9 --prompt "A red fox runs through fresh snow at dawn." \
  --enable-torch-compile --generator.engine.compile.text_encoder_enabled true \
  --output "$out/tiny-compile.y4m" --overwrite
step tiny-compile-compare ms_ssim_at_least "$out/tiny-cuda.y4m" "$out/tiny-compile.y4m" 0.99 40
note_ms_ssim tiny-compile-compare
# The VAE's compile mode too, on 25 frames (7 latent frames: chunks 4 to 6 replay the graph).
step tiny-cuda-25 build-gpu/fastvideo generate --model "$tiny" --device cuda --height 176 \
  --width 176 --num-frames 25 --prompt "A red fox runs through fresh snow at dawn." \
  --output "$out/tiny-cuda-25.y4m" --overwrite
step tiny-compile-vae build-gpu/fastvideo generate --model "$tiny" --device cuda --height 176 \
  --width 176 --num-frames 25 --prompt "A red fox runs through fresh snow at dawn." \
  --enable-torch-compile --generator.engine.compile.vae_enabled true \
  --output "$out/tiny-compile-vae.y4m" --overwrite
step tiny-compile-vae-compare ms_ssim_at_least "$out/tiny-cuda-25.y4m" \
  "$out/tiny-compile-vae.y4m" 0.99 40
note_ms_ssim tiny-compile-vae-compare
# FP8 linears (issue 11, transformer_quant FP8): against the bf16 frames, MS-SSIM >= 0.95.
step tiny-fp8 build-gpu/fastvideo generate --model "$tiny" --device cuda --height 176 \
  --width 176 --num-frames 9 --prompt "A red fox runs through fresh snow at dawn." \
  --transformer-quant FP8 --output "$out/tiny-fp8.y4m" --overwrite
step tiny-fp8-compare ms_ssim_at_least "$out/tiny-cuda.y4m" "$out/tiny-fp8.y4m" 0.95
note_ms_ssim tiny-fp8-compare
# Memory (issue 12): the transformer's blocks (pinned, or streamed from the checkpoint) and
# UMT5's layers streamed under a device-memory budget give the resident run's bytes.
for pin in true false; do
  step "tiny-offload-pin-$pin" build-gpu/fastvideo generate --model "$tiny" --device cuda \
    --height 176 --width 176 --num-frames 9 --prompt "A red fox runs through fresh snow at dawn." \
    --dit-layerwise-offload true --text-encoder-cpu-offload true --pin-cpu-memory "$pin" \
    --max-device-memory 2GiB --output "$out/tiny-offload-$pin.y4m" --overwrite
  # Identical frames: PSNR is infinite (one LSB anywhere would give ~110 dB). The files differ in
  # their metadata, which records the offload.
  step "tiny-offload-pin-$pin-identical" build-gpu/fastvideo compare "$out/tiny-cuda.y4m" \
    "$out/tiny-offload-$pin.y4m" --min-mean-psnr 1000 --min-worst-psnr 1000
done
rm -rf "$tiny"
# FastWan (DMD, 3 steps) with VSA at its preset sparsity 0.8: finite, and the same bytes twice.
fastwan="$out/tiny-fastwan"
rm -rf "$fastwan"
step tiny-fastwan-model build-gpu/fastvideo make-tiny-model "$fastwan" --config fastwan --seed 0
for run in 1 2; do
  step "tiny-fastwan-$run" env FASTVIDEO_ATTENTION_BACKEND=VIDEO_SPARSE_ATTN build-gpu/fastvideo \
    generate --model "$fastwan" --device cuda --height 176 --width 176 --num-frames 9 \
    --prompt "A red fox runs through fresh snow at dawn." --output "$out/tiny-fastwan-$run.y4m" --overwrite
done
step tiny-fastwan-deterministic cmp "$out/tiny-fastwan-1.y4m" "$out/tiny-fastwan-2.y4m"
# FastVideo's FastWan run file turns compile mode on: VSA's steps replayed from CUDA graphs.
step tiny-fastwan-compile env FASTVIDEO_ATTENTION_BACKEND=VIDEO_SPARSE_ATTN build-gpu/fastvideo \
  generate --model "$fastwan" --device cuda --height 176 --width 176 --num-frames 9 \
  --generator.engine.compile.enabled true --prompt "A red fox runs through fresh snow at dawn." \
  --output "$out/tiny-fastwan-compile.y4m" --overwrite
step tiny-fastwan-compile-compare ms_ssim_at_least "$out/tiny-fastwan-1.y4m" \
  "$out/tiny-fastwan-compile.y4m" 0.99 40
note_ms_ssim tiny-fastwan-compile-compare
# VSA at sparsity 0 keeps every key tile: only the gated coarse branch sets it apart from dense
# FLASH_ATTN, and the tiny FastWan's gates are small as a trained FastWan's are (docs/tiny-model.md),
# so the frames match at MS-SSIM >= 0.99 (issue 9). On the CPU against TORCH_SDPA: 0.9998 and 46 dB;
# gates at full scale gave 0.988 and 29 dB, which the 35 dB floor also refuses.
for b in FLASH_ATTN VIDEO_SPARSE_ATTN; do
  extra=()
  [ "$b" = VIDEO_SPARSE_ATTN ] && extra=(--VSA-sparsity 0)
  step "tiny-fastwan-$b" build-gpu/fastvideo generate --model "$fastwan" --device cuda \
    --height 176 --width 176 --num-frames 9 --attention-backend "$b" "${extra[@]}" \
    --prompt "A red fox runs through fresh snow at dawn." --output "$out/tiny-fastwan-$b.y4m" --overwrite
done
step tiny-fastwan-vsa-0-compare ms_ssim_at_least "$out/tiny-fastwan-FLASH_ATTN.y4m" \
  "$out/tiny-fastwan-VIDEO_SPARSE_ATTN.y4m" 0.99 35
note_ms_ssim tiny-fastwan-vsa-0-compare
rm -rf "$fastwan"

printf '\n== gpu-check summary ==\n'
printf '%s\n' "${summary[@]}"
! printf '%s\n' "${summary[@]}" | grep -q '^FAIL'
