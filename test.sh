#!/usr/bin/env bash
# Runs every FlowService test. On a fresh Debian machine, as root, it first installs the Debian
# packages the tests use (OpenBLAS for the GEMM cross-check, Prometheus for the scrape test,
# PostgreSQL for the scale-out suite, docker-compose for validating the compose file, python3-sklearn
# whose bundled CSVs are the real-data quality suite).
# Usage: ./test.sh [extra dotnet test arguments, e.g. --filter FullyQualifiedName~Coupling]
set -euo pipefail
cd "$(dirname "$0")"

packages=(libopenblas0 prometheus postgresql docker-compose python3-sklearn dataset-fashion-mnist)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    echo "test.sh: installing ${missing[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "test.sh: missing Debian packages ${missing[*]}; tests that need them will be skipped with a reason" >&2
  fi
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

dotnet build FlowService.sln -c Release -nologo -v q
status=0
dotnet test FlowService.sln -c Release --no-build -nologo \
  --logger "trx" --results-directory "$results" "$@" || status=$?

# A bounded fuzz run of every parser (8 s per target, 11 targets, about a minute and a half): any input that escapes a parser's own
# rejection fails the build, and lands in fuzz-crashes/ to become a regression test.
echo "test.sh: fuzzing the parsers (tools/fuzz/run.sh)"
tools/fuzz/run.sh "${FUZZ_SECONDS:-8}" all || status=1

# One closing line over all test assemblies: "N passed, N failed, N skipped".
python3 - "$results" <<'PY' || true
import glob, sys, xml.etree.ElementTree as ET
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
passed = failed = skipped = 0
for f in glob.glob(sys.argv[1] + "/*.trx"):
    c = ET.parse(f).getroot().find("t:ResultSummary/t:Counters", ns)
    if c is None:
        continue
    passed += int(c.get("passed", 0)); failed += int(c.get("failed", 0)) + int(c.get("error", 0))
    # xunit's skipped tests are counted as not executed, which this logger leaves out of "notExecuted".
    skipped += max(int(c.get("notExecuted", 0)), int(c.get("total", 0)) - int(c.get("executed", 0)))
print(f"\nTotal: {passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
