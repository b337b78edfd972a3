#!/usr/bin/env bash
# Installs every Debian package spikesim needs, skipping those already present.
# Called by scripts/demo.sh, scripts/test.sh and scripts/bench.sh; safe to run again.
# Usage: scripts/setup.sh [EXTRA_PACKAGE...]
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config clang-format clang-tidy
  # fuzzing (scripts/fuzz.sh): clang with libFuzzer and the sanitizer runtimes, clang's OpenMP
  clang libclang-rt-14-dev libomp-dev
  # the full-disk tests run spikesim on a small tmpfs in a private mount namespace (unshare)
  util-linux
  # C++ libraries
  libeigen3-dev libboost-graph-dev libhdf5-dev libcli11-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev zlib1g-dev
  libonnx-dev libprotobuf-dev protobuf-compiler
  libpcre2-dev libicu-dev
  # optional: MPI, to spread compare cells and account chunks over ranks (mpirun -np N spikesim ...)
  libopenmpi-dev openmpi-bin
  # python: plots, notebooks, trace export, benchmarks, and the Python package (python/: pybind11 extension,
  # spikesim.torch probe on Debian's CPU torch)
  python3-numpy python3-h5py python3-matplotlib python3-dev pybind11-dev python3-pybind11 python3-torch
  python3-nbconvert python3-nbclient python3-ipykernel python3-nbformat
  # data the project's own default models are trained on / evaluated with
  dataset-fashion-mnist bible-kjv-text bible-kjv
)
# Extra packages a caller needs (scripts/bench.sh: python3-brian cython3 for the Brian2 comparison).
packages+=("$@")
if [[ "${SPIKESIM_WITH_BROWSER:-1}" == 1 ]]; then
  packages+=(chromium)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all packages present"
fi
