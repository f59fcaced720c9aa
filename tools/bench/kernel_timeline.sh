#!/usr/bin/env bash
# A GPU timeline of any CUDA program, kernels, memsets and memcpys (kernel_timeline.cpp), then
# each kernel's time in sequence and the idle gaps between (kernel_timeline_calls.py).
#
# Build here, where the toolkit has CUPTI, into a folder the device call carries (the device
# machines' toolkit lacks CUPTI, so its library goes along):
#   tools/bench/kernel_timeline.sh build DIR
# On the GPU machine:
#   tools/bench/kernel_timeline.sh run DIR TRACE.csv PROGRAM [ARGS...]
#   python3 tools/bench/kernel_timeline_calls.py TRACE.csv FIRST_KERNEL MARKER_KERNEL
# The trace is written when PROGRAM exits normally (a process killed by a timeout writes none);
# with several CUDA processes under PROGRAM, the last to exit writes it.
set -euo pipefail
usage() { sed -n '2,12p' "$0"; exit 1; }
case "${1:-}" in
  build)
    dir=${2:?usage: kernel_timeline.sh build DIR}
    cuda=${CUDA_HOME:-$(dirname "$(dirname "$(command -v nvcc)")")}
    cupti=$(find -L "$cuda" -name 'libcupti.so' 2>/dev/null | head -1)
    [ -n "$cupti" ] || { echo "kernel_timeline.sh: no libcupti.so under $cuda" >&2; exit 1; }
    # Copied under its SONAME, the name the library built here asks for beside it ($ORIGIN).
    soname=$(objdump -p "$cupti" | awk '/SONAME/ {print $2}')
    mkdir -p "$dir"
    cp -L "$cupti" "$dir/$soname"
    g++ -O2 -std=c++17 -shared -fPIC "$(dirname "$0")/kernel_timeline.cpp" -I"$cuda/include" \
      -I"$cuda/extras/CUPTI/include" -L"$(dirname "$cupti")" -lcupti -Wl,-rpath,'$ORIGIN' \
      -o "$dir/libkernel_timeline.so"
    echo "$dir/libkernel_timeline.so (with $soname)"
    ;;
  run)
    [ $# -ge 4 ] || usage
    dir=$2 trace=$3
    shift 3
    [ -f "$dir/libkernel_timeline.so" ] || { echo "kernel_timeline.sh: build $dir first" >&2; exit 1; }
    CUDA_INJECTION64_PATH=$(realpath "$dir/libkernel_timeline.so") FV_TIMELINE=$trace "$@"
    ;;
  *) usage ;;
esac
