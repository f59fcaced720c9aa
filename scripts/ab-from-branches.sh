#!/usr/bin/env bash
# Variant folders for scripts/gpu-ab.sh from git branches: for each BRANCH, the files it changes
# since it left HEAD's history, as the branch has them, under .ab/<last part of the branch name>/
# (git-ignored; carry ".ab" in the device call, which has no .git). A file the branch deletes is
# left out; a file HEAD also changed since is refused (the folder would undo HEAD's change there):
# rebase the branch first.
# Usage: scripts/ab-from-branches.sh exp/conv-hopper exp/conv-graph ...
set -euo pipefail
cd "$(dirname "$0")/.."
for branch in "$@"; do
  dir=.ab/${branch##*/}
  both=$(comm -12 <(git diff --name-only "$branch"...HEAD | sort) \
    <(git diff --name-only "HEAD...$branch" | sort))
  if [ -n "$both" ]; then
    echo "$branch and HEAD both changed: $both; rebase $branch on HEAD first" >&2
    exit 1
  fi
  rm -rf "$dir"
  git diff --name-only --diff-filter=d "HEAD...$branch" | while read -r f; do
    mkdir -p "$dir/$(dirname "$f")"
    git show "$branch:$f" >"$dir/$f"
  done
  echo "$dir: $(find "$dir" -type f | wc -l) files from $branch"
done
