#!/usr/bin/env bash
# The prepared GPU check of issue 7 (fast training path): one script, <= 8 minutes on one H100 / H200.
#
#   1. on the session's own machine, once:   bash bench/gpu_check.sh --prepare
#      (the GPU image has torch, numpy, scipy, pandas, safetensors, tqdm, pytest but not pydicom, which
#      cacscore.preprocess imports: its pure-Python package is copied into .gpu_deps/, git-ignored locally)
#   2. with the device tool:  run(command="bash bench/gpu_check.sh", carry=[".gpu_deps"], timeout_s=450)
#
# It runs tests/test_fast_train.py on CUDA (fast path vs the reference fit, fp32 with TF32 off; bf16;
# K members at once vs apart), then bench/train_throughput.py at 73 x 512 x 512, batch 32, with a 212-scan
# synthetic cohort resident on the GPU (7.6 GiB int16), all three models, plus torch.compile variants for the
# CNN, and prints the table, the card, the issue's targets and the EXTRAPOLATED paper protocol time.
# Results also go to $OUT (the device tool fetches them): gpu.txt, tests_cuda.txt, throughput.txt/.json.
set -uo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "--prepare" ]]; then
    site=$(.venv/bin/python -c "import os, pydicom; print(os.path.dirname(os.path.dirname(pydicom.__file__)))")
    # the dist-info too: pydicom reads its own version from the package metadata at import
    rm -rf .gpu_deps && mkdir -p .gpu_deps && cp -r "$site/pydicom" "$site"/pydicom-*.dist-info .gpu_deps/
    grep -qxF '/.gpu_deps/' .git/info/exclude 2>/dev/null || echo '/.gpu_deps/' >> .git/info/exclude
    du -sh .gpu_deps
    exit 0
fi

START=$SECONDS
BUDGET=${BUDGET:-410}  # seconds for the whole script (run it with timeout_s=450: a rerun must fit in 15 min of device time)
# overridable for a dry run on a CPU: PY=.venv/bin/python SIZE=32 SLICES=8 SCANS=16 BATCH=4 STEPS=2 TEST_DEVICE=cpu COMPILE_MODELS=
SIZE=${SIZE:-512} SLICES=${SLICES:-73} SCANS=${SCANS:-212} BATCH=${BATCH:-32} STEPS=${STEPS:-6} MEMBERS=${MEMBERS:-4}
TEST_DEVICE=${TEST_DEVICE:-cuda} COMPILE_MODELS=${COMPILE_MODELS-cnn}  # ONLY=REGEX: bench rows to run (--only)
if [[ -z "${PY:-}" ]]; then  # the GPU image's python3 holds torch; a local venv only if it sees CUDA
    PY=python3
    if [[ -x .venv/bin/python ]] && .venv/bin/python -c "import torch, sys; sys.exit(not torch.cuda.is_available())" 2>/dev/null; then
        PY=.venv/bin/python
    fi
fi
export PYTHONPATH="$PWD/src:$PWD/.gpu_deps${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1
OUT=${OUT:-$PWD/gpu_out}
mkdir -p "$OUT"

{
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
    $PY -c "import torch; print('torch', torch.__version__, '|', torch.cuda.get_device_name(0))"
    $PY -c "import cacscore.fast_train, cacscore.cache; print('cacscore imports ok')"
} 2>&1 | tee "$OUT/gpu.txt"

echo "== 1. equivalence tests on $TEST_DEVICE ($((SECONDS - START)) s)"
[[ "${TESTS:-1}" == 0 ]] || CACSCORE_TEST_DEVICE=$TEST_DEVICE timeout 100 $PY -m pytest tests/test_fast_train.py -q -p no:cacheprovider \
    -W ignore::UserWarning -rfE --tb=short 2>&1 > "$OUT/tests_cuda.txt"; tail -n 40 "$OUT/tests_cuda.txt"

left=$((BUDGET - (SECONDS - START)))
echo "== 2. throughput at $SLICES x $SIZE x $SIZE, batch $BATCH ($((SECONDS - START)) s elapsed, ${left} s left)"
timeout "$left" $PY -W ignore bench/train_throughput.py --size "$SIZE" --slices "$SLICES" --batch "$BATCH" \
    --steps "$STEPS" --ref-steps 1 --members "$MEMBERS" --scans "$SCANS" --cache "/tmp/cacscore_gpu_cache_$SIZE" \
    --threads 8 --compile-models "$COMPILE_MODELS" --only "${ONLY:-}" --json "$OUT/throughput.json" 2>&1 \
    | tr '\r' '\n' | grep -v -E "it/s\]|^\s*$" | tee "$OUT/throughput.txt"
echo "== done in $((SECONDS - START)) s"
