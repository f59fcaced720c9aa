#!/usr/bin/env bash
# Installs the Debian packages fastvideo needs (DESIGN §8) and builds it into build/.
# Usage: scripts/setup.sh            (CUDA sources are compiled too when nvcc is on PATH)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(cmake ninja-build g++ ccache pkg-config nlohmann-json3-dev libyaml-cpp-dev libcli11-dev
          libsentencepiece-dev libavcodec-dev libavformat-dev libavutil-dev libswscale-dev
          libpng-dev libopenblas-dev libgtest-dev ffmpeg libcpp-httplib-dev curl python3-venv)
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

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release ${FASTVIDEO_CMAKE_ARGS:-}
cmake --build build --parallel "$(nproc)"
