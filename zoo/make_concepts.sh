#!/usr/bin/env bash
# How the zoo's concept adapters were made (run from the repository root, after `make install`): LoRA
# (rank 4 on the base's declared layers, 300 steps, the fine-tuning defaults) on 96 crops of the training
# photos per concept, from zoo:procedural-base; evaluated on 24 crops of the held-out photos.
# Usage: zoo/make_concepts.sh [DATA_DIR]
set -euo pipefail
DATA=${1:-/tmp/e2gan-zoo-concepts}
E2GAN=${E2GAN:-e2gan}
declare -A CONCEPTS=([procedural-faded-red-accents]="faded, red accents" [procedural-emboss-desaturated-green-foliage]="emboss, desaturated, green foliage")
for name in "${!CONCEPTS[@]}"; do
  prompt=${CONCEPTS[$name]}
  python -c "import sys; from e2gan.data.samples import teach_shipped_crops; teach_shipped_crops('procedural', [sys.argv[1]], sys.argv[2], 64, 96, 24, colour_only=True)" \
    "$prompt" "$DATA"
  $E2GAN finetune --base zoo:procedural-base --data "$DATA" --prompt "$prompt" --out "zoo/$name" --overwrite
  $E2GAN eval --model "zoo:$name" --data "$DATA" --prompt "$prompt" --grid "zoo/$name/samples.png" --out "zoo/$name/metrics.json"
done
