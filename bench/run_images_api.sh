#!/usr/bin/env bash
# Fashion-MNIST through the HTTP API: starts the service (Release, open: Auth:Mode=none, a temporary data folder, port 5077),
# runs bench/images_api.py (upload, job, /score of the test images, histogram baseline, /sample .npy and PNG), stops it.
# Usage: bench/run_images_api.sh [train images, 10000] [flow JSON] [training JSON] [png path, empty for none]
set -euo pipefail
cd "$(dirname "$0")/.."
train=${1:-10000}
flow=${2:-'{"type":"realnvp"}'}
training=${3:-'{"epochs":5}'}
png=${4:-}
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
echo "machine: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1), $(nproc) cores; $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "avx-512 flags: $(grep -o 'avx512[a-z_0-9]*' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "load before: $(cat /proc/loadavg)"
dotnet build src/FlowService.Api -c Release -nologo -v q >/dev/null
data=$(mktemp -d)
ASPNETCORE_ENVIRONMENT=Development FlowService__Auth__Mode=none FlowService__DataPath="$data" \
  dotnet src/FlowService.Api/bin/Release/net10.0/FlowService.Api.dll --urls http://localhost:5077 >"$data/service.log" 2>&1 &
service=$!
trap 'kill $service 2>/dev/null; wait $service 2>/dev/null; cp "$data/service.log" "${SERVICE_LOG:-/dev/null}" 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 60); do curl -sf http://localhost:5077/health/ready >/dev/null 2>&1 && break; sleep 1; done
/usr/bin/python3 bench/images_api.py --url http://localhost:5077 --train "$train" --flow "$flow" --training "$training" --png "$png"
echo "load after: $(cat /proc/loadavg)"
