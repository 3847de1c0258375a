#!/usr/bin/env bash
# Server CPU per single-row POST /score (utime + stime of the service process from /proc/PID/stat around one wrk run,
# divided by the requests it answered), for several builds and settings, alternated round by round on fresh warm
# processes. CPU per request moves less with the machine's other load than requests/s does (a loaded machine slows
# the server and wrk alike, and the dynamic batcher's batch sizes with them), so it prices a code change on a shared
# machine; it is not a throughput figure.
# Usage: [ROUNDS=4] [WARMUP=20] [SECS=8] bench/serving/cpu_per_request.sh DATA_FOLDER BODY LABEL=BUILD_FOLDER:keys|none ...
# DATA_FOLDER holds the trained "bench" model (see `ServingLoad prepare` in auth.sh). Results: JSON lines on stdout.
set -euo pipefail
cd "$(dirname "$0")/../.."
data=$1 body=$2
shift 2
url=http://127.0.0.1:5081
out=$(mktemp -d)
trap 'kill "${pid:-0}" 2>/dev/null || true; rm -rf "$out"' EXIT
# shellcheck source=bench/serving/common.sh
source bench/serving/common.sh
key=$(openssl rand -hex 32)
machine_json
for round in $(seq "${ROUNDS:-4}"); do
  for config in "$@"; do
    label=${config%%=*} rest=${config#*=}
    bin=${rest%:*} auth=${rest##*:}
    if [[ $auth == keys ]]; then header="Bearer $key" setting=FlowService__Auth__BootstrapAdminKey=$key; else header="" setting=FlowService__Auth__Mode=none; fi
    serving_start "$bin" FlowService__RateLimits__InferenceRequestsPerSecond=1000000 "$setting"
    serving_warm "$body" "$header"
    cpu0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    result=$(AUTHORIZATION="$header" BODY="$body" CONTENT_TYPE=application/json \
      wrk -t1 -c64 -d"${SECS:-8}s" --timeout 5s -s bench/serving/post.lua "$url/score" | grep '^{')
    cpu1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    serving_stop
    ticks=$(getconf CLK_TCK)
    /usr/bin/python3 -c 'import json, sys
r = json.loads(sys.argv[1])
print(json.dumps({"label": sys.argv[2], "round": int(sys.argv[3]), "requestsPerSecond": r["requestsPerSecond"], "non2xx": r["non2xx"],
    "serverCpuMicrosecondsPerRequest": round((float(sys.argv[5]) - float(sys.argv[4])) / int(sys.argv[6]) * 1e6 / r["requests"], 1),
    "load": open("/proc/loadavg").read().split()[0]}))' "$result" "$label" "$round" "$cpu0" "$cpu1" "$ticks"
  done
done
