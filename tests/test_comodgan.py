"""Co-Mod-GAN (the paper's pix2pix-zero-distilled baseline): trains through the same engine and command,
against its own discriminator (non-saturating loss, R1); deterministic with a seed; exports to ONNX."""

from __future__ import annotations

import json

import torch

from e2gan.registry import create_backbone, create_discriminator


def test_paper_preset_size_and_macs_are_what_the_docs_say():
    from e2gan.metrics.macs import count_macs

    g = create_backbone("comodgan").eval()
    params = sum(p.numel() for p in g.parameters())
    assert abs(params / 1e6 - 62.9) < 0.05
    assert abs(count_macs(g, torch.zeros(1, 3, 256, 256)) / 1e9 - 128.9) < 0.1


def test_training_mode_is_stochastic_but_seeded_and_eval_is_deterministic():
    g = create_backbone("comodgan-small").train()
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        torch.manual_seed(3)
        a = g(x)
        torch.manual_seed(3)
        b = g(x)
        c = g(x)
        assert torch.equal(a, b) and not torch.equal(a, c), "z and noise follow torch's seed in training"
        g.eval()
        assert torch.equal(g(x), g(x))


def test_r1_reaches_the_discriminator_and_the_engine_uses_it(tiny_data):
    from e2gan.config import TrainConfig
    from e2gan.engine import discriminator_for

    g = create_backbone("comodgan-small")
    name, settings = discriminator_for(g, TrainConfig())
    assert (name, settings) == ("comodgan", {"levels": 3, "channel_base": 4096, "channel_max": 64})
    d = create_discriminator(name, **settings)
    assert d.gan_loss == "nonsaturating" and d.r1_gamma > 0
    assert discriminator_for(g, TrainConfig(discriminator="patchgan"))[0] == "patchgan"
    assert discriminator_for(create_backbone("e2gan-small"), TrainConfig())[0] == "patchgan"


def test_e2gan_train_backbone_comodgan_small_from_the_cli(tmp_path, tiny_data):
    from e2gan.student import Student
    from e2gan.testing.cli import run_cli

    code, out = run_cli("train", "--data", tiny_data, "--prompt", "sepia", "--backbone", "comodgan-small", "--steps", "6",
                        "--batch-size", "2", "--threads", "1", "--out", tmp_path / "m")
    assert code == 0, out
    log = [json.loads(line) for line in (tmp_path / "m" / "training_log.jsonl").read_text().splitlines()]
    assert log[-1]["step"] == 6 and all(torch.isfinite(torch.tensor([r["d"], r["g_gan"], r["l1"]])).all() for r in log)
    student = Student.from_pretrained(tmp_path / "m")
    assert student.backbone == "comodgan-small"
    assert student.predict(torch.zeros(1, 3, 32, 32, dtype=torch.uint8), "sepia").shape == (1, 3, 32, 32)
    code, out = run_cli("export", "--model", tmp_path / "m", "--prompt", "sepia", "--out", tmp_path / "m.onnx", "--size", "32")
    assert code == 0 and "max |onnxruntime - pytorch|" in out, out
