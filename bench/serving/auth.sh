#!/usr/bin/env bash
# What API-key checks cost the serving path: single-row POST /score (JSON) at 64 connections, authentication off
# (FlowService:Auth:Mode=none) against on (a bootstrap admin key presented as Authorization: Bearer, the per-key rate
# limiter in the path with a limit too high to bite), in ABBA order (off on, on off, ...) on fresh processes over the same data
# folder, so each ratio compares neighbours. The model is the serving benchmark's (RealNVP d=16, trained by `prepare`).
# Each process is warmed for $WARMUP seconds (default 30) before it is measured (see serving_warm in common.sh).
# Usage: [ROUNDS=4] [WARMUP=30] bench/serving/auth.sh [seconds per wrk run, default 10]. Results: JSON lines in $OUT (default bench/serving/out-auth/).
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-10}
out=${OUT:-bench/serving/out-auth}
mkdir -p "$out"
port=5081
url=http://127.0.0.1:$port
data=$(mktemp -d)
trap 'kill "${pid:-0}" 2>/dev/null || true; rm -rf "$data"' EXIT

dotnet build src/FlowService.Api -c Release -nologo -v q
dotnet build bench/serving/ServingLoad -c Release -nologo -v q
bin=src/FlowService.Api/bin/Release/net10.0
key=$(openssl rand -hex 32)

# shellcheck source=bench/serving/common.sh
source bench/serving/common.sh
# The per-key limiter stays in the path, with a limit too high to bite.
start() { serving_start "$bin" FlowService__RateLimits__InferenceRequestsPerSecond=1000000 "$@"; }
stop() { serving_stop; }
record() { tee -a "$out/results.jsonl"; }
score() { # label [authorization]
  curl -sf -X POST "$url/score" -H 'Content-Type: application/json' ${2:+-H "Authorization: $2"} --data-binary @"$out/bodies/score1.json" > /dev/null
  serving_warm "$out/bodies/score1.json" "${2:-}"
  echo "{\"label\":\"$1\",\"warmupSeconds\":${WARMUP:-30},\"uptimeLoad\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}" | record
  AUTHORIZATION="${2:-}" BODY="$out/bodies/score1.json" CONTENT_TYPE=application/json \
    wrk -t1 -c64 -d"${seconds}s" --timeout 5s -s bench/serving/post.lua "$url/score" | grep '^{' | record
}

: > "$out/results.jsonl"
machine_json | record
start FlowService__Auth__Mode=none
ServingLoadDll=bench/serving/ServingLoad/bin/Release/net10.0/ServingLoad.dll
dotnet "$ServingLoadDll" prepare "$url" "$out/bodies" | record
stop
rounds=${ROUNDS:-4}
for round in $(seq "$rounds"); do
  # ABBA: each setting goes first in every other round, so a trend in the machine's load favours neither.
  order="off on"; (( round % 2 == 0 )) && order="on off"
  for auth in $order; do
    if [[ $auth == off ]]; then
      start FlowService__Auth__Mode=none
      score "auth off, round $round"
    else
      start FlowService__Auth__BootstrapAdminKey="$key"
      score "auth on (API key), round $round" "Bearer $key"
    fi
    stop
  done
done
dotnet "$ServingLoadDll" keycheck "$data/keycheck" 5 | record
# In memory and sequential: bytes and CPU per single-row request without and with a scorer key (load-independent bytes).
dotnet "$ServingLoadDll" pipeline "$data" "$out/bodies/score1.json" 5000 none | grep '^{"mode"' | record
dotnet "$ServingLoadDll" pipeline "$data" "$out/bodies/score1.json" 5000 keys | grep '^{"mode"' | record
echo "{\"done\":\"$(date -u +%FT%TZ)\",\"load\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}" | record
/usr/bin/python3 - "$out/results.jsonl" <<'PY'
import json, statistics, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
rps = {"off": [], "on": []}
label = None
for r in lines:
    if "label" in r:
        label = "on" if "auth on" in r["label"] else "off"
    elif r.get("mode") == "wrk" and label:
        rps[label].append(r["requestsPerSecond"])
        label = None
# Each round ran off and on back to back: the median of those paired ratios is the figure least moved by load drift.
paired = [round(on / off, 3) for off, on in zip(rps["off"], rps["on"])]
print(json.dumps({"summary": "single-row POST /score, 64 connections", "offMedian": statistics.median(rps["off"]), "onMedian": statistics.median(rps["on"]),
                  "ratioMedian": round(statistics.median(rps["on"]) / statistics.median(rps["off"]), 3),
                  "pairedRatioMedian": statistics.median(paired), "pairedRatios": paired, "off": rps["off"], "on": rps["on"]}))
PY
