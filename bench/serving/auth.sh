#!/usr/bin/env bash
# What API-key checks cost the serving path: single-row POST /score (JSON) at 64 connections, authentication off
# (FlowService:Auth:Mode=none) against on (a bootstrap admin key presented as Authorization: Bearer, the per-key rate
# limiter in the path with a limit too high to bite), alternating off/on/off/on on fresh processes over the same data
# folder, so each ratio compares neighbours. The model is the serving benchmark's (RealNVP d=16, trained by `prepare`).
# Usage: bench/serving/auth.sh [seconds per wrk run, default 10]. Results: JSON lines in $OUT (default bench/serving/out-auth/).
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

start() {
  (cd "$bin" && exec env "$@" FlowService__DataPath="$data" ASPNETCORE_URLS="$url" ASPNETCORE_ENVIRONMENT=Production \
    FlowService__RateLimits__InferenceRequestsPerSecond=1000000 \
    Serilog__MinimumLevel__Override__FlowService.Api.Observability.RequestLoggingMiddleware=Warning \
    dotnet FlowService.Api.dll) >> "$out/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 200); do curl -sf "$url/health/ready" > /dev/null && return; sleep 0.2; done
  echo "service did not start" >&2; exit 1
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; }
record() { tee -a "$out/results.jsonl"; }
score() { # label [authorization]
  curl -sf -X POST "$url/score" -H 'Content-Type: application/json' ${2:+-H "Authorization: $2"} --data-binary @"$out/bodies/score1.json" > /dev/null
  echo "{\"label\":\"$1\",\"uptimeLoad\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}" | record
  AUTHORIZATION="${2:-}" BODY="$out/bodies/score1.json" CONTENT_TYPE=application/json \
    wrk -t1 -c64 -d"${seconds}s" --timeout 5s -s bench/serving/post.lua "$url/score" | grep '^{' | record
}

: > "$out/results.jsonl"
echo "{\"date\":\"$(date -u +%FT%TZ)\",\"machine\":\"$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)\",\"load\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}" | record
start FlowService__Auth__Mode=none
ServingLoadDll=bench/serving/ServingLoad/bin/Release/net10.0/ServingLoad.dll
dotnet "$ServingLoadDll" prepare "$url" "$out/bodies" | record
stop
for round in 1 2; do
  start FlowService__Auth__Mode=none
  score "auth off, round $round"
  stop
  start FlowService__Auth__BootstrapAdminKey="$key"
  score "auth on (API key), round $round" "Bearer $key"
  stop
done
dotnet "$ServingLoadDll" keycheck "$data/keycheck" 5 | record
echo "{\"done\":\"$(date -u +%FT%TZ)\",\"load\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}" | record
