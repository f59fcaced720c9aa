#!/usr/bin/env bash
# Puts FastVideo's Hopper VSA kernel (fastvideo-kernel/csrc/attention/block_sparse_h100.cu) and
# the ThunderKittens headers at the commit FastVideo pins into .anchors/ (git-ignored), for
# tools/bench/fastvideo_vsa_anchor.py to build on a GPU machine (a device call carries
# .anchors). Read from local clones when given, else cloned from GitHub.
# Usage: tools/bench/fetch_fastvideo_anchor.sh [FASTVIDEO_GIT_DIR THUNDERKITTENS_GIT_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
fastvideo=${1:-}
tk=${2:-}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
if [ -z "$fastvideo" ]; then
  git clone --quiet --filter=blob:none --no-checkout https://github.com/hao-ai-lab/FastVideo "$scratch/fv"
  fastvideo="$scratch/fv"
fi
if [ -z "$tk" ]; then
  git clone --quiet --filter=blob:none --no-checkout https://github.com/HazyResearch/ThunderKittens "$scratch/tk"
  tk="$scratch/tk"
fi
pin=$(git -C "$fastvideo" ls-tree HEAD fastvideo-kernel/include/tk | awk '{print $3}')
rm -rf .anchors/fastvideo-kernel .anchors/thunderkittens
mkdir -p .anchors/fastvideo-kernel/csrc/attention .anchors/thunderkittens
git -C "$fastvideo" show HEAD:fastvideo-kernel/csrc/attention/block_sparse_h100.cu \
  >.anchors/fastvideo-kernel/csrc/attention/block_sparse_h100.cu
git -C "$tk" archive "$pin" include prototype | tar -x -C .anchors/thunderkittens
echo "FastVideo $(git -C "$fastvideo" rev-parse --short HEAD), ThunderKittens $pin" |
  tee .anchors/VERSIONS
du -sh .anchors
