#!/usr/bin/env bash
# What API-key checks cost the serving path, measured so that the machine's drift cancels: two warm service processes
# run side by side over copies of one data folder, authentication off (FlowService:Auth:Mode=none, port 5081) and on
# (a bootstrap admin key presented as Authorization: Bearer, the per-key rate limiter in the path with a limit too high
# to bite, port 5082), and short wrk bursts (single-row POST /score, 64 connections) alternate between them in ABBA
# order. Only one of the two is under load at a time; the idle one costs nothing.
#
# Why not auth.sh's one process per measurement: on a 2-core VM one 8-10 s measurement of the same setting moves by
# +-20% from run to run (other tenants, the batcher's batch sizes, GC timing), more than the 5% being asked about.
# Drift over seconds to minutes is shared by neighbouring bursts, so alternating every few seconds cancels it; each
# ROUND starts a fresh pair of processes, so process-to-process differences (JIT, heap layout) are sampled too.
#
# Usage: [ROUNDS=3] [PAIRS=20] [BURST=3] [WARMUP=30] bench/serving/auth_interleaved.sh
# Results: JSON lines in $OUT (default bench/serving/out-auth-interleaved/results.jsonl), then one summary line: the
# on/off ratio of total requests, its bootstrap 95% interval over burst pairs, and the per-round ratios.
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${ROUNDS:-3} pairs=${PAIRS:-20} burst=${BURST:-3}
out=${OUT:-bench/serving/out-auth-interleaved}
mkdir -p "$out"
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT

dotnet build src/FlowService.Api -c Release -nologo -v q
dotnet build bench/serving/ServingLoad -c Release -nologo -v q
bin=src/FlowService.Api/bin/Release/net10.0
ServingLoadDll=bench/serving/ServingLoad/bin/Release/net10.0/ServingLoad.dll
key=$(openssl rand -hex 32)
off_url=http://127.0.0.1:5081 on_url=http://127.0.0.1:5082

# shellcheck source=bench/serving/common.sh
source bench/serving/common.sh
record() { tee -a "$out/results.jsonl"; }
# start URL DATA SETTING...: one service process (common.sh's serving_start), its pid appended to pids.
start() {
  url=$1 data=$2
  shift 2
  serving_start "$bin" FlowService__RateLimits__InferenceRequestsPerSecond=1000000 "$@"
  pids+=("$pid")
}
authorization() { [[ $1 == on ]] && echo "Bearer $key" || true; }
target() { [[ $1 == on ]] && echo "$on_url" || echo "$off_url"; }
burst() { # setting round pair
  AUTHORIZATION="$(authorization "$1")" BODY="$work/bodies/score1.json" CONTENT_TYPE=application/json \
    wrk -t1 -c64 -d"${burst}s" --timeout 5s -s bench/serving/post.lua "$(target "$1")/score" | grep '^{' |
    sed "s/^{/{\"auth\":\"$1\",\"round\":$2,\"pair\":$3,/" | record
}

: > "$out/results.jsonl"
machine_json ",\"rounds\":$rounds,\"pairs\":$pairs,\"burstSeconds\":$burst,\"warmupSeconds\":${WARMUP:-30}" | record
mkdir -p "$work/data"
start "$off_url" "$work/data" FlowService__Auth__Mode=none
dotnet "$ServingLoadDll" prepare "$url" "$work/bodies" | record
serving_stop
pids=()
for round in $(seq "$rounds"); do
  rm -rf "$work/off" "$work/on"
  cp -r "$work/data" "$work/off"
  cp -r "$work/data" "$work/on"
  start "$off_url" "$work/off" FlowService__Auth__Mode=none
  start "$on_url" "$work/on" FlowService__Auth__BootstrapAdminKey="$key"
  # Warm each process to its optimized code (common.sh's serving_warm), in turn.
  url=$off_url serving_warm "$work/bodies/score1.json"
  url=$on_url serving_warm "$work/bodies/score1.json" "Bearer $key"
  for pair in $(seq "$pairs"); do
    order="off on"; (( pair % 2 == 0 )) && order="on off"
    for setting in $order; do burst "$setting" "$round" "$pair"; done
  done
  for p in "${pids[@]}"; do kill "$p"; wait "$p" 2>/dev/null || true; done
  pids=()
done
echo "{\"done\":\"$(date -u +%FT%TZ)\",\"load\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}" | record
/usr/bin/python3 - "$out/results.jsonl" <<'PY'
import json, random, statistics, sys
bursts = [r for r in map(json.loads, open(sys.argv[1])) if r.get("mode") == "wrk"]
bad = sum(r["non2xx"] + r["socketErrors"] + r["timeouts"] for r in bursts)
by_key = {}
for r in bursts:
    by_key.setdefault((r["round"], r["pair"]), {})[r["auth"]] = r["requests"] / r["seconds"]
by_key = {k: p for k, p in by_key.items() if len(p) == 2}
pairs = list(by_key.values())
def ratio(sample):
    return sum(p["on"] for p in sample) / sum(p["off"] for p in sample)
# Bootstrap over burst pairs: the interval of the ratio of total throughputs.
rng = random.Random(1)
boot = sorted(ratio([rng.choice(pairs) for _ in pairs]) for _ in range(10000))
per_round = [round(ratio([p for k, p in by_key.items() if k[0] == n]), 3) for n in sorted({k[0] for k in by_key})]
print(json.dumps({"summary": "single-row POST /score, 64 connections, interleaved bursts", "pairs": len(pairs), "errors": bad,
                  "offMean": round(statistics.mean(p["off"] for p in pairs), 1), "onMean": round(statistics.mean(p["on"] for p in pairs), 1),
                  "onOverOff": round(ratio(pairs), 4), "ci95": [round(boot[249], 4), round(boot[9749], 4)],
                  "pairedRatioMedian": round(statistics.median(p["on"] / p["off"] for p in pairs), 4), "perRound": per_round}))
PY
