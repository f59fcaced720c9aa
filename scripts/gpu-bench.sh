#!/usr/bin/env bash
# Full-size benchmarks on a GPU machine, each next to its PyTorch anchor measured in the same call
# on the same card (DESIGN §5). JSON and logs go to $OUT (or out/); a table is printed last.
# Usage: scripts/gpu-bench.sh [gemm attention dit vae]   (default: all)
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-out}"
mkdir -p "$out"
if [ ! -x build-gpu/fastvideo ]; then
  cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90a >"$out/configure.log" 2>&1
  cmake --build build-gpu --parallel "$(nproc)" --target fastvideo_cli >"$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 1; }
fi
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,temperature.gpu --format=csv >"$out/card.txt"
benches=("$@")
[ ${#benches[@]} -eq 0 ] && benches=(gemm attention dit vae)
for b in "${benches[@]}"; do
  build-gpu/fastvideo bench "$b" --json "$out/$b.json" >"$out/$b.log" 2>&1 || tail -20 "$out/$b.log"
  python3 "tools/bench/torch_${b}_anchor.py" --json "$out/torch_$b.json" >"$out/torch_$b.log" 2>&1 ||
    tail -20 "$out/torch_$b.log"
done
cat "$out/card.txt"
python3 tools/bench/summary.py "$out"
