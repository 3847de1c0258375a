#!/usr/bin/env bash
# Paired image throughput, twice: [a baseline engine build,] this checkout's engine, PyTorch 1.13 with 1 thread; then PyTorch
# with 2 threads and with OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset. Same architecture (no inputNorm, which older builds
# lack), 512 training images, 1 epoch, batch 64, 500 test images. Prints the images/s lines with the load before each round.
# Usage: bench/run_images_pairs.sh [path of a baseline FlowService.Bench.dll, e.g. main's, built from `git archive main`]
set -euo pipefail
cd "$(dirname "$0")/.."
baseline=${1:-}
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build bench/FlowService.Bench -c Release -nologo -v q >/dev/null
engine=bench/FlowService.Bench/bin/Release/net10.0/FlowService.Bench.dll
spec='{"type":"realnvp","image":[1,28,28],"levels":2,"steps":2,"channels":32,"blocks":1}'
args=(images --train 512 --test 500 --epochs 1 --batch 64 --spec "$spec")
torch=(bench/torch_images.py --train 512 --test 500 --epochs 1 --batch 64 --no-input-norm)
echo "machine: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1), $(nproc) cores; env OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-unset}"
for round in 1 2; do
  echo "round $round load $(cat /proc/loadavg) $(date -u +%H:%M:%S)"
  [ -n "$baseline" ] && dotnet "$baseline" "${args[@]}" | grep images_per_s | sed 's/^/baseline /'
  dotnet "$engine" "${args[@]}" | grep images_per_s | sed 's/^/engine /'
  OPENBLAS_NUM_THREADS=1 /usr/bin/python3 "${torch[@]}" --threads 1 | grep images_per_s | sed 's/^/torch1 /'
done
echo "round 3 load $(cat /proc/loadavg)"
OPENBLAS_NUM_THREADS=1 /usr/bin/python3 "${torch[@]}" --threads 2 | grep images_per_s | sed 's/^/torch2 /'
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 /usr/bin/python3 "${torch[@]}" --threads 1 | grep images_per_s | sed 's/^/torch1-unset /'
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 /usr/bin/python3 "${torch[@]}" --threads 2 | grep images_per_s | sed 's/^/torch2-unset /'
echo "end load $(cat /proc/loadavg) $(date -u +%H:%M:%S)"
