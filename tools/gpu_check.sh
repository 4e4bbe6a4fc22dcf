#!/usr/bin/env bash
# The prepared GPU check (at most ~8 minutes on one H100): parity with transformers in f32 and
# bf16, decode and training-step throughput of the 100M preset, short fre_text runs in f32 and
# bf16, and a Qwen2.5-VL-3B-shaped random model (one training step of 1 × 2048 tokens with
# recompute; generation of 64 rows × 512 new tokens), each with its peak GPU memory (nvidia-smi,
# above the idle baseline) and, for the 3B probe, the memory planner's prediction. Ends with one
# Markdown table for the README.
#
#   tools/gpu_check.sh                 # on a machine with an NVIDIA GPU
#
# The binary: target/release/examples/gpu_check if built; else, with cargo, it is built here
# (`--features cuda`, CUDA_COMPUTE_CAP from nvidia-smi); else .gpu/gpu_check.xz, made on a
# machine with Rust by tools/build_gpu_check.sh (GPU machines of this workplace have no Rust).
# The CUDA libraries (cuBLAS, cuRAND, NVRTC, cudart) come from the system or from the Python
# nvidia-* packages next to PyTorch.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
log="$out/gpu_check.log"
: > "$log"

bin=target/release/examples/gpu_check
if [ ! -x "$bin" ]; then
  if command -v cargo >/dev/null 2>&1; then
    cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -n 1 | tr -d .)
    CUDA_COMPUTE_CAP=${cap:-90} cargo build --release --features cuda --example gpu_check >>"$log" 2>&1 \
      || { echo "build failed, see $log"; tail -n 30 "$log"; exit 1; }
  elif [ -f .gpu/gpu_check.xz ]; then
    bin=/tmp/lmmr1_gpu_check
    xz -dc .gpu/gpu_check.xz > "$bin" && chmod +x "$bin"
  else
    echo "no gpu_check binary, no cargo and no .gpu/gpu_check.xz: run tools/build_gpu_check.sh first" >&2
    exit 2
  fi
fi

# CUDA libraries shipped with PyTorch's wheels (nvidia/cu13/lib, nvidia/*/lib).
if py_nvidia=$(python3 -c 'import nvidia, os; print(os.path.dirname(nvidia.__path__[0] if hasattr(nvidia, "__path__") else nvidia.__file__))' 2>/dev/null); then
  for d in "$py_nvidia"/nvidia/cu13/lib "$py_nvidia"/nvidia/*/lib; do
    [ -d "$d" ] && LD_LIBRARY_PATH="$d:${LD_LIBRARY_PATH:-}"
  done
  export LD_LIBRARY_PATH
fi

idle=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -n 1)
rows=()
# run NAME TIMEOUT ARGS…: runs the binary, samples nvidia-smi every 50 ms, keeps the JSON line.
run() {
  local name=$1 limit=$2
  shift 2
  local samples="$out/$name.mem"
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 50 > "$samples" 2>/dev/null &
  local smi=$!
  local t0=$SECONDS
  local json
  json=$(timeout "$limit" "$bin" "$@" 2>>"$log" | tail -n 1)
  local rc=$?
  kill "$smi" 2>/dev/null; wait "$smi" 2>/dev/null
  local peak
  peak=$(sort -n "$samples" | tail -n 1)
  echo "$name rc=$rc $((SECONDS - t0))s peak=${peak:-?}MiB $json" | tee -a "$log"
  rows+=("$name|$rc|$((SECONDS - t0))|$(( ${peak:-0} - idle ))|$json")
}

# Limits sum to 8 minutes; a check is skipped when less than its limit is left.
deadline=$((SECONDS + 480))
check() {
  local limit=$2
  if [ $((SECONDS + limit)) -gt "$deadline" ]; then
    echo "$1 skipped: the 8-minute budget is spent" | tee -a "$log"
    rows+=("$1|skipped|0|0|{}")
    return
  fi
  run "$@"
}
check parity_f32 30 parity --dtype f32
check parity_bf16 30 parity --dtype bf16
check decode_f32 45 decode --dtype f32 --batches 1,16,64
check train_step_f32 30 train-step --dtype f32 --tf32
check fre_text_f32 100 fre-text --dtype f32 --tf32 --out "$out/fre_text_f32" --steps 12
check fre_text_bf16 100 fre-text --dtype bf16 --out "$out/fre_text_bf16" --steps 12
check probe_3b_train 75 probe-3b --what train
check probe_3b_generate 70 probe-3b --what generate

python3 - "${rows[@]}" <<'PY' | tee "$out/table.md"
import json, sys
print("| check | exit | seconds | peak GPU MiB (above idle) | planner MiB | result |")
print("|---|---|---|---|---|---|")
for row in sys.argv[1:]:
    name, rc, secs, peak, js = row.split("|", 4)
    try:
        j = json.loads(js)
    except Exception:
        j = {}
    pred = j.get("predicted_bytes")
    pred = f"{pred / 2**20:.0f}" if pred else ""
    keep = {k: v for k, v in j.items() if k not in ("check", "predicted_bytes")}
    print(f"| {name} | {rc} | {secs} | {peak} | {pred} | {json.dumps(keep)} |")
PY
