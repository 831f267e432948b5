"""CLIP score through `e2gan eval --clip`, on a tiny random CLIP saved to a folder; torchmetrics as reference."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

pytest.importorskip("transformers")

from e2gan.cli import cli  # noqa: E402
from e2gan.data.dataset import load_pairs  # noqa: E402
from e2gan.engine import TrainConfig  # noqa: E402
from e2gan.metrics.clip_score import CLIPScorer  # noqa: E402
from e2gan.testing.diffusers import save_tiny_clip  # noqa: E402
from e2gan.train import train_base  # noqa: E402


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    return save_tiny_clip(tmp_path_factory.mktemp("clip"))


def test_matches_clip_forward_logits(clip_dir):
    """Reference: CLIPModel's own forward (logits = exp(logit_scale) * cos). torchmetrics 1.9's CLIPScore
    cannot serve: it accepts only named checkpoints and breaks on transformers 5's feature outputs."""
    imgs = torch.randint(0, 256, (3, 3, 40, 40), dtype=torch.uint8)
    prompts = ["a red cat", "snow", "an oil painting"]
    scorer = CLIPScorer(clip_dir)
    ours = scorer(imgs, prompts)
    inputs = scorer.processor(text=prompts, images=[i.permute(1, 2, 0).numpy() for i in imgs], return_tensors="pt", padding=True)
    with torch.no_grad():
        out = scorer.model(**inputs)
    cos = out.logits_per_image.diagonal() / scorer.model.logit_scale.exp()
    assert ours == pytest.approx(float((100 * cos.clamp_min(0)).mean()), abs=1e-4)


def test_eval_reports_clip_or_says_skipped(tmp_path, tiny_data, clip_dir):
    train_base(load_pairs(tiny_data), tmp_path / "base", "e2gan-small", cfg=TrainConfig(steps=1, batch_size=2), progress=False)
    res = CliRunner().invoke(cli, ["eval", "--model", str(tmp_path / "base"), "--data", str(tiny_data), "--clip", clip_dir, "--out", str(tmp_path / "m.json")])
    assert res.exit_code == 0, res.output
    m = json.loads((tmp_path / "m.json").read_text())
    from e2gan.metrics.clip_score import CLIPScorer
    from e2gan.student import Student

    for prompt, row in m["per_prompt"].items():  # the CLI's figure is CLIPScorer on the student's own outputs
        test = load_pairs(tiny_data, prompt, "test")
        outs = Student.from_pretrained(tmp_path / "base").predict(test.sources, prompt)
        assert row["clip_score"] == pytest.approx(CLIPScorer(clip_dir)(outs, [prompt] * len(outs)), abs=1e-3)
    assert "clip_score" not in m["skipped"]
    res = CliRunner().invoke(cli, ["eval", "--model", str(tmp_path / "base"), "--data", str(tiny_data)])
    assert "clip_score: skipped: no CLIP weights" in res.output
