#!/usr/bin/env bash
# Serving throughput of two builds side by side in one run (issue 14: "within 3% of today's"): trains the serving
# benchmark's model once with this tree's build, then alternates the two builds on the same data folder, ROUNDS times,
# each round measuring POST /score with 1,000 rows (JSON, 4 connections) and single rows (JSON, 64 connections,
# batching on). Alternating (ABBA) spreads the shared machine's load drift over both builds; the summary reports each
# build's median and best requests/s and the after/before ratio.
# Each process is warmed for $WARMUP seconds (default 30) of single-row load before it is measured (serving_warm in
# common.sh).
# Usage: [WARMUP=30] bench/serving/ab.sh BEFORE_DIR [seconds per wrk run, default 8] [rounds, default 3]
#   BEFORE_DIR: a folder with FlowService.Api.dll of the build to compare against, e.g. from
#   git worktree add /tmp/before <commit> && dotnet build /tmp/before/src/FlowService.Api -c Release -o /tmp/before-bin
#   AFTER=dir compares against that build instead of building this tree (e.g. a copy, so the tree may change meanwhile);
#   AFTER_ENV="NAME=value ..." adds environment settings to the after build's runs only (to attribute a difference).
# Results: $OUT (default bench/serving/out-ab/)results.jsonl, and the summary on stdout. Needs wrk.
set -euo pipefail
cd "$(dirname "$0")/../.."
before=$(cd "$1" && pwd)
seconds=${2:-8}
rounds=${3:-3}
out=${OUT:-bench/serving/out-ab}
mkdir -p "$out"
port=5081
url=http://127.0.0.1:$port
data=$(mktemp -d)
trap 'kill "${pid:-0}" 2>/dev/null || true; rm -rf "$data"' EXIT

if [[ -z ${AFTER:-} ]]; then
  dotnet build src/FlowService.Api -c Release -nologo -v q
  after=$(pwd)/src/FlowService.Api/bin/Release/net10.0
else
  after=$(cd "$AFTER" && pwd)
fi
dotnet build bench/serving/ServingLoad -c Release -nologo -v q
load() { dotnet bench/serving/ServingLoad/bin/Release/net10.0/ServingLoad.dll "$@"; }

# shellcheck source=bench/serving/common.sh
source bench/serving/common.sh
# Auth off (a build without authentication ignores the setting): this compares the observability libraries.
# shellcheck disable=SC2086
start() { serving_start "$1" FlowService__Auth__Mode=none ${2:-}; }
stop() { serving_stop; }
wrk_post() { # build connections body label
  BODY="$3" CONTENT_TYPE=application/json wrk -t1 -c"$2" -d"${seconds}s" --timeout 5s -s bench/serving/post.lua "$url/score" \
    | grep '^{' | /usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin); r.update(build=sys.argv[1], label=sys.argv[2], load=open("/proc/loadavg").read().split()[0]); print(json.dumps(r))' "$1" "$4" \
    | tee -a "$out/results.jsonl"
}

: > "$out/results.jsonl"
machine_json ",\"before\":\"$before\",\"after\":\"$after\",\"afterEnv\":\"${AFTER_ENV:-}\"" | tee -a "$out/results.jsonl"
start "$after"
load prepare "$url" "$out/bodies" > /dev/null
stop
for round in $(seq "$rounds"); do
  # ABBA: each build goes first in every other round, so a trend in the machine's load favours neither.
  order="before after"; (( round % 2 == 0 )) && order="after before"
  for build in $order; do
    dir=$before; extra=""; [[ $build == after ]] && dir=$after && extra=${AFTER_ENV:-}
    start "$dir" "$extra"
    # The first request loads the model (aliased versions are warmed at start, this one is asked for by name).
    curl -sf -X POST "$url/score" -H 'Content-Type: application/json' --data-binary @"$out/bodies/score1000.json" > /dev/null
    serving_warm "$out/bodies/score1.json"
    wrk_post "$build" 4 "$out/bodies/score1000.json" "score 1000 rows JSON, 4 connections"
    wrk_post "$build" 64 "$out/bodies/score1.json" "score 1 row JSON, 64 connections"
    stop
  done
done
/usr/bin/python3 - "$out/results.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"build"' in l]
for label in dict.fromkeys(r["label"] for r in rows):
    rps = {b: [r["requestsPerSecond"] for r in rows if r["label"] == label and r["build"] == b] for b in ("before", "after")}
    med = {b: statistics.median(v) for b, v in rps.items()}
    best = {b: max(v) for b, v in rps.items()}
    # Each round ran both builds back to back: the median of those paired ratios is the figure least moved by load drift.
    paired = [round(a / b, 3) for b, a in zip(rps["before"], rps["after"])]
    print(json.dumps({"label": label, "beforeMedian": med["before"], "afterMedian": med["after"], "ratioMedian": round(med["after"] / med["before"], 3),
                      "pairedRatioMedian": statistics.median(paired), "pairedRatios": paired,
                      "beforeBest": best["before"], "afterBest": best["after"], "ratioBest": round(best["after"] / best["before"], 3),
                      "before": rps["before"], "after": rps["after"]}))
PY
