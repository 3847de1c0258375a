#!/usr/bin/env bash
# Side-by-side flow benchmarks: PyTorch 1.13 CPU (bench/torch_bench.py) and FlowService's engine
# (bench/FlowService.Bench, mode "flows") on the same architectures and batch, in one run, then a
# table of the ratios (speed-up of FlowService over PyTorch; > 1 means FlowService is faster).
# Usage: bench/run_flows.sh [seconds per measurement, default 2] [rounds, default 3]
# Both sides print JSON lines {"bench", "metric", "value", "unit", ...}; raw lines land in bench/out/.
# The machine is shared: each round runs every architecture on both sides back to back (PyTorch, then
# FlowService, so both see about the same load), and the table keeps each side's best round.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-2}
rounds=${2:-3}
out=bench/out
mkdir -p "$out"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

echo "machine: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1), $(nproc) cores; $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "load before: $(uptime | sed 's/.*load average/load average/')"

dotnet build bench/FlowService.Bench -c Release -nologo -v q >/dev/null
: >"$out/torch.jsonl"
: >"$out/flowservice.jsonl"
for round in $(seq "$rounds"); do
  for name in realnvp_d8 realnvp_d16 realnvp_d64 maf_d16 nsf_d16 flowpp_d16; do
    # OPENBLAS_NUM_THREADS=1: PyTorch's own threads (1 or 2, best kept) do the parallel work.
    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_bench.py --seconds "$seconds" --only "$name" | tee -a "$out/torch.jsonl"
    dotnet bench/FlowService.Bench/bin/Release/net10.0/FlowService.Bench.dll flows --seconds "$seconds" --only "$name" | tee -a "$out/flowservice.jsonl"
  done
  echo "load after round $round: $(uptime | sed 's/.*load average/load average/')"
done

/usr/bin/python3 - "$out/torch.jsonl" "$out/flowservice.jsonl" <<'PY'
import json, sys
def load(path):
    """The best round per (bench, metric): the highest throughput, the lowest latency."""
    rows = {}
    for line in open(path):
        line = line.strip()
        if line.startswith("{"):
            r = json.loads(line)
            key = (r["bench"], r["metric"])
            better = (lambda a, b: a < b) if r["metric"] == "latency_us" else (lambda a, b: a > b)
            if key not in rows or better(r["value"], rows[key]["value"]):
                rows[key] = r
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
