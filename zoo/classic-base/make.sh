#!/usr/bin/env bash
# How zoo/classic-base was made (run from the repository root, after `make install`).
# The base concepts are taught on random 128 px crops of the shipped training photos, one process per
# concept; held-out photos give the test pairs; then one text-conditioned e2gan generator is trained on
# all base concepts at once. Usage: zoo/classic-base/make.sh OUT_DIR [CROPS] [MINUTES] [BATCH]
set -euo pipefail
OUT=${1:?usage: make.sh OUT_DIR [CROPS] [MINUTES] [BATCH]}
CROPS=${2:-2048}
MINUTES=${3:-6}
BATCH=${4:-32}
E2GAN=${E2GAN:-e2gan}
DATA=${DATA:-e2gan-base-data}
CONCEPTS=("watercolor painting" "pencil sketch" "cartoon" "enhance details" "sepia" "night" "thermal camera" "pop art")
pids=()
for i in "${!CONCEPTS[@]}"; do
  $E2GAN teach --teacher classic --prompt "${CONCEPTS[$i]}" --crops "$CROPS" --size 128 --out "$DATA/train-$i" >"$DATA-teach-$i.log" 2>&1 &
  pids+=($!)
done
$E2GAN teach --teacher classic "${CONCEPTS[@]/#/--prompt=}" --held-out --crops 48 --size 128 --split test --out "$DATA/test" >"$DATA-teach-test.log" 2>&1
for p in "${pids[@]}"; do wait "$p"; done
args=()
for i in "${!CONCEPTS[@]}"; do args+=(--data "$DATA/train-$i"); done
$E2GAN train-base "${args[@]}" --backbone e2gan --text-encoder hashed-words --steps 200000 --batch-size "$BATCH" \
  --max-minutes "$MINUTES" --gan-weight 1 --lambda-l1 100 --out "$OUT"
$E2GAN eval --model "$OUT" --data "$DATA/test" --split test --grid "$OUT/samples.png" --out "$OUT/metrics.json"
