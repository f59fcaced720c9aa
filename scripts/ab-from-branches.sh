#!/usr/bin/env bash
# Variant folders for scripts/gpu-ab.sh from git branches: for each BRANCH, the files it changes
# against HEAD, as the branch has them, under .ab/<last part of the branch name>/ (git-ignored;
# carry ".ab" in the device call, which has no .git). A file the branch deletes is left out.
# Usage: scripts/ab-from-branches.sh exp/conv-hopper exp/conv-graph ...
set -euo pipefail
cd "$(dirname "$0")/.."
for branch in "$@"; do
  dir=.ab/${branch##*/}
  rm -rf "$dir"
  git diff --name-only --diff-filter=d HEAD "$branch" | while read -r f; do
    mkdir -p "$dir/$(dirname "$f")"
    git show "$branch:$f" >"$dir/$f"
  done
  echo "$dir: $(find "$dir" -type f | wc -l) files from $branch"
done
