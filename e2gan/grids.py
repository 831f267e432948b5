"""Image grids with column labels (the pictures in reports and zoo cards)."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw


def grid(columns: dict[str, torch.Tensor], rows: int | None = None, pad: int = 2, label_h: int = 14) -> Image.Image:
    """``{label: uint8 (N, 3, H, W)}`` -> one PIL image, a column per label, a row per sample."""
    tensors = list(columns.values())
    n = min(len(t) for t in tensors) if rows is None else min(rows, *(len(t) for t in tensors))
    h, w = tensors[0].shape[-2:]
    W = len(tensors) * (w + pad) + pad
    H = label_h + n * (h + pad) + pad
    canvas = Image.new("RGB", (W, H), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for c, (label, t) in enumerate(columns.items()):
        x = pad + c * (w + pad)
        draw.text((x + 2, 1), label[: max(4, w // 6)], fill=(0, 0, 0))
        for r in range(n):
            arr = t[r].permute(1, 2, 0).cpu().numpy().astype(np.uint8)
            canvas.paste(Image.fromarray(arr), (x, label_h + pad + r * (h + pad)))
    return canvas


def concept_grid(models: dict, data, prompts, split: str | None = "test", per_prompt: int = 1, rows: int | None = None) -> Image.Image:
    """source | teacher | one column per model, ``per_prompt`` test pairs of each prompt (the demo's and
    ``e2gan eval``'s grids). ``models`` maps a column label to a student."""
    import torch

    from e2gan.data.dataset import PairedDataset, PairTensors

    ds = PairedDataset(data)
    cols: dict[str, list] = {"source": [], "teacher": [], **{k: [] for k in models}}
    for p in prompts:
        pairs = PairTensors.from_dataset(ds, ds.select(p, split)[:per_prompt])
        cols["source"].append(pairs.sources)
        cols["teacher"].append(pairs.targets)
        for label, student in models.items():
            cols[label].append(student.predict(pairs.sources, p))
    return grid({k: torch.cat(v) for k, v in cols.items()}, rows=rows)
