"""`make demo`'s job at toy settings: the report, its grids and the results JSON are written."""

from __future__ import annotations

import json

import pytest

from e2gan.data.dataset import load_pairs
from e2gan.demo import DemoConfig, run_demo
from e2gan.metrics.quality import psnr
from e2gan.testing.media import assert_picture


def test_demo_writes_the_report(tmp_path):
    cfg = DemoConfig(out=str(tmp_path), size=32, lora_steps=2, scratch_steps=1, crops=6, test_crops=3, fid=False,
                     base_concepts=["sepia", "night"], held_out=["winter"])
    report = run_demo(cfg)
    html = report.read_text()
    assert "winter: source | teacher" in html and "grid-winter.png" in html
    assert_picture(tmp_path / "grid-winter.png", (2 + 6 * 34, 14 + 3 * 34 + 2))  # 6 columns, 3 test rows of 32 px
    results = json.loads((tmp_path / "results.json").read_text())
    assert {r["model"] for r in results["held_out"]} == {"identity (source unchanged)", "base, no adapter", "LoRA student", "e2gan from scratch",
                                                         "pix2pix from scratch"}
    identity = next(r for r in results["held_out"] if r["model"].startswith("identity"))
    test = load_pairs(tmp_path / "data", "winter", "test")
    assert identity["psnr"] == pytest.approx(float(psnr(test.sources, test.targets).mean()), abs=1e-4)
    # Metrics that cannot run are named in the report with the reason, never filled with a number.
    for name, why in results["skipped_metrics"].items():
        assert why.startswith("skipped:") and f"<code>{name}</code>" in html


def test_demo_on_the_procedural_teacher_gives_from_scratch_equal_time(tmp_path):
    from e2gan.student import Student

    base = Student.create("e2gan-small", "hashed-words", coords=True)
    base.meta["prompts"] = ["warm, vignette", "pencil, cool"]
    base.save_pretrained(tmp_path / "base")
    cfg = DemoConfig(out=str(tmp_path / "r"), teacher="procedural", base=str(tmp_path / "base"), size=32, lora_steps=3, scratch_steps=1,
                     crops=6, test_crops=3, fid=False)
    report = run_demo(cfg)
    results = json.loads((tmp_path / "r" / "results.json").read_text())
    assert results["config"]["equal_time"] is True and len(results["config"]["held_out"]) == 2
    for concept in results["config"]["held_out"]:
        rs = {r["model"]: r for r in results["held_out"] if r["concept"] == concept}
        lora, small = rs["LoRA student"], rs["e2gan from scratch"]
        assert small["train s"] <= lora["train s"] + 1.0  # the from-scratch run stops at LoRA's wall time
    assert "given the same wall time" in report.read_text() and "Teacher: <code>procedural</code>" in report.read_text()
