#!/usr/bin/env bash
# Regenerates tests/goldens from the tiny model with the independent Python reference.
# usage: tools/make_goldens.sh [OUT_DIR=tests/goldens]
#   FASTVIDEO: engine binary that writes the tiny models (default build/fastvideo)
#   PYTHON:    interpreter with numpy, torch (CPU) and optionally sentencepiece (default /usr/bin/python3)
#   ONLY:      comma-separated goldens to write (umt5,dit,dit_vsa,vae,vae_tiled,generation); default all
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/tests/goldens}"
FASTVIDEO="${FASTVIDEO:-$root/build/fastvideo}"
PYTHON="${PYTHON:-/usr/bin/python3}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# The tiny checkpoints, written by the engine itself (same bytes the tests write): the plain one and
# FastWan's layout of it (a VSA gate per block) for dit_vsa.
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$root/build" --target fastvideo_cli
"$FASTVIDEO" make-tiny-model "$tmp/model" --seed 0
"$FASTVIDEO" make-tiny-model "$tmp/fastwan" --config fastwan --seed 0

"$PYTHON" "$root/tools/reference/selfcheck.py" >/dev/null
"$PYTHON" "$root/tools/reference/make_goldens.py" "$tmp/model" "$out" --fastwan "$tmp/fastwan" \
  ${ONLY:+--only "$ONLY"}
