"""LPIPS: torchmetrics' LPIPS as the reference, on an AlexNet checkpoint planted in a throwaway
TORCH_HOME (the real ImageNet weights cannot be downloaded here; the loading path is the same)."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from e2gan.cli import cli
from e2gan.config import TrainConfig
from e2gan.data.dataset import load_pairs
from e2gan.metrics.lpips import backbone_path, lpips, lpips_model, missing_reason
from e2gan.testing.media import assert_picture
from e2gan.train import train_base


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch"


def plant_alexnet(seed=0):
    import torchvision

    torch.manual_seed(seed)
    path = backbone_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(torchvision.models.alexnet(weights=None).state_dict(), path)
    return path


def test_missing_backbone_is_reported_not_downloaded(torch_home):
    assert lpips_model() is None
    why = missing_reason()
    assert why.startswith("skipped:") and str(backbone_path()) in why and "alexnet(weights='DEFAULT')" in why
    assert not backbone_path().exists()


def test_matches_torchmetrics_lpips(torch_home):
    from torchmetrics.image.lpip import LearnedPerceptualImagePatchSimilarity

    plant_alexnet()
    g = torch.Generator().manual_seed(1)
    a = torch.randint(0, 256, (4, 3, 64, 64), generator=g, dtype=torch.uint8)
    b = (a.int() + torch.randint(-40, 41, a.shape, generator=g)).clamp(0, 255).to(torch.uint8)
    ours = lpips(lpips_model(), a, b)
    ref = LearnedPerceptualImagePatchSimilarity(net_type="alex", reduction="none")(a.float() / 127.5 - 1, b.float() / 127.5 - 1)
    assert ours.shape == (4,) and torch.allclose(ours, ref.double().flatten(), rtol=1e-4, atol=1e-7)
    assert float(lpips(lpips_model(), a, a).abs().max()) < 1e-6


def test_corrupt_backbone_names_the_file(torch_home):
    path = backbone_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="alexnet-owt"):
        lpips_model()


def test_eval_reports_lpips_when_the_weights_are_cached(torch_home, tmp_path, tiny_data):
    train_base(load_pairs(tiny_data), tmp_path / "base", "e2gan-small", cfg=TrainConfig(steps=1, batch_size=2), progress=False)
    args = ["eval", "--model", str(tmp_path / "base"), "--data", str(tiny_data), "--out", str(tmp_path / "m.json")]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    assert "lpips: skipped: no LPIPS backbone weights" in res.output
    assert "lpips" in json.loads((tmp_path / "m.json").read_text())["skipped"]
    plant_alexnet()
    args.append("--overwrite")  # the same m.json again: eval never replaces a file silently
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    m = json.loads((tmp_path / "m.json").read_text())
    assert "lpips" not in m["skipped"] and all(v["lpips"] > 0 for v in m["per_prompt"].values())
    res = CliRunner().invoke(cli, [*args, "--no-lpips", "--report", str(tmp_path / "r" / "eval.html")])
    assert res.exit_code == 0, res.output
    assert "lpips" not in json.loads((tmp_path / "m.json").read_text())["mean"]
    page = (tmp_path / "r" / "eval.html").read_text()
    assert "<td>sepia</td>" in page and "<td>mean</td>" in page and "<code>clip_score</code>: skipped: no CLIP weights" in page
    assert "src='eval-grid.png'" in page
    assert_picture(tmp_path / "r" / "eval-grid.png")
