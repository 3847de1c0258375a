#!/usr/bin/env bash
# How far apart two seeds of the same implementation land, beside how far the engine lands from PyTorch: the same
# Fashion-MNIST RealNVP and budget as bench/run_images.sh, trained with seeds 1..N on each side (initial weights and
# shuffles; the test images' noise draw is fixed). Prints one line per run and the per-side mean and spread of the
# test bits/dim. THREADS sets PyTorch's threads (default 2). Usage: bench/run_images_seeds.sh [train images, 10000] [epochs, 1] [batch, 64] [test images, 5000] [seeds, 3]
set -euo pipefail
cd "$(dirname "$0")/.."
train=${1:-10000}; epochs=${2:-1}; batch=${3:-64}; test=${4:-5000}; seeds=${5:-3}
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
echo "machine: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1), $(nproc) cores; $(date -u '+%Y-%m-%d %H:%M UTC'); load $(cut -d' ' -f1-3 /proc/loadavg)"
dotnet build bench/FlowService.Bench -c Release -nologo -v q >/dev/null
results=$(mktemp)
for seed in $(seq "$seeds"); do
  dotnet bench/FlowService.Bench/bin/Release/net10.0/FlowService.Bench.dll images --train "$train" --test "$test" --epochs "$epochs" --batch "$batch" --seed "$seed" \
    | grep '"test_bits_per_dim"' | sed "s/^{/{\"seed\":$seed,/" | tee -a "$results"
  OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_images.py --train "$train" --test "$test" --epochs "$epochs" --batch "$batch" --seed "$seed" --threads "${THREADS:-2}" \
    | grep '"test_bits_per_dim"' | sed "s/^{/{\"seed\":$seed,/" | tee -a "$results"
done
/usr/bin/python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
by = {}
for r in rows:
    by.setdefault(r["impl"], []).append(r["value"])
for impl, values in by.items():
    print(f"{impl}: mean {statistics.mean(values):.4f} bits/dim, min {min(values):.4f}, max {max(values):.4f}, sd {statistics.stdev(values) if len(values) > 1 else 0:.4f} over {len(values)} seeds")
if len(by) == 2:
    print(f"engine - PyTorch (means): {statistics.mean(by['flowservice']) - statistics.mean(by['pytorch']):+.4f} bits/dim")
PY
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
