# Sourced by run.sh, auth.sh and ab.sh: one service process at a time on $url over the data folder $data, logging to
# $out/server.log, with the request-completion log below its level (one log line per request at 20,000 requests/s
# would make these logging benchmarks). The caller sets url, data and out.

# serving_start BUILD_FOLDER [NAME=value ...]: starts FlowService.Api.dll from the folder with those settings added,
# in Production, and waits until /health/ready answers.
serving_start() {
  local dir=$1
  shift
  (cd "$dir" && exec env FlowService__DataPath="$data" ASPNETCORE_URLS="$url" ASPNETCORE_ENVIRONMENT=Production \
    Serilog__MinimumLevel__Override__Serilog.AspNetCore.RequestLoggingMiddleware=Warning \
    Serilog__MinimumLevel__Override__FlowService.Api.Observability.RequestLoggingMiddleware=Warning \
    "$@" dotnet FlowService.Api.dll) >> "$out/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 300); do curl -sf "$url/health/ready" > /dev/null && return; sleep 0.2; done
  echo "service did not start (see $out/server.log)" >&2
  exit 1
}

serving_stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; }

# serving_warm BODY [AUTHORIZATION]: single-row-style load on POST /score for $WARMUP seconds (default 30), discarded.
# A fresh process spends its first 15-30 s of load in the JIT: tier-0 code, then instrumented code, then the
# optimized tier-1 rewrite of every hot method, on a background thread that competes with the requests for the
# two cores (dotnet-counters: 300-500 methods compiled per second for the first 12 s of load, a trickle until
# about 30 s; perf: libclrjit 11.5% of the process's samples 15-23 s in). A build or a setting with more code on the
# request path (authentication, authorization, the rate limiter) pays more of that, so an 8 s measurement on a cold
# process compares warm-ups, not steady states. Every measured run starts after this.
serving_warm() {
  local seconds=${WARMUP:-30}
  (( seconds > 0 )) || return 0
  AUTHORIZATION="${2:-}" BODY="$1" CONTENT_TYPE=application/json \
    wrk -t1 -c64 -d"${seconds}s" --timeout 5s -s bench/serving/post.lua "$url/score" > /dev/null
}

# The machine line every results file starts with: date, cores, CPU model, AVX-512 or not, load.
machine_json() {
  local avx512=false
  grep -qw avx512f /proc/cpuinfo && avx512=true
  echo "{\"date\":\"$(date -u +%FT%TZ)\",\"machine\":\"$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)\",\"avx512\":$avx512,\"load\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"${1:-}}"
}
