#!/usr/bin/env bash
# A kernel file's sm_90a SASS, and instruction counts, on a machine without a GPU: how the static
# instruction count of a loop changed is the one speed signal a kernel edit gives before it can be
# timed (e.g. SAGE_ATTN's step is bound by instruction issue; docs/perf.md). nvdisasm is not in
# the toolkit's Debian packages, so it comes from NVIDIA's PyPI wheel into .whl/ (git-ignored).
#
# Usage: scripts/sass.sh FILE.cu [--arch sm_90a] [--count FIRST LAST] [-- NVCC FLAGS...]
#   prints the SASS (labels and instructions, as nvdisasm -c), then ptxas' register and spill
#   report on stderr; with --count, only a histogram of the mnemonics on SASS lines FIRST..LAST
#   of that listing (find a loop's lines by its GMMA instructions and branch labels first).
set -euo pipefail
cd "$(dirname "$0")/.."
file=$1
shift
arch=sm_90a
range=()
while [ $# -gt 0 ]; do
  case $1 in
    --arch) arch=$2; shift 2 ;;
    --count) range=("$2" "$3"); shift 3 ;;
    --) shift; break ;;
    *) echo "scripts/sass.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
nvdisasm=.whl/nvdisasm/nvidia/cu13/bin/nvdisasm
if [ ! -x "$nvdisasm" ]; then
  mkdir -p .whl/nvdisasm
  pip download --quiet --no-deps --dest .whl nvidia-cuda-nvdisasm
  python3 -m zipfile -e .whl/nvidia_cuda_nvdisasm-*.whl .whl/nvdisasm
  chmod +x "$nvdisasm"
fi
cubin=$(mktemp --suffix=.cubin)
listing=$(mktemp)
trap 'rm -f "$cubin" "$listing"' EXIT
/usr/local/cuda/bin/nvcc -DFASTVIDEO_HAVE_CUDA=1 -Iinclude -Isrc -O3 -DNDEBUG -std=c++20 \
  --expt-relaxed-constexpr -arch="$arch" -cubin -Xptxas -v -o "$cubin" "$file" "$@" 2>&1 |
  grep -E "registers|spill|error" >&2 || true
"$nvdisasm" -c "$cubin" >"$listing"
if [ ${#range[@]} -eq 0 ]; then
  cat "$listing"
  exit 0
fi
python3 - "$listing" "${range[0]}" "${range[1]}" <<'PY'
import collections, re, sys
lines = open(sys.argv[1]).read().splitlines()[int(sys.argv[2]) - 1:int(sys.argv[3])]
ops = [m.group(2) for m in (re.match(r"\s*/\*[0-9a-f]+\*/\s*(@!?U?P\w+\s+)?([A-Z0-9_]+)", l)
                            for l in lines) if m]
for op, n in collections.Counter(ops).most_common():
    print(f"{n:6d} {op}")
print(f"{len(ops):6d} instructions")
PY
