"""The commands end to end on tiny data, in-process (click's runner) to keep the suite fast."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner
from PIL import Image

from e2gan.cli import cli
from e2gan.testing.tiny import photo


def run(*args):
    res = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    return res


def test_plugins_command_lists_versions_and_parts():
    res = run("plugins")
    assert res.exit_code == 0
    assert "classic-teacher  [e2gan 0.1.0]" in res.output and re.search(r"teacher +classic +14 OpenCV edits", res.output)
    rows = json.loads(run("plugins", "--json").output)
    assert any("backbone" in r["registers"] for r in rows)


def test_pipeline_commands(tmp_path, tiny_data):
    base, ad, p2p, out = tmp_path / "base", tmp_path / "ad", tmp_path / "p2p", tmp_path / "out"
    res = run("train-base", "--data", tiny_data, "--data", tiny_data, "--backbone", "e2gan-small", "--steps", 3, "--batch-size", 2, "--out", base)
    assert res.exit_code == 0, res.output
    assert "32 pairs, concepts: cartoon, sepia" in res.output  # 16 train pairs, given twice
    assert "base model:" in res.output and (base / "model.safetensors").exists()
    res = run("finetune", "--base", base, "--data", tiny_data, "--prompt", "sepia", "--steps", 3, "--batch-size", 2, "--out", ad)
    assert res.exit_code == 0, res.output
    assert "trainable parameters" in res.output and (ad / "adapter_model.safetensors").exists()
    assert "'sepia' is one of the base's own 2 training concepts" in res.output  # the base already makes this edit
    assert re.search(r"held-out PSNR: [\d.]+ dB on 4 test pairs \(the input unchanged: [\d.]+; the base alone: [\d.]+\)", res.output)
    assert "returning the input unchanged" in res.output and "the base alone (what training added)" in res.output
    assert "## Quality against the teacher" in (ad / "README.md").read_text()  # the card found finetune's metrics.json
    res = run("train", "--data", tiny_data, "--prompt", "sepia", "--set", "ngf=8", "--steps", 2, "--batch-size", 2, "--out", p2p)
    assert res.exit_code == 0, res.output
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    photo(7, 50).save(imgs / "a.png")
    photo(8, 36).save(imgs / "b.jpg")
    res = run("apply", "--model", ad, "--input", imgs, "--out", out)
    assert res.exit_code == 0, res.output
    assert Image.open(out / "a.png").size == (50, 50) and Image.open(out / "b.png").size == (36, 36)
    res = run("apply", "--model", base, "--input", imgs / "a.png", "--out", out)
    assert res.exit_code == 2 and "--prompt" in res.output
    res = run("eval", "--model", ad, "--data", tiny_data, "--out", tmp_path / "m.json", "--grid", tmp_path / "g.png")
    assert res.exit_code == 0, res.output
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert set(metrics["per_prompt"]) == {"sepia"}
    assert json.loads((ad / "metrics.json").read_text())["per_prompt"] == metrics["per_prompt"]  # finetune measured what eval does
    from e2gan.data.dataset import load_pairs
    from e2gan.metrics.quality import psnr
    from e2gan.student import Student

    test = load_pairs(tiny_data, "sepia", "test")  # the same number, computed without the eval command
    expected = float(psnr(Student.from_pretrained(ad).predict(test.sources, "sepia"), test.targets).mean())
    assert metrics["mean"]["psnr"] == pytest.approx(expected, abs=1e-4)
    assert Image.open(tmp_path / "g.png").size[0] > 3 * 32


def test_unknown_teacher_is_a_clear_error(tmp_path):
    res = run("teach", "--teacher", "nope", "--prompt", "x", "--crops", 1, "--size", 32, "--out", tmp_path / "d")
    assert res.exit_code == 2 and "no teacher named 'nope'" in res.output


def test_unknown_classic_prompt_lists_the_concepts(tmp_path):
    res = run("teach", "--prompt", "make it rain", "--crops", 1, "--size", 32, "--out", tmp_path / "d")
    assert res.exit_code == 2 and "choose one of" in res.output


def test_eval_shows_identity_and_base_beside_the_student(tmp_path, tiny_data):
    """A near no-op student is called out: its PSNR gain over returning the input has an interval."""
    from e2gan.adapt import finetune, lora_train_config
    from e2gan.data.dataset import load_pairs
    from e2gan.engine import TrainConfig
    from e2gan.train import train_base

    train_base(load_pairs(tiny_data), tmp_path / "base", "e2gan-small", cfg=TrainConfig(steps=1, batch_size=2, gan_weight=0), progress=False)
    finetune(str(tmp_path / "base"), load_pairs(tiny_data, "sepia"), tmp_path / "ad", lora_train_config(steps=1, lr=1e-6), progress=False)
    res = CliRunner().invoke(cli, ["eval", "--model", str(tmp_path / "ad"), "--data", str(tiny_data), "--out", str(tmp_path / "m.json"),
                                   "--report", str(tmp_path / "r.html")])
    assert res.exit_code == 0, res.output
    m = json.loads((tmp_path / "m.json").read_text())
    b = m["baselines"]["sepia"]
    # a barely trained residual student is (almost) the identity: not clearly better, and said so
    assert abs(b["identity"]["psnr"] - m["per_prompt"]["sepia"]["psnr"]) < 0.5 and "base" in b
    assert not b["clearly_better"] and "verdict: inconclusive at this power against returning the input unchanged" in res.output
    assert "fewer than 5 units, no interval" in res.output  # 4 test photos: no interval is given, and it says so
    assert "against the base alone (what training added)" in res.output and "gain_over_base" in b
    assert "Not clearly better than returning the input unchanged" in (tmp_path / "r.html").read_text()


def test_options_from_refuses_a_field_it_cannot_map_and_names_it():
    from dataclasses import dataclass, field

    import pytest

    from e2gan.cli import options_from

    @dataclass
    class Odd:
        steps: int = 3
        table: dict = field(default_factory=dict)

    with pytest.raises(TypeError, match="table: dict"):
        options_from(Odd)
    options_from(Odd, only=["steps"])  # a field left out with only= is fine


def test_on_disk_names_are_peft_s_own():
    from peft.utils import CONFIG_NAME, SAFETENSORS_WEIGHTS_NAME

    from e2gan import files

    assert (files.ADAPTER_CONFIG, files.ADAPTER_WEIGHTS) == (CONFIG_NAME, SAFETENSORS_WEIGHTS_NAME)


def test_teach_help_points_to_the_vocabulary():
    res = run("teach", "--help")
    assert res.exit_code == 0 and "e2gan concepts --teacher NAME" in " ".join(res.output.split())


def test_an_adapter_whose_base_is_gone_says_that_base_fixes_it(tmp_path):
    from e2gan.testing.cli import run_cli
    from e2gan.testing.tiny import tiny_invert_adapter

    tiny_invert_adapter(tmp_path / "m", "ad")
    (tmp_path / "m" / "base").rename(tmp_path / "m" / "moved")
    photo(1, 32).save(tmp_path / "p.png")
    code, out = run_cli("apply", "--model", tmp_path / "m" / "ad", "--input", tmp_path / "p.png", "--out", tmp_path / "o")
    assert code == 2 and "could not be loaded" in out and "--base" in out and "--base-repo" in out and "Traceback" not in out
    code, out = run_cli("apply", "--model", tmp_path / "m" / "ad", "--base", tmp_path / "m" / "moved", "--input", tmp_path / "p.png",
                        "--out", tmp_path / "o")
    assert code == 0, out
