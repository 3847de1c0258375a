#!/usr/bin/env bash
# Side-by-side flow benchmarks: PyTorch 1.13 CPU (bench/torch_bench.py) and FlowService's engine
# (bench/FlowService.Bench, mode "flows") on the same architectures and batch, in one run, then a
# table of the ratios (speed-up of FlowService over PyTorch; > 1 means FlowService is faster).
# Usage: bench/run_flows.sh [seconds per measurement, default 2]
# Both sides print JSON lines {"bench", "metric", "value", "unit", ...}; raw lines land in bench/out/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-2}
out=bench/out
mkdir -p "$out"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

echo "machine: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1), $(nproc) cores; $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "load before: $(uptime | sed 's/.*load average/load average/')"

dotnet build bench/FlowService.Bench -c Release -nologo -v q >/dev/null
# OPENBLAS_NUM_THREADS=1: PyTorch's own threads (1 or 2, best kept) do the parallel work.
OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_bench.py --seconds "$seconds" | tee "$out/torch.jsonl"
dotnet run -c Release --no-build --project bench/FlowService.Bench -- flows --seconds "$seconds" | tee "$out/flowservice.jsonl"
echo "load after: $(uptime | sed 's/.*load average/load average/')"

/usr/bin/python3 - "$out/torch.jsonl" "$out/flowservice.jsonl" <<'PY'
import json, sys
def load(path):
    rows = {}
    for line in open(path):
        line = line.strip()
        if line.startswith("{"):
            r = json.loads(line)
            rows[(r["bench"], r["metric"])] = r
    return rows
torch, ours = load(sys.argv[1]), load(sys.argv[2])
print()
print(f"{'bench':14s} {'metric':22s} {'PyTorch':>12s} {'FlowService':>12s} {'ratio':>7s}  goal")
goals = {"train_samples_per_s": 2.0, "score_rows_per_s": 3.0}
for key in torch:
    if key not in ours:
        continue
    t, o = torch[key]["value"], ours[key]["value"]
    # Throughputs: ours / theirs. Latency: theirs / ours (both read as a speed-up).
    ratio = t / o if key[1] == "latency_us" else o / t
    goal = goals.get(key[1])
    mark = "" if goal is None else (f">= {goal:g}x " + ("met" if ratio >= goal else "short"))
    print(f"{key[0]:14s} {key[1]:22s} {t:12,.1f} {o:12,.1f} {ratio:6.2f}x  {mark}")
PY
