#!/usr/bin/env bash
# Issue 15's new pieces against PyTorch 1.13 in one run: the logistic-mixture CDF coupling flow (flowpp_d16: training
# samples/s, scoring rows/s, single-row latency; bench/torch_bench.py vs mode "flows") and the reverse-KL training step
# on Neal's funnel (bench/torch_reverse_kl_bench.py vs mode "reverse-kl-speed"). Rounds alternate PyTorch and
# FlowService back to back; the best round per side is kept. PyTorch runs with OPENBLAS_NUM_THREADS=1 (best of 1 and 2
# torch threads), and once more with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset where the environment sets them.
# Usage: bench/run_flowpp_speed.sh [seconds per measurement, default 2] [rounds, default 2]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-2}
rounds=${2:-2}
out=bench/out
mkdir -p "$out"
echo "machine: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1), $(nproc) cores; $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "load before: $(uptime | sed 's/.*load average/load average/')"
dotnet build bench/FlowService.Bench -c Release -nologo -v q >/dev/null
bench=bench/FlowService.Bench/bin/Release/net10.0/FlowService.Bench.dll
: >"$out/flowpp_speed.jsonl"
for round in $(seq "$rounds"); do
  OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_bench.py --seconds "$seconds" --only flowpp_d16,realnvp_attention_d16 | sed 's/}$/, "impl": "torch"}/' | tee -a "$out/flowpp_speed.jsonl"
  dotnet "$bench" flows --seconds "$seconds" --only flowpp_d16,realnvp_attention_d16 | tee -a "$out/flowpp_speed.jsonl"
  OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_reverse_kl_bench.py --seconds "$seconds" | sed 's/}$/, "impl": "torch"}/' | tee -a "$out/flowpp_speed.jsonl"
  dotnet "$bench" reverse-kl-speed --seconds "$seconds" | tee -a "$out/flowpp_speed.jsonl"
  if [ -n "${OPENBLAS_CORETYPE:-}${OPENBLAS_L2_SIZE:-}" ]; then
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_reverse_kl_bench.py --seconds "$seconds" \
      | sed 's/}$/, "impl": "torch-openblas-defaults"}/' | tee -a "$out/flowpp_speed.jsonl"
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_bench.py --seconds "$seconds" --only flowpp_d16,realnvp_attention_d16 \
      | sed 's/}$/, "impl": "torch-openblas-defaults"}/' | tee -a "$out/flowpp_speed.jsonl"
  fi
  echo "load after round $round: $(uptime | sed 's/.*load average/load average/')"
done
/usr/bin/python3 - "$out/flowpp_speed.jsonl" <<'PY'
import json, sys
best = {}
for line in open(sys.argv[1]):
    if not line.startswith("{"):
        continue
    r = json.loads(line)
    impl = r.get("impl", "")
    impl = impl if impl.startswith("torch") else "flowservice"
    key = (r["bench"], r["metric"], impl)
    lower = r["metric"].startswith("latency")
    if key not in best or (r["value"] < best[key] if lower else r["value"] > best[key]):
        best[key] = r["value"]
print("| bench | metric | FlowService | PyTorch | ratio (FlowService / PyTorch; latency: PyTorch / FlowService) | PyTorch, OpenBLAS env unset |")
print("| --- | --- | ---: | ---: | ---: | ---: |")
for (bench, metric, impl), value in sorted(best.items()):
    if impl != "flowservice":
        continue
    torch = best.get((bench, metric, "torch"))
    plain = best.get((bench, metric, "torch-openblas-defaults"))
    ratio = (torch / value if metric.startswith("latency") else value / torch) if torch else float("nan")
    print(f"| {bench} | {metric} | {value:,.0f} | {torch:,.0f} | {ratio:.2f} | {plain if plain is None else f'{plain:,.0f}'} |")
PY
