#!/usr/bin/env bash
# Issue 5 "done when": phantom cohort of 200 patients at 256 x 256 -> ingest -> reproduce (3 models, 5-fold CV).
# Target: every model's test MSE <= constant-mean test MSE / 3 and linearly weighted kappa (four-class total) >= 0.7.
# Usage: bench/done_when_200x256.sh OUT [GRID]   (GRID defaults to bench/paper_grid_cpu.json: one grid point, so
# the CPU run takes hours, not days; pass "small" or "paper" on a GPU). Resumable: rerun the same command.
# Prints the ratio baseline_test_mse / model_test_mse and kappa4_total per model (PASS/FAIL).
# Environment: CACSCORE (command, default cacscore), MODELS (default cnn,se_cnn,vit), SIZE (default 256),
# PATIENTS (default 200), REPRODUCE_ARGS (extra reproduce options, e.g. "--target-scaling linear"),
# PHANTOM_SIZE (render size, default SIZE), INGEST_ARGS (extra ingest options).
# The heart-crop recipe of docs/models.md (the only one that has learned so far):
#   PHANTOM_SIZE=512 INGEST_ARGS="--centre heart --crop-mm 176" \
#   REPRODUCE_ARGS="--normalisation window --window 130 1130" bench/done_when_200x256.sh OUT
# On a shared CPU set OMP_NUM_THREADS=1 (two OpenMP threads on a busy 2-core machine spin and crawl).
# Test predictions (Agatston) land in OUT/reproduce/test_predictions.csv for `cacscore evaluate`.
set -euo pipefail
OUT=${1:?usage: $0 OUT [GRID]}
HERE=$(cd "$(dirname "$0")" && pwd)
GRID=${2:-$HERE/paper_grid_cpu.json}
CAC=${CACSCORE:-cacscore}
SIZE=${SIZE:-256}
PATIENTS=${PATIENTS:-200}
PHANTOM_SIZE=${PHANTOM_SIZE:-$SIZE}
mkdir -p "$OUT"
[ -f "$OUT/release/truth.csv" ] || $CAC phantom "$OUT/release" --patients "$PATIENTS" --size "$PHANTOM_SIZE" --seed 1 --workers 2
# shellcheck disable=SC2086
$CAC ingest "$OUT/release" "$OUT/cache" --size "$SIZE" --workers 2 ${INGEST_ARGS:-}
# shellcheck disable=SC2086
/usr/bin/time -v $CAC reproduce "$OUT/cache" "$OUT/reproduce" --grid "$GRID" --models "${MODELS:-cnn,se_cnn,vit}" \
    ${REPRODUCE_ARGS:-} 2> >(tee "$OUT/reproduce.stderr" >&2)
python3 - "$OUT/reproduce/table1.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
base = next(float(r["test_mse"]) for r in rows if r["variant"] == "baseline")
print(f"constant-mean test MSE {base:.5f}")
for r in rows:
    if r["variant"] == "baseline":
        continue
    ratio, kappa = base / float(r["test_mse"]), float(r["kappa4_total"])
    ok = ratio >= 3 and kappa >= 0.7
    print(f"{r['model']:7s} {r['variant']:8s} baseline/model MSE = {ratio:5.2f}  kappa4_total = {kappa:.3f}  "
          f"wall {float(r['seconds']):.0f} s  {'PASS' if ok else 'FAIL'}")
PY
