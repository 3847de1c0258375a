#!/usr/bin/env bash
# Fashion-MNIST side by side: FlowService's engine (bench/FlowService.Bench, mode "images") and
# PyTorch 1.13 (bench/torch_images.py) train the same multi-scale RealNVP on the same images with
# the same budget, in one run; then PyTorch's throughput at the other thread count, and with
# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset. Raw JSON lines land in bench/out/images-*.jsonl.
# Usage: bench/run_images.sh [train images, default 10000] [epochs, default 2] [batch, default 64] [test images, default 10000]
#        [learning rate, default 1e-3] [warm-up steps, default 0]
# Both sides use the architecture's default input ActNorm (engine "inputNorm", torch_images.py's default).
# Needs Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist) and python3-torch.
set -euo pipefail
cd "$(dirname "$0")/.."
train=${1:-10000}
epochs=${2:-2}
batch=${3:-64}
test=${4:-10000}
lr=${5:-0.001}
warmup=${6:-0}
out=bench/out
mkdir -p "$out" docs/images
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

echo "machine: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1), $(nproc) cores; $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "avx-512 flags: $(grep -o 'avx512[a-z_0-9]*' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "env: OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-unset}"
echo "load before: $(uptime | sed 's/.*load average/load average/')"
dotnet build bench/FlowService.Bench -c Release -nologo -v q >/dev/null

dotnet bench/FlowService.Bench/bin/Release/net10.0/FlowService.Bench.dll images --train "$train" --test "$test" --epochs "$epochs" --batch "$batch" \
  --lr "$lr" --warmup "$warmup" --png docs/images/fashion-mnist-samples.png | tee "$out/images-flowservice.jsonl"
echo "load after FlowService: $(uptime | sed 's/.*load average/load average/')"
OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_images.py --train "$train" --test "$test" --epochs "$epochs" --batch "$batch" --lr "$lr" --warmup "$warmup" --threads 2 | tee "$out/images-torch.jsonl"
echo "load after PyTorch (2 threads): $(uptime | sed 's/.*load average/load average/')"
# Throughput only (short runs): the other thread count, and OpenBLAS's tuning variables unset.
OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_images.py --train 512 --test 500 --epochs 1 --batch "$batch" --threads 1 | tee "$out/images-torch-1thread.jsonl"
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_images.py --train 512 --test 500 --epochs 1 --batch "$batch" --threads 2 \
  | tee "$out/images-torch-openblas-unset.jsonl"
echo "load after: $(uptime | sed 's/.*load average/load average/')"
