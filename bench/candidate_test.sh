#!/usr/bin/env bash
# The pre-registered test of a candidate lesion model against the shipped one (session 29's powered protocol,
# docs/model_card.md "Pre-registered (session 29, lead)"), as two lanes on two cores. Write the criteria and the
# seeds into the model card and commit them BEFORE running this: it renders the fresh test data.
#
#   bench/candidate_test.sh CAND_MODEL OUT HYBRID_FIRST MAC_HYBRID_FIRST T1_SEED T4_SEED_A T4_SEED_B T4_SEED_C
#
# Runs, from the repository root (PYTHONPATH=src:bench; set PY to choose the interpreter, default .venv/bin/python):
#   T3  cacscore predict of the three real series (candidate with --report, shipped)      -> OUT/T3_{C,S}.csv
#   T2  40 fresh 0002 hybrids HYBRID_FIRST.. (two runs of 20), both models                 -> OUT/T2a, OUT/T2b
#   T2m 10 fresh 0002 MAC hybrids MAC_HYBRID_FIRST..                                        -> OUT/T2m
#   T4  three fresh MAC-enriched v11 phantom sets of 30, look-alike calls of both models   -> OUT/T4_{S,C}_SEED
#   T1  60 fresh v11 phantoms, the product's split rows of both models                     -> OUT/T1
# Read them with bench/hybrid_verdict.py OUT/T2a OUT/T2b --pair cand shipped, the T2m log's MAC table,
# bench/lookalike_verdict.py --pair OUT/T4_C_A OUT/T4_S_A ..., and OUT/T1/eval.csv (the shipc rows).
# DRY_RUN=1 prints the commands instead of running them. DATA (default ../shared/data) holds the real series.
set -euo pipefail
if [ $# -ne 8 ]; then
  echo "usage: $0 CAND_MODEL OUT HYBRID_FIRST MAC_HYBRID_FIRST T1_SEED T4_SEED_A T4_SEED_B T4_SEED_C" >&2
  exit 2
fi
CAND=$1 OUT=$2 H=$3 HM=$4 T1SEED=$5
T4SEEDS=("$6" "$7" "$8")
PY=${PY:-.venv/bin/python}
DATA=${DATA:-../shared/data}
S=src/cacscore/predict/default_model
# the shipped split settings (docs/model_card.md; bench/voxel_split.py parse_split)
SHIP=10,5,anchor=0.95,self=1,lcalen=15,lcaagree=1,lcadenied=class,branch=20,blca=1,lcaself=0.5,lcaright=3,lcarightmm=10
REAL="$DATA/lidc-idri-0001 $DATA/lidc-idri-0002 $DATA/lidc-idri-0003"
export PYTHONPATH=src:bench
run() {  # one step: printed under DRY_RUN, else run niced with its output in a log beside its results
  local log=$1; shift
  if [ -n "${DRY_RUN:-}" ]; then echo "$*"; else nice -n 5 "$@" > "$log" 2>&1; fi
}
mkdir -p "$OUT"
lane_a() {
  run "$OUT/T3_C.log" $PY -m cacscore.cli predict $REAL --model "$CAND" --out "$OUT/T3_C.csv" --report "$OUT/T3_C_report"
  run "$OUT/T3_S.log" $PY -m cacscore.cli predict $REAL --out "$OUT/T3_S.csv"
  run "$OUT/T2a.log" $PY bench/voxel_split.py hybrids --series lidc-idri-0002 --seeds 20 --first-seed "$H" \
    --model shipped=$S cand="$CAND" --out "$OUT/T2a" --boot 200
  run "$OUT/T2b.log" $PY bench/voxel_split.py hybrids --series lidc-idri-0002 --seeds 20 --first-seed $((H + 20)) \
    --model shipped=$S cand="$CAND" --out "$OUT/T2b" --boot 200
  run "$OUT/T2m.log" $PY bench/hybrid_cases.py --series lidc-idri-0002 --seeds 10 --first-seed "$HM" --mac \
    --model shipped=$S cand="$CAND" --out "$OUT/T2m" --boot 200
}
lane_b() {
  for seed in "${T4SEEDS[@]}"; do
    run "$OUT/r$seed.log" $PY -m cacscore.cli phantom "$OUT/held$seed" --patients 30 --seed "$seed" --size 512 \
      --workers 1 --anatomy v11 --p-mac 1
    run "$OUT/T4_S_$seed.log" $PY bench/lookalike_calls.py "$OUT/held$seed" "$OUT/T4_S_$seed" --model $S --ids 1-30
    run "$OUT/T4_C_$seed.log" $PY bench/lookalike_calls.py "$OUT/held$seed" "$OUT/T4_C_$seed" --model "$CAND" --ids 1-30
  done
  run "$OUT/r$T1SEED.log" $PY -m cacscore.cli phantom "$OUT/held$T1SEED" --patients 60 --seed "$T1SEED" --size 512 \
    --workers 1 --anatomy v11
  run "$OUT/T1.log" $PY bench/voxel_split.py eval "$OUT/held$T1SEED" "$OUT/T1" --model shipped=$S cand="$CAND" \
    --n 60 --split 10,5 --variant shipc=$SHIP
}
if [ -n "${DRY_RUN:-}" ]; then
  lane_a; lane_b
else
  lane_a & a=$!
  lane_b & b=$!
  rc=0; wait $a || rc=$?; wait $b || rc=$?
  [ $rc -eq 0 ] || { echo "candidate_test: a step failed (see the logs in $OUT)" >&2; exit $rc; }
  echo "candidate_test: done; results in $OUT"
fi
