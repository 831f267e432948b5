"""save_pretrained/from_pretrained round trips for bases and adapters; adapters load in plain peft."""

from __future__ import annotations

import json

import pytest
import torch
from peft import PeftModel

import e2gan
from e2gan.adapt import finetune
from e2gan.config import TrainConfig
from e2gan.data.dataset import load_pairs
from e2gan.lora import (
    add_lora,
    merge_adapter,
    paper_targets,
)
from e2gan.student import Student
from e2gan.testing import tiny_student
from e2gan.train import train_base
from e2gan.testing.tolerance import ATOL, assert_close

pytestmark = pytest.mark.numerics  # run again under other kernels and threads (make test-numerics)

X = torch.rand(2, 3, 32, 32) * 2 - 1


def _perturb(student):
    """Random non-zero weights everywhere (a fresh e2gan generator is the identity)."""
    torch.manual_seed(0)
    with torch.no_grad():
        for p in student.generator.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return student


@pytest.mark.parametrize("backbone,config", [("e2gan-small", {}), ("pix2pix-resnet9", {"ngf": 8}), ("timm-unet", {"encoder": "mobilenetv3_small_050"})])
def test_base_round_trip(tmp_path, backbone, config):
    s = _perturb(Student.create(backbone, **config))
    s.generator.eval()
    s.save_pretrained(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.safetensors"]
    loaded = Student.from_pretrained(tmp_path)
    with torch.no_grad():
        assert torch.equal(s(X, "sepia"), loaded(X, "sepia"))  # bit-exact: one process, shapes and kernels, weights kept bit for bit
    assert loaded.fingerprint() == s.fingerprint()
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["backbone"] == backbone
    if s.text_encoder is not None:
        assert cfg["text_encoder"]["name"] == "hashed-words"


@pytest.fixture
def base_dir(tmp_path, tiny_data):
    pairs = load_pairs(tiny_data, ["sepia", "cartoon"])
    train_base(pairs, tmp_path / "base", "e2gan-small", cfg=TrainConfig(steps=3, batch_size=2, gan_weight=1.0), progress=False)
    return tmp_path / "base"


def test_adapter_round_trip_and_plain_peft(tmp_path, base_dir, tiny_data):
    pairs = load_pairs(tiny_data, "sepia")
    student, _ = finetune(str(base_dir), pairs, tmp_path / "ad", TrainConfig(steps=3, batch_size=2, lr=1e-2, gan_weight=0), progress=False)
    files = sorted(p.name for p in (tmp_path / "ad").iterdir())
    assert {"adapter_config.json", "adapter_model.safetensors", "e2gan_adapter.json", "training_log.jsonl"} <= set(files)
    with torch.no_grad():
        want = student(X, "sepia")
    # through e2gan (base found from the adapter's metadata)
    loaded = Student.from_pretrained(tmp_path / "ad")
    assert loaded.meta["prompt"] == "sepia"
    with torch.no_grad():
        assert_close(loaded(X, "sepia"), want, "the adapter loaded through e2gan")
    # through plain peft on a plain base module
    base = Student.from_pretrained(base_dir)
    peft_model = PeftModel.from_pretrained(base.generator, str(tmp_path / "ad"))
    emb, mask = base.embed(["sepia"] * 2)
    with torch.no_grad():
        assert_close(peft_model(X, emb, mask), want, "the adapter loaded through plain peft")
    cfg = json.loads((tmp_path / "ad" / "adapter_config.json").read_text())
    assert cfg["peft_type"] == "LORA" and cfg["rank_pattern"]


def test_lora_trains_only_the_adapter(base_dir, tiny_data, tmp_path):
    base = Student.from_pretrained(base_dir)
    before = {k: v.clone() for k, v in base.generator.state_dict().items()}
    pairs = load_pairs(tiny_data, "cartoon")
    student, _ = finetune(str(base_dir), pairs, tmp_path / "ad", TrainConfig(steps=4, batch_size=2, lr=1e-2, gan_weight=0), progress=False)
    after = student.generator.get_base_model().state_dict()
    changed_lora = False
    for k, v in after.items():
        if "lora_" in k:
            changed_lora |= "lora_B" in k and v.abs().sum() > 0
            continue
        assert torch.equal(v, before[k.replace(".base_layer", "")]), k
    assert changed_lora
    assert student.meta["trainable_parameters"] == sum(p.numel() for p in student.generator.parameters() if p.requires_grad)


def test_paper_targets_skip_resnet_blocks():
    s = Student.create("e2gan")
    targets = paper_targets(s.generator)
    assert not any("res_" in t for t in targets)
    assert {"down1.0", "ds.0", "transformer.cross_attn.to_k", "us.conv.0", "up2.conv.0"} <= set(targets)


def test_default_adapter_budget_on_the_default_backbone():
    """Issue target: LoRA trains <= 5% of the base and <= 0.11 M weights."""
    s = Student.create("e2gan")
    n = s.num_parameters()
    add_lora(s, paper_targets(s.generator), 4)
    trainable = s.num_parameters(trainable_only=True)
    assert trainable <= 0.05 * n and trainable <= 110_000


def test_merge_is_exact(base_dir, tmp_path):
    s = Student.from_pretrained(base_dir)
    add_lora(s, paper_targets(s.generator), 2)
    with torch.no_grad():
        for n, p in s.generator.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.1)
        want = s(X, "sepia")
        merge_adapter(s)
        got = s(X, "sepia")
    assert_close(got, want, "merged LoRA against unmerged")


def test_adapter_refuses_a_different_base(base_dir, tmp_path, tiny_data):
    pairs = load_pairs(tiny_data, "sepia")
    finetune(str(base_dir), pairs, tmp_path / "ad", TrainConfig(steps=1, batch_size=2, gan_weight=0), progress=False)
    other = _perturb(Student.create("e2gan-small"))
    other.save_pretrained(tmp_path / "other")
    with pytest.raises(ValueError, match="fingerprint"):
        Student.from_pretrained(tmp_path / "ad", base=str(tmp_path / "other"))


def test_from_pretrained_errors_name_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        Student.from_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError, match="zoo"):
        Student.from_pretrained("zoo:no-such-model")


def test_zoo_base_loads_and_knows_its_concepts():
    s = Student.from_pretrained("zoo:classic-base")
    assert s.backbone == "e2gan" and "sepia" in s.meta["prompts"]
    assert e2gan.Student is Student  # the lazy top-level name is the real class


def test_config_from_a_newer_major_version_warns_and_unknown_keys_are_named(tmp_path):
    base = Student.create("e2gan-small", "hashed-words")
    base.save_pretrained(tmp_path / "m")
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    cfg["e2gan_version"] = "9.0.0"
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    with pytest.warns(UserWarning, match="newer major version"):
        Student.from_pretrained(tmp_path / "m")
    cfg["config"]["wings"] = 2
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match=r"config key 'wings' is unknown .* written by e2gan 9\.0\.0"), pytest.warns(UserWarning):
        Student.from_pretrained(tmp_path / "m")


@pytest.mark.parametrize("padding", ["zeros", "reflect"])
def test_plain_peft_gives_e2gans_pixels(tmp_path, padding):
    """The adapter is plain peft: PeftModel.from_pretrained gives e2gan's outputs to 1e-5 on zero-padded bases
    (the default); on reflect-padded ones (zoo:classic-base) after e2gan.lora.match_padding, and not before."""
    from e2gan.adapt import finetune, lora_train_config
    from e2gan.lora import match_padding
    from e2gan.testing import tiny_pairs, tiny_student

    tiny_student("e2gan-small", padding=padding).save_pretrained(tmp_path / "base")
    ranks = {"down1.0": 2, "ds.0": 8, "head.2": 4, "transformer.cross_attn.to_q": 1, "film1.proj": 2}
    finetune(str(tmp_path / "base"), tiny_pairs(8), tmp_path / "ad", lora_train_config(steps=10, lr=1e-2), targets=list(ranks), ranks=ranks,
             progress=False)
    ours = Student.from_pretrained(tmp_path / "ad")
    base = Student.from_pretrained(tmp_path / "base")
    plain = PeftModel.from_pretrained(base.generator, str(tmp_path / "ad")).eval()
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    e, m = base.embed(["warm tint"] * 2)
    with torch.no_grad():
        want = ours(x, "warm tint")
        before = plain(x, e, m)
        match_padding(plain)
        after = plain(x, e, m)
    assert_close(after, want, "plain peft with match_padding against e2gan")
    if padding == "zeros":
        assert_close(before, want, "plain peft on a zero-padded base against e2gan")
    else:  # peft's zero-padded LoRA convs differ from the reflect-padded base at the borders: far above rounding
        assert float((before - want).abs().max()) > 100 * ATOL


def test_serve_runners_load_only_the_listed_models(tmp_path):
    """The server's own check, behind Gradio's: a reference that is not listed is refused before anything is read."""
    from e2gan.runtime.serve import Runners
    from e2gan.testing.tiny import tiny_invert_adapter

    ad = tiny_invert_adapter(tmp_path)
    runners = Runners("cpu", allowed=[str(ad)])
    assert runners.get(str(ad), 1.0).prompt == "invert"
    with pytest.raises(ValueError, match="not one of the concepts this server offers"):
        runners.get(str(tmp_path / "base"), 1.0)
    with pytest.raises(ValueError, match=r"\.\.\. \(\d+ more characters\)"):  # a huge reference is cut in the message
        runners.get("x" * 5000, 1.0)
    assert Runners("cpu").get(str(ad), 0.5).strength == 0.5  # allowed=None: any model (--allow-any-model)


def test_combined_adapters_are_peft_weighted_combination_and_one_at_weight_one_is_today(tmp_path):
    """`--model a:0.7 --model b:0.5` is peft's own `add_weighted_adapter` (cat: the weighted deltas summed exactly), and
    one adapter at weight 1 gives the pixels it gives alone."""
    from peft import PeftModel

    from e2gan.adapt import finetune, lora_train_config
    from e2gan.data.dataset import PairTensors

    base_dir = tmp_path / "base"
    tiny_student("e2gan-small").save_pretrained(base_dir)
    src = torch.randint(0, 256, (4, 3, 32, 32), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    finetune(str(base_dir), PairTensors(src, 255 - src, ["invert"] * 4), tmp_path / "a", lora_train_config(steps=20, batch_size=4, lr=2e-2),
             progress=False)
    finetune(str(base_dir), PairTensors(src, src.flip(-1), ["mirror"] * 4), tmp_path / "b", lora_train_config(steps=20, batch_size=4, lr=2e-2,
             seed=1), ranks=2, progress=False)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    combined = Student.combine([f"{tmp_path / 'a'}:0.7", f"{tmp_path / 'b'}:0.5"])
    assert combined.meta["prompt"] == "invert"
    plain = Student.from_pretrained(base_dir)
    model = PeftModel.from_pretrained(plain.generator, str(tmp_path / "a"), adapter_name="x")
    model.load_adapter(str(tmp_path / "b"), adapter_name="y")
    model.add_weighted_adapter(["x", "y"], [0.7, 0.5], adapter_name="mix", combination_type="cat")
    model.set_adapter("mix")
    model.eval()
    e, m = plain.embed(["invert", "invert"])
    with torch.no_grad():
        assert torch.allclose(combined(x, "invert"), model(x, e, m), atol=1e-5)
        alone = Student.from_pretrained(tmp_path / "a")
        assert torch.equal(Student.combine([(str(tmp_path / "a"), 1.0)])(x, "invert"), alone(x, "invert"))
        base_only = Student.from_pretrained(base_dir)(x, "invert")
        # the deltas add up: weights (1, 0) are adapter a alone, weights (0, 0) the base alone
        assert torch.allclose(Student.combine([(str(tmp_path / "a"), 1.0), (str(tmp_path / "b"), 0.0)])(x, "invert"), alone(x, "invert"), atol=1e-5)
        assert torch.allclose(Student.combine([(str(tmp_path / "a"), 0.0), (str(tmp_path / "b"), 0.0)])(x, "invert"), base_only, atol=1e-5)
    code, out = __import__("e2gan.testing.cli", fromlist=["run_cli"]).run_cli(
        "apply", "--model", f"{tmp_path / 'a'}:0.7", "--model", f"{tmp_path / 'b'}:0.5", "--input", tmp_path / "x.png", "--out", tmp_path / "o")
    assert code == 2 and "x.png" in out  # no such input: the combined model loaded, the missing file is named
