#!/usr/bin/env bash
# Issue 11: how much of the default job's held-out figures is its seed, and what an equal-weight ensemble of the
# seeds' served densities would score. Trains the default job ({"type":"auto"}) on the real-data suite once per seed
# (QUALITY_SEED: the validation split inside the suite's training part and every initialization; the held-out rows
# are the suite's, the same for every seed), saves each held-out row's served log p (QUALITY_ROWS), then
# bench/quality_seed_ensemble.py prints every seed's mean log p and AUROC and the ensemble's,
# log mean_s p_s(x) = logsumexp_s log p_s(x) - log S.
# Usage: bench/quality_seed_ensemble.sh [seeds, default "1 2 3 4 5 6"]   (OUT=folder, default /tmp/quality-seeds)
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=${1:-1 2 3 4 5 6}
out=${OUT:-/tmp/quality-seeds}
Q=bench/FlowService.Quality/bin/Release/net10.0/FlowService.Quality.dll
dotnet build bench/FlowService.Quality -c Release -nologo -v q >/dev/null
mkdir -p "$out/dump"
QUALITY_DUMP="$out/dump" dotnet "$Q" '{"type":"auto"}' breast_cancer:anomaly,digits:anomaly   # the held-out labels
for s in $seeds; do
  # One file per set and seed; the anomaly splits write under anomaly/ (same set names).
  for kind in plain anomaly; do
    d="$out/$kind/s$s"; mkdir -p "$d"
    if [ "$kind" = plain ]; then sets=iris,wine,diabetes,breast_cancer,digits; else sets=breast_cancer:anomaly,digits:anomaly; fi
    QUALITY_SEED=$s QUALITY_ROWS="$d" dotnet "$Q" '{"type":"auto"}' "$sets" > "$d/log.txt"
  done
done
/usr/bin/python3 bench/quality_seed_ensemble.py "$out"
