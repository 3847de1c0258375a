#!/usr/bin/env bash
# The serving benchmark (issue 6): trains RealNVP d=16, 8 couplings, hidden [128,128] through the service, then measures
#   engine in-process log p rows/s (1,000-row batches), PyTorch 1.13 in-process no_grad log p rows/s (same architecture),
#   POST /score with 1,000 rows (JSON and .npy) over HTTP, single-row POST /score at 64 connections with batching on
#   and off, 30 s of open-loop overload at 4x the measured 1,000-row capacity, and GET /sample n=100,000 as .npy and CSV.
# Usage: bench/serving/run.sh [seconds per wrk run, default 15]. Results: one JSON line per measurement in $OUT (default
# bench/serving/out/). Needs wrk (Debian: apt-get install -y wrk) and /usr/bin/python3 with python3-torch.
# Request logs are set to Warning for the run (one log line per request at 20k requests/s would be a logging benchmark).
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-15}
out=${OUT:-bench/serving/out}
mkdir -p "$out"
port=5080
url=http://127.0.0.1:$port
data=$(mktemp -d)
trap 'kill "${pid:-0}" 2>/dev/null || true; rm -rf "$data"' EXIT

dotnet build src/FlowService.Api -c Release -nologo -v q
dotnet build bench/serving/ServingLoad -c Release -nologo -v q
bin=src/FlowService.Api/bin/Release/net10.0
load() { dotnet bench/serving/ServingLoad/bin/Release/net10.0/ServingLoad.dll "$@"; }

# shellcheck source=bench/serving/common.sh
source bench/serving/common.sh
start() { serving_start "$bin" FlowService__Auth__Mode=none "$@"; }
stop() { serving_stop; }
record() { tee -a "$out/results.jsonl"; }
wrk_post() { # connections path body content-type label
  echo "{\"label\":\"$5\",\"uptimeLoad\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}" | record
  local before
  before=$(curl -s "$url/metrics")
  BODY="$3" CONTENT_TYPE="$4" wrk -t1 -c"$1" -d"${seconds}s" --timeout 5s -s bench/serving/post.lua "$url$2" | grep '^{' | record
  /usr/bin/python3 -c 'import json,sys; print(json.dumps({"label": sys.argv[1], "before": sys.argv[2], "after": sys.stdin.read()}))' \
    "$5" "$before" < <(curl -s "$url/metrics") | /usr/bin/python3 bench/serving/profile.py | record
}

: > "$out/results.jsonl"
machine_json | record

start
load prepare "$url" "$out/bodies" | record
load engine "$data" bench 5 | record
OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/serving/torch_score.py --seconds 3 | record
wrk_post 2 /score "$out/bodies/score1000.json" application/json "score 1000 rows JSON, 2 connections"
wrk_post 4 /score "$out/bodies/score1000.json" application/json "score 1000 rows JSON, 4 connections"
wrk_post 4 "/score?model=bench" "$out/bodies/score1000.npy" application/x-npy "score 1000 rows npy, 4 connections"
capacity=$(grep '"mode":"wrk"' "$out/results.jsonl" | tail -1 | /usr/bin/python3 -c 'import json,sys; print(int(json.load(sys.stdin)["requestsPerSecond"]))')
wrk_post 64 /score "$out/bodies/score1.json" application/json "score 1 row JSON, 64 connections, batching on"
echo "{\"label\":\"overload: open loop at 4x the 1000-row npy capacity ($capacity/s) for 30 s\"}" | record
load openloop "$url" "/score?model=bench" "$out/bodies/score1000.npy" application/x-npy $((4 * capacity)) 30 "$pid" | record
load sample "$url" "model=bench&n=100000&seed=1" application/x-npy "$pid" | record
load sample "$url" "model=bench&n=100000&seed=1" text/csv "$pid" | record
curl -s "$url/metrics" | grep -E '^flowservice_inference_(batch_size|batch_requests|queue_delay_seconds|rejected)' > "$out/metrics-batching-on.txt" || true
stop

start FlowService__Scoring__BatchingEnabled=false
curl -sf -X POST "$url/score" -H 'Content-Type: application/json' --data-binary @"$out/bodies/score1.json" > /dev/null
wrk_post 64 /score "$out/bodies/score1.json" application/json "score 1 row JSON, 64 connections, batching off"
stop
echo "{\"done\":\"$(date -u +%FT%TZ)\",\"load\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}" | record
