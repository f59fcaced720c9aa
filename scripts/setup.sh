#!/usr/bin/env bash
# Installs the Debian packages fastvideo needs (DESIGN §8), builds it into build/, and installs the
# fastvideo_cpp Python package (`pip install .`) into the virtual environment .venv.
# Usage: scripts/setup.sh            (CUDA sources are compiled too when nvcc is on PATH)
# FASTVIDEO_CMAKE_ARGS: more CMake arguments, for both builds; FASTVIDEO_PYTHON_BIN: the Python
# that makes .venv (default python3).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(cmake ninja-build g++ ccache pkg-config nlohmann-json3-dev libyaml-cpp-dev libcli11-dev
          libsentencepiece-dev libavcodec-dev libavformat-dev libavutil-dev libswscale-dev
          libpng-dev libopenblas-dev libgtest-dev ffmpeg libcpp-httplib-dev curl python3-dev
          python3-venv)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

# The same compiler and ccache base folder for both builds below, so ccache reuses the objects of
# the first for the second (scikit-build-core would otherwise take Python's own CXX, g++; without a
# base folder ccache hashes absolute paths, which differ between build/ and build-py/).
export CC="${CC:-cc}" CXX="${CXX:-c++}" CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}"

# The build tools of the Python module (nanobind, scikit-build-core) live in .venv, where the
# main build finds them too (FASTVIDEO_PYTHON: build/python, for ctest's Python tests).
[ -x .venv/bin/python ] || "${FASTVIDEO_PYTHON_BIN:-python3}" -m venv .venv
.venv/bin/python -m pip install -q "nanobind>=2.0" "scikit-build-core>=0.10" numpy pytest

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DFASTVIDEO_PYTHON=ON \
      -DPython_EXECUTABLE="$PWD/.venv/bin/python" ${FASTVIDEO_CMAKE_ARGS:-}
cmake --build build --parallel "$(nproc)"

# pip install . into .venv. Its build folder (build-py/, pyproject.toml) sits beside build/ and
# takes the same CMake arguments, so the engine's objects come from the build above through ccache
# instead of being compiled twice.
args="${FASTVIDEO_CMAKE_ARGS:-}"
SKBUILD_CMAKE_ARGS="${args// /;}" \
  .venv/bin/python -m pip install -q --no-build-isolation .
