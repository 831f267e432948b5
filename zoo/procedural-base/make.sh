#!/usr/bin/env bash
# How zoo/procedural-base was made (run from the repository root, after `make install`).
# A concept-selector plugin picks 48 representative concepts of the procedural teacher (k-medoids over
# what each concept does to a fixed probe set); they are taught on 160 random 64 px crops of the 9 colour
# training photos each (7,680 pairs); one text-conditioned e2gan generator with coordinate channels is
# trained on all of them at once, for a wall-clock budget (the lr schedule follows the clock).
# Then its quality on its own concepts is measured on crops of the 3 held-out photos.
# Usage: zoo/procedural-base/make.sh OUT_DIR [MINUTES] [THREADS]
set -euo pipefail
OUT=${1:?usage: make.sh OUT_DIR [MINUTES] [THREADS]}
MINUTES=${2:-70}
export OMP_NUM_THREADS=${3:-1}
E2GAN=${E2GAN:-e2gan}
DATA=${DATA:-/tmp/e2gan-procedural-base-data}
$E2GAN train-base --teacher procedural --concepts representative:count=48 --crops 160 --size 64 --data "$DATA/train" \
  --out "$OUT" --set coords=true --steps 40000 --batch-size 16 --lr 5e-4 --max-minutes "$MINUTES" --checkpoint-every 2000
python - "$OUT" "$DATA/test" <<'PY'
import json, sys
from e2gan.data.samples import teach_shipped_crops
from e2gan.student import Student
out, test = sys.argv[1], sys.argv[2]
prompts = Student.from_pretrained(out).meta["prompts"]
teach_shipped_crops("procedural", prompts, test, 64, 0, 16, colour_only=True)
PY
$E2GAN eval --model "$OUT" --data "$DATA/test" --split test --grid "$OUT/samples.png" --out "$OUT/metrics.json"
