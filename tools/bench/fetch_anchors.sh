#!/usr/bin/env bash
# Puts the upstream sources the same-card anchors build into .anchors/ (git-ignored; a device call
# carries it), never into the repository:
#   fastvideo-kernel/  FastVideo's Hopper VSA kernel (csrc/attention/block_sparse_h100.cu), and
#   thunderkittens/    the ThunderKittens headers at the commit FastVideo pins,
#                      for tools/bench/fastvideo_vsa_anchor.py;
#   SageAttention/     SageAttention's Python package and CUDA sources,
#                      for tools/bench/sageattention_anchor.py.
# Read from local clones where FASTVIDEO_GIT, THUNDERKITTENS_GIT, SAGEATTENTION_GIT name them,
# else cloned from GitHub.
# Usage: tools/bench/fetch_anchors.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
clone() {  # clone URL: a blobless clone in $scratch, its path printed
  local dir
  dir="$scratch/$(basename "$1")"
  git clone --quiet --filter=blob:none --no-checkout "$1" "$dir"
  echo "$dir"
}
fastvideo=${FASTVIDEO_GIT:-$(clone https://github.com/hao-ai-lab/FastVideo)}
tk=${THUNDERKITTENS_GIT:-$(clone https://github.com/HazyResearch/ThunderKittens)}
sage=${SAGEATTENTION_GIT:-$(clone https://github.com/thu-ml/SageAttention)}
pin=$(git -C "$fastvideo" ls-tree HEAD fastvideo-kernel/include/tk | awk '{print $3}')
rm -rf .anchors
# export GIT_DIR COMMIT DEST PATH...: the files under PATHs at COMMIT into DEST, one by one (git
# archive would also read the trees' other blobs, which a blobless or partial clone may lack).
export_files() {
  local git=$1 commit=$2 dest=$3 file
  shift 3
  git -C "$git" ls-tree -r --name-only "$commit" -- "$@" | while read -r file; do
    mkdir -p "$dest/$(dirname "$file")"
    git -C "$git" show "$commit:$file" >"$dest/$file"
  done
}
export_files "$fastvideo" HEAD .anchors fastvideo-kernel/csrc/attention/block_sparse_h100.cu
export_files "$tk" "$pin" .anchors/thunderkittens include prototype
export_files "$sage" HEAD .anchors/SageAttention csrc sageattention
{
  echo "FastVideo $(git -C "$fastvideo" rev-parse HEAD)"
  echo "ThunderKittens $pin (FastVideo's pin)"
  echo "SageAttention $(git -C "$sage" rev-parse HEAD)"
} | tee .anchors/VERSIONS
du -sh .anchors
