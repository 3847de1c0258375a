#!/usr/bin/env bash
# Instructions per call of one flow measurement, independent of the machine's load:
# callgrind totals of `FlowService.Bench count SHAPE WHAT N` and `... 2N`, differenced over N.
# Usage: bench/count_instructions.sh SHAPE train|score|latency N, or spline reference|kernel N   (build bench/FlowService.Bench -c Release first)
set -euo pipefail
shape=$1 what=$2 n=$3
dll=$(dirname "$0")/FlowService.Bench/bin/Release/net10.0/FlowService.Bench.dll
total() {
  local out; out=$(mktemp)
  DOTNET_TieredCompilation=0 DOTNET_TieredPGO=0 DOTNET_ReadyToRun=0 FLOWSERVICE_THREADS=1 \
    valgrind --tool=callgrind --callgrind-out-file="$out" dotnet "$dll" count "$shape" "$what" "$1" >/dev/null 2>&1
  callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'
  rm -f "$out"
}
a=$(total "$n"); b=$(total $((2 * n)))
echo "$shape $what: $(( (b - a) / n )) instructions per call (callgrind, ${n} vs $((2 * n)) calls: $a, $b)"
