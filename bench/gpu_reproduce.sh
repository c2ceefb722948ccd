#!/usr/bin/env bash
# Issue 7's second measurement: the paper protocol itself, timed, through `cacscore reproduce --trainer fast
# --compile` on one GPU (the bench/gpu_check.sh numbers are throughput of its pieces; this is the product).
#
#   1. here, once:             bash bench/gpu_check.sh --prepare        (pydicom into .gpu_deps/)
#   2. with the device tool:   run(command="bash bench/gpu_reproduce.sh", carry=[".gpu_deps"], timeout_s=540)
#
# It writes a synthetic 212-scan 73 x 512 x 512 cache on the device (bench/train_throughput.py's recipe: random
# HU, so the losses mean nothing; only time is measured), then runs reproduce with the issue's protocol:
# 5 folds x a 12-point grid (batch 16/32 x lr 1e-4/3e-4/1e-3 x weight decay 1e-4/1e-2) x EPOCHS epochs with
# early stopping off (patience = epochs), every model, and prints each model's wall time from table1.csv and
# the time EXTRAPOLATED to 50 epochs when EPOCHS < 50 (compilation counted once, not scaled).
# Environment: MODELS (cnn,se_cnn,vit), EPOCHS (10), SCANS (212), SIZE (512), SLICES (73), DEVICE (cuda),
# COMPILE (1), BUDGET (s, 500). Dry run on a CPU:
#   PY=.venv/bin/python DEVICE=cpu COMPILE=0 SIZE=32 SLICES=8 SCANS=20 EPOCHS=2 MODELS=cnn bash bench/gpu_reproduce.sh
set -uo pipefail
cd "$(dirname "$0")/.."
START=$SECONDS
BUDGET=${BUDGET:-500} SIZE=${SIZE:-512} SLICES=${SLICES:-73} SCANS=${SCANS:-212} EPOCHS=${EPOCHS:-10}
MODELS=${MODELS:-cnn,se_cnn,vit} DEVICE=${DEVICE:-cuda} COMPILE=${COMPILE:-1}
PY=${PY:-python3}
export PYTHONPATH="$PWD/src:$PWD/bench:$PWD/.gpu_deps${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1
OUT=${OUT:-$PWD/gpu_out}
CACHE=${CACHE:-/tmp/cacscore_repro_cache_$SIZE}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null | tee "$OUT/gpu.txt"

echo "== 1. synthetic cache: $SCANS x $SLICES x $SIZE x $SIZE ($((SECONDS - START)) s)"
[[ -f "$CACHE/manifest.csv" ]] || $PY -c "
import sys; from pathlib import Path; from train_throughput import write_cache
write_cache(Path(sys.argv[1]), n=int(sys.argv[2]), slices=int(sys.argv[3]), size=int(sys.argv[4]), seed=0)" \
    "$CACHE" "$SCANS" "$SLICES" "$SIZE" || exit 1
cat > "$OUT/grid.json" <<JSON
{"batch_size": [16, 32], "lr": [1e-4, 3e-4, 1e-3], "weight_decay": [1e-4, 1e-2], "max_epochs": $EPOCHS, "patience": $EPOCHS}
JSON

left=$((BUDGET - (SECONDS - START)))
echo "== 2. reproduce --trainer fast, models $MODELS, 12 points x 5 folds x $EPOCHS epochs ($((SECONDS - START)) s, ${left} s left)"
flags=(--trainer fast --device "$DEVICE" --grid "$OUT/grid.json" --models "$MODELS")
[[ "$COMPILE" == 1 ]] && flags+=(--compile)
rm -rf "$OUT/reproduce"
t0=$SECONDS
timeout "$left" $PY -c "import sys; from cacscore.cli import main; sys.exit(main())" reproduce "$CACHE" "$OUT/reproduce" \
    "${flags[@]}" 2>&1 | tr '\r' '\n' | grep -v -E "it/s\]|s/it\]|^\s*$" | tail -n 30 | tee "$OUT/reproduce.txt"
echo "reproduce wall: $((SECONDS - t0)) s"

echo "== 3. per model"
$PY - "$OUT/reproduce/table1.csv" "$EPOCHS" <<'PY' | tee "$OUT/protocol.txt"
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["variant"] == "retrain"]
epochs = int(sys.argv[2])
total = 0.0
for r in rows:
    s = float(r["seconds"])
    total += s * 50 / epochs
    print(f"{r['model']:7s} {s:8.1f} s for 12 points x 5 folds x {epochs} epochs + retrain"
          f" -> {s * 50 / epochs / 60:6.1f} min at 50 epochs (EXTRAPOLATED: all of it scaled by 50 / epochs, fixed costs too, so an upper bound)")
print(f"all models: {total / 60:.1f} min at 50 epochs (target <= 15 min on one H100)")
PY
echo "== done in $((SECONDS - START)) s"
