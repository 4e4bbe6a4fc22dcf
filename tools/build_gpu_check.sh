#!/usr/bin/env bash
# Builds tools/gpu_check.sh's binary on a machine with Rust but no GPU, for GPU machines without
# Rust: writes .gpu/gpu_check.xz (git-ignored; carry it to the GPU machine).
#
#   tools/build_gpu_check.sh          # about 15 minutes on 2 cores, 1.3 GB of pip wheels once
#
# * CUDA 13.0 compiler wheels from PyPI: the PTX candle embeds must not be newer than the GPU's
#   driver (driver 580 runs CUDA ≤ 13.0), and cudarc's 13.0 bindings use only 13.0 entry points.
# * The binary links libcuda, cuBLAS(Lt), cuRAND, NVRTC and cudart dynamically (candle enables
#   cudarc's `dynamic-linking`). Only cudart has a wheel here that is needed at run time too;
#   for the others the linker gets stub libraries with the real sonames and the symbols the
#   binary uses (gathered from a first link's undefined references). On the GPU machine the
#   real libraries (the driver's libcuda.so.1, PyTorch's nvidia-* wheels) are loaded instead.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${LMMR1_CUDA130_VENV:-$HOME/.cache/lmmr1/cuda130-venv}
if [ ! -x "$venv/bin/python" ] || ! ls "$venv"/lib/python3*/site-packages/nvidia/cu13/bin/nvcc >/dev/null 2>&1; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q nvidia-cuda-nvcc==13.0.88 nvidia-cuda-crt==13.0.88 \
    nvidia-cuda-runtime==13.0.96 nvidia-cuda-cccl==13.0.85 nvidia-nvvm==13.0.88
fi
cuda_home=$(ls -d "$venv"/lib/python3*/site-packages/nvidia/cu13 | head -n 1)
stubs=$PWD/target/gpu-stubs
mkdir -p "$stubs" .gpu
export PATH="$cuda_home/bin:$PATH" CUDA_HOME="$cuda_home" CUDA_PATH="$cuda_home" CUDA_COMPUTE_CAP=90 \
  CUDARC_CUDA_VERSION=13000 CARGO_TARGET_DIR="$PWD/target/gpu"
export RUSTFLAGS="-L native=$stubs -L native=$cuda_home/lib"

# lib name, soname, symbol pattern
libs=(
  "cuda libcuda.so.1 ^cu[A-Z]"
  "cublasLt libcublasLt.so.13 ^cublasLt"
  "cublas libcublas.so.13 ^cublas[A-Z_]"
  "curand libcurand.so.10 ^curand"
  "nvrtc libnvrtc.so.13 ^nvrtc"
)
make_stubs() { # make_stubs SYMBOL_FILE
  for spec in "${libs[@]}"; do
    read -r name soname pattern <<<"$spec"
    : > "$stubs/$name.c"
    grep -E "$pattern" "$1" | while read -r sym; do echo "void $sym(void) {}" >> "$stubs/$name.c"; done
    gcc -shared -fPIC -Wl,-soname,"$soname" -o "$stubs/lib$name.so" "$stubs/$name.c"
  done
}

: > "$stubs/symbols"
make_stubs "$stubs/symbols"
if ! cargo build --release --features cuda --example gpu_check 2> "$stubs/link.log"; then
  grep -o "undefined reference to \`[A-Za-z0-9_]*'" "$stubs/link.log" | sed "s/.*\`\(.*\)'/\1/" \
    | sort -u > "$stubs/symbols"
  echo "stub symbols: $(wc -l < "$stubs/symbols")"
  [ -s "$stubs/symbols" ] || { tail -n 40 "$stubs/link.log"; exit 1; }
  make_stubs "$stubs/symbols"
  cargo build --release --features cuda --example gpu_check
fi
bin=target/gpu/release/examples/gpu_check
strip "$bin"
readelf -d "$bin" | grep NEEDED
xz -T0 -6 -c "$bin" > .gpu/gpu_check.xz
ls -l "$bin" .gpu/gpu_check.xz
