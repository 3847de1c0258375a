#!/usr/bin/env bash
# Training and scoring images/s on Fashion-MNIST, FlowService's engine against every PyTorch 1.13 process the
# architecture notes call fair (1 thread, 2 threads, 2 threads with OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset, and
# 2 threads with glibc malloc's large-block trimming off),
# all at the same training budget, in rounds: each round runs the four processes one after another, so a
# round's ratios share the machine's state. Throughput only (no PNG, 500 test images scored in one call).
# Usage: bench/run_images_throughput.sh [rounds, default 3] [training images, default 10000] [batch, default 64]
# The training figure is one epoch over the images, first step included on both sides: with 10,000 images
# (156 steps) both sides are near their steady rate; with 512-2,048 images the first steps weigh more.
# Prints one line per process and a summary per round: engine / best PyTorch process, training and scoring.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
train=${2:-10000}
batch=${3:-64}
out=${OUT:-bench/out/images-throughput}
mkdir -p "$out"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

echo "machine: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1), $(nproc) cores; $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "avx-512: $(grep -q avx512f /proc/cpuinfo && echo yes || echo no); env: OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-unset}"
dotnet build bench/FlowService.Bench -c Release -nologo -v q >/dev/null

value() { sed -n "s/.*\"metric\": *\"$2\", *\"value\": *\([0-9.eE+-]*\).*/\1/p" "$1" | head -1; }
for r in $(seq 1 "$rounds"); do
  echo "round $r, load $(cut -d' ' -f1-3 /proc/loadavg)"
  dotnet bench/FlowService.Bench/bin/Release/net10.0/FlowService.Bench.dll images --train "$train" --test 500 --epochs 1 --batch "$batch" \
    > "$out/r$r-engine.jsonl"
  OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_images.py --train "$train" --test 500 --epochs 1 --batch "$batch" --threads 2 \
    > "$out/r$r-torch2.jsonl"
  OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_images.py --train "$train" --test 500 --epochs 1 --batch "$batch" --threads 1 \
    > "$out/r$r-torch1.jsonl"
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_images.py --train "$train" --test 500 \
    --epochs 1 --batch "$batch" --threads 2 > "$out/r$r-torch2-unset.jsonl"
  # glibc malloc kept from handing back large tensors (no fresh pages, so no page faults per call): PyTorch's fast mode
  # every time (run_image_steady.sh says why).
  MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=4294967296 MALLOC_TOP_PAD_=268435456 OPENBLAS_NUM_THREADS=1 \
    /usr/bin/python3 bench/torch_images.py --train "$train" --test 500 --epochs 1 --batch "$batch" --threads 2 > "$out/r$r-torch2-malloc.jsonl"
  line="round $r (load after $(cut -d' ' -f1 /proc/loadavg)):"
  for metric in train_images_per_s score_images_per_s; do
    engine=$(value "$out/r$r-engine.jsonl" "$metric")
    best=0
    for side in torch2 torch1 torch2-unset torch2-malloc; do
      v=$(value "$out/r$r-$side.jsonl" "$metric")
      line="$line $metric $side $v;"
      best=$(awk -v a="$best" -v b="$v" 'BEGIN { print (b > a) ? b : a }')
    done
    line="$line $metric engine $engine, ratio to best $(awk -v a="$engine" -v b="$best" 'BEGIN { printf "%.3f", a / b }');"
  done
  echo "$line"
done
