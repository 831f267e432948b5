"""Training you can watch: sample grids every N steps and a page with the last ones, held-out curves, and early
stopping that keeps the best weights it measured."""

from __future__ import annotations

import json

from e2gan.testing.cli import run_cli
from e2gan.testing.media import assert_picture


def test_finetune_writes_sample_grids_and_a_page_with_the_last_ones(tmp_path, tiny_data):
    from e2gan.testing import tiny_student

    tiny_student("e2gan-small").save_pretrained(tmp_path / "base")
    code, out = run_cli("finetune", "--base", tmp_path / "base", "--data", tiny_data, "--prompt", "sepia", "--out", tmp_path / "ad",
                        "--steps", "40", "--batch-size", "4", "--samples-every", "10", "--test-every", "10")
    assert code == 0, out
    grids = sorted((tmp_path / "ad" / "samples").glob("step-*.png"))
    assert [g.name for g in grids] == [f"step-{s:08d}.png" for s in (10, 20, 30, 40)]
    assert_picture(grids[-1], min_colours=8)
    page = (tmp_path / "ad" / "training.html").read_text()
    assert "samples/step-00000040.png" in page and "Held-out L1" in page
    log = [json.loads(line) for line in (tmp_path / "ad" / "training_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if "test_psnr" in r] == [10, 20, 30, 40]


def test_early_stop_stops_and_keeps_the_best_weights(tmp_path, tiny_data):
    import torch

    from e2gan.adapt import finetune, lora_train_config
    from e2gan.data.dataset import load_pairs
    from e2gan.engine.monitor import watcher_for
    from e2gan.metrics.quality import psnr
    from e2gan.testing import tiny_student

    tiny_student("e2gan-small").save_pretrained(tmp_path / "base")
    watcher = watcher_for(tmp_path / "ad", tiny_data, "sepia", None, 0, 5, 2, "finetune", 400)
    # an lr far too high: held-out PSNR peaks early, then falls, and the run stops two measurements later
    student, log = finetune(str(tmp_path / "base"), load_pairs(tiny_data, "sepia", "train"), tmp_path / "ad",
                            lora_train_config(steps=400, batch_size=4, lr=0.5, log_every=5), progress=False, callback=watcher)
    assert watcher.stopped_at is not None and watcher.stopped_at < 400 and log[-1]["step"] < 400
    assert log[-1]["early_stop"]["best_step"] == watcher.best_step
    test = load_pairs(tiny_data, "sepia", "test")
    with torch.no_grad():
        now = float(psnr(student.predict(test.sources, "sepia"), test.targets).mean())
    assert abs(now - watcher.best) < 0.05, (now, watcher.best)  # the kept weights are the best measured ones


def test_early_stop_needs_a_test_split(tmp_path, tiny_data):
    import shutil

    from e2gan.data.dataset import PairedDataset
    from e2gan.testing import tiny_student

    tiny_student("e2gan-small").save_pretrained(tmp_path / "base")
    only_train = tmp_path / "train-only"
    shutil.copytree(tiny_data, only_train)
    lines = [line for line in (only_train / "manifest.jsonl").read_text().splitlines() if '"split": "test"' not in line]
    (only_train / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    assert not PairedDataset(only_train).select("sepia", "test")
    code, out = run_cli("finetune", "--base", tmp_path / "base", "--data", only_train, "--prompt", "sepia", "--out", tmp_path / "ad",
                        "--steps", "5", "--early-stop", "2")
    assert code == 2 and "needs a test split" in out
