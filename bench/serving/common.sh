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

# The machine line every results file starts with: date, cores, CPU model, AVX-512 or not, load.
machine_json() {
  local avx512=false
  grep -qw avx512f /proc/cpuinfo && avx512=true
  echo "{\"date\":\"$(date -u +%FT%TZ)\",\"machine\":\"$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)\",\"avx512\":$avx512,\"load\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"${1:-}}"
}
