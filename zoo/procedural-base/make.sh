#!/usr/bin/env bash
# How zoo/procedural-base was made (run from the repository root, after `make install`; about 3.5 hours on one
# core of this project's 2-core CPU; resumable: rerun the same command after an interruption).
# Data: `e2gan photos` (40 training and 10 test photos). Every concept of the procedural teacher's pool but the
# 24 it holds out (547 concepts), taught on 128 random 64 px crops of the 40 training photos each (70,016 pairs);
# the test split: 64 of those concepts (a fixed random probe) and the 24 held-out ones on 16 crops of the 10 test
# photos. One text-conditioned e2gan generator (hashed-words text encoder, coordinate channels) is trained on all
# of them at once: 80,000 steps of batch 16, lr 5e-4 constant to step 40,000 then linearly to 0, L1 only; the
# held-out curve (--test-every) is in training_log.jsonl and training_curve.png.
# The text encoder was chosen by a rule fixed before the runs: benchmarks/base_encoders/rule.md.
# Usage: zoo/procedural-base/make.sh OUT_DIR [PHOTOS_DIR] [DATA_DIR]
set -euo pipefail
OUT=${1:?usage: make.sh OUT_DIR [PHOTOS_DIR] [DATA_DIR]}
PHOTOS=${2:-e2gan-photos}
DATA=${3:-e2gan-procedural-base-data}
export OMP_NUM_THREADS=1 HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-0}
E2GAN=${E2GAN:-e2gan}
[ -d "$PHOTOS" ] || $E2GAN photos --out "$PHOTOS"
python - "$DATA" "$PHOTOS" <<'PY'
import random, sys
from e2gan.data.samples import teach_shipped_crops
from e2gan.registry import create_teacher
data, photos = sys.argv[1], sys.argv[2]
t = create_teacher("procedural")
pool = t.base_concepts()
held = [c for g in t.held_out().values() for c in g]
probe = sorted(random.Random(0).sample(pool, 64), key=pool.index)
teach_shipped_crops("procedural", probe + held, f"{data}/test", 64, 0, 16, colour_only=True, photos=photos, progress=True)
teach_shipped_crops("procedural", pool, f"{data}/train", 64, 128, 0, colour_only=True, photos=photos, progress=True)
PY
$E2GAN train-base --data "$DATA/train" --test-data "$DATA/test" --test-every 1000 --size 64 --out "$OUT" \
  --text-encoder hashed-words --set coords=true --gan-weight 0 --steps 80000 --batch-size 16 --lr 5e-4 \
  --checkpoint-every 2000 --keep-checkpoints 3 --threads 1 --workers 1
# Quality on its own concepts (16 of the 64 probe concepts, held-out photos), the held-out curve and the card:
python - "$OUT" "$DATA/test" <<'PY'
import random, shutil, subprocess, sys, tempfile
from e2gan.hub.card import write_local_card
from e2gan.registry import create_teacher
out, test = sys.argv[1], sys.argv[2]
pool = create_teacher("procedural").base_concepts()
probe = sorted(random.Random(0).sample(pool, 64), key=pool.index)[:16]
tmp = tempfile.mkdtemp()
subprocess.run([sys.executable, "-m", "e2gan.cli", "eval", "--model", out, "--data", test, "--split", "test", "--no-lpips",
                "--grid", f"{tmp}/samples.png", "--out", f"{tmp}/metrics.json", *[a for p in probe for a in ("--prompt", p)]], check=True)
shutil.move(f"{tmp}/metrics.json", f"{out}/metrics.json"); shutil.move(f"{tmp}/samples.png", f"{out}/samples.png")
subprocess.run([sys.executable, "-m", "benchmarks.base_curve", out], check=True)
write_local_card(out)
PY
