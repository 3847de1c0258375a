#!/usr/bin/env bash
# Bounded fuzzing of every parser of untrusted bytes (CSV, JSON, .npy and IDX uploads, .npy and JSON inference bodies,
# a job's flow spec and reverse-KL target with its expression language, safetensors, model.json):
# tools/fuzz/FlowService.Fuzz, an in-process mutation fuzzer seeded from its committed corpus.
# Targets: csv json-dataset npy-dataset npy-inference json-inference safetensors model-json idx expression target flow-spec.
# To a fixed count instead of a time: tools/fuzz/run.sh 3600 all --executions 10000000 (each target stops at whichever comes first).
# Usage: tools/fuzz/run.sh [seconds per target, default 8] [target, default all] [extra arguments, e.g. --seed 7]
# Exit status 1 when an input raised an exception other than the parser's own rejection; such inputs are written to
# fuzz-crashes/ (turn each into a regression test, then fix the parser). Build first (test.sh does).
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-8}
target=${2:-all}
shift $(( $# > 2 ? 2 : $# ))
dll=tools/fuzz/FlowService.Fuzz/bin/Release/net10.0/FlowService.Fuzz.dll
[[ -f $dll ]] || dotnet build tools/fuzz/FlowService.Fuzz -c Release -nologo -v q
exec dotnet "$dll" "$target" --seconds "$seconds" --crashes fuzz-crashes "$@"
