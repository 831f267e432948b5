"""One conformance suite for every registered scorer, rank searcher and data selector."""

from __future__ import annotations

import pytest
import torch

import e2gan
from e2gan.adapt import adapt, select_layers
from e2gan.config import TrainConfig
from e2gan.data.dataset import load_pairs
from e2gan.lora import paper_targets
from e2gan.student import Student
from e2gan.testing.media import assert_picture
from e2gan.train import train_base


@pytest.fixture(scope="module")
def base(tmp_path_factory, tiny_data):
    folder = tmp_path_factory.mktemp("base")
    train_base(load_pairs(tiny_data, ["sepia", "cartoon"]), folder, "e2gan-small", cfg=TrainConfig(steps=2, batch_size=2, gan_weight=0), progress=False)
    return folder


@pytest.fixture(scope="module")
def pairs(tiny_data):
    return load_pairs(tiny_data, "sepia")


def test_kmeans_covers_every_cluster():
    centres = 10 * torch.eye(4)
    feats = torch.cat([centres[i] + 0.1 * torch.randn(25, 4) for i in range(4)])
    chosen = e2gan.create_selector("kmeans").select(feats, 4, seed=0)
    assert sorted(i // 25 for i in chosen) == [0, 1, 2, 3]


def test_layer_selection_modes(base):
    student = Student.from_pretrained(base)
    scores = {"a": 5.0, "b": 3.0, "c": 1.0, "d": 1.0}
    assert select_layers(scores, "top-k", k=2) == ["a", "b"]
    assert select_layers(scores, "cumulative", threshold=0.7) == ["a", "b"]
    assert select_layers(scores, "paper", model=student.generator) == paper_targets(student.generator)
    with pytest.raises(ValueError, match="paper"):
        select_layers(scores, "best")


def test_adapt_end_to_end_with_every_choice(base, pairs, tmp_path):
    student, log, info = adapt(str(base), pairs, tmp_path / "ad", scorer="fisher:batches=1", layers="top-k", top_k=4, search="greedy",
                               select="kmeans", fraction=0.5, cfg=TrainConfig(steps=2, batch_size=2, gan_weight=0), trial_steps=2, progress=False)
    assert info["data_used"] == 4 and len(info["layers"]) == 4
    assert info["trainable_parameters"] <= info["budget"]
    assert (tmp_path / "ad" / "adapter_model.safetensors").exists()
    loaded = Student.from_pretrained(tmp_path / "ad")
    assert loaded.meta["adapter"]["adapt"]["searcher"] == "greedy"


def test_uniform_without_a_rank_competes_at_the_searchers_budget(base, pairs, tmp_path):
    """The ranks ablation's "uniform at the same budget" arm: without ``rank`` it fits the default budget
    (it used to get no budget at all and took rank 64); with ``rank`` it is the paper's fixed 1x/4x."""
    cfg = TrainConfig(steps=1, batch_size=2, gan_weight=0)
    _, _, fitted = adapt(str(base), pairs, tmp_path / "u", search="uniform", cfg=cfg, progress=False)
    _, _, simple = adapt(str(base), pairs, tmp_path / "s", search="simple:rounds=1", cfg=cfg, trial_steps=1, progress=False)
    _, _, fixed = adapt(str(base), pairs, tmp_path / "4", search="uniform:rank=4", cfg=cfg, progress=False)
    assert fitted["budget"] == simple["budget"] and fitted["trainable_parameters"] <= fitted["budget"]
    assert fixed["budget"] is None and fixed["trainable_parameters"] > fitted["budget"]


def test_a_search_trial_depends_on_its_seed_only(base, pairs):
    """A trial's LoRA initialisation is seeded: what ran before in the process does not change its score."""
    from e2gan.adapt import SearchContext, split_validation

    student = Student.from_pretrained(base)
    layers = paper_targets(student.generator)
    fit, val = split_validation(pairs, seed=0)
    scores = []
    for junk in (1, 2):
        torch.manual_seed(junk)
        torch.rand(junk * 100)  # other work moves the global generator
        scores.append(SearchContext(student, layers, None, fit, val, trial_steps=2, seed=0, lr=2e-2).trial({n: 1 for n in layers}))
    assert scores[0] == scores[1]


def test_pair_features_are_computed_once_per_pair_set(base, pairs, monkeypatch):
    from collections import OrderedDict

    import e2gan.adapt.features as adapt_mod

    calls = []
    real = adapt_mod.image_features
    monkeypatch.setattr(adapt_mod, "image_features", lambda *a, **k: calls.append(1) or real(*a, **k))
    monkeypatch.setattr(adapt_mod, "_FEATURES", OrderedDict())  # earlier tests may have kept these pairs' features
    student = Student.from_pretrained(base)
    first = adapt_mod.pair_features(student, pairs)
    kept = first.clone()
    first += 1  # a caller may change its copy
    again = adapt_mod.pair_features(student, pairs)
    assert len(calls) == 2 and torch.equal(again, kept)  # sources and targets, once
    adapt_mod.pair_features(student, pairs.subset([0, 1]))
    assert len(calls) == 4


def test_compare_writes_table_json_and_plot(tmp_path, base):
    from e2gan.compare import run_compare

    res = run_compare("searcher", ["uniform:rank=1", "random"], tmp_path, base=str(base), concepts=["winter", "sepia"], steps=2,
                      size=32, crops=6, test_crops=3, trial_steps=2)
    assert [r["strategy"] for r in res["summary"]] == ["uniform:rank=1", "random"]
    assert len(res["rows"]) == 4
    # the table reports what the saved adapters do: re-evaluate each one independently
    from e2gan.evaluate import evaluate

    again = sorted(round(evaluate(Student.from_pretrained(ad), tmp_path / "data", [Student.from_pretrained(ad).meta["prompt"]], "test")
                         [Student.from_pretrained(ad).meta["prompt"]]["psnr"], 6) for ad in sorted((tmp_path / "adapters").iterdir()))
    assert again == sorted(round(r["psnr"], 6) for r in res["rows"])
    table = (tmp_path / "compare.md").read_text()
    assert "| uniform:rank=1 |" in table and "| random |" in table
    assert_picture(tmp_path / "compare.png", (660, 440))


def test_compare_selectors_curve_seeds_and_resume(tmp_path, base, capsys):
    from e2gan.compare import run_compare

    kw = dict(base=str(base), concepts=["winter"], steps=2, size=32, crops=8, test_crops=3, fractions=[0.25, 0.5], seeds=(0, 1))
    res = run_compare("selector", ["random", "all"], tmp_path / "a", **kw)
    assert [r["strategy"] for r in res["summary"]] == ["all", "random 25%", "random 50%"]  # finetune's default first: the reference
    assert [r["data_used"] for r in res["summary"]] == [8, 2, 4]
    assert len(res["rows"]) == 6
    for r in res["summary"]:
        assert r["psnr_min"] <= r["psnr"] <= r["psnr_max"]
    assert "| random 25% |" in (tmp_path / "a" / "compare.md").read_text()
    # paired differences against the reference (the first strategy), per concept and seed
    by = {(r["strategy"], r["seed"]): r["psnr"] for r in res["rows"]}
    want = [by[("random 50%", sd)] - by[("all", sd)] for sd in (0, 1)]
    v = res["summary"][2]["vs_reference"]
    assert v["n"] == 2 and abs(v["mean"] - sum(want) / 2) < 1e-9 and v["low"] is None and "no interval" in v["note"]  # 2 seeds: too few
    assert v["verdict"] in ("holds", "fails", "inconclusive at this power") and "vs_reference" not in res["summary"][0]
    assert "min-max over seeds" in (tmp_path / "a" / "compare.md").read_text()
    assert_picture(tmp_path / "a" / "compare.png", (660, 440))
    capsys.readouterr()
    # A second compare sharing the finished runs trains nothing and gives the same numbers.
    again = run_compare("selector", ["all"], tmp_path / "b", runs=tmp_path / "a" / "runs", data=tmp_path / "a" / "data", **kw)
    assert "kept from an earlier run" in capsys.readouterr().out
    assert again["summary"][0]["psnr"] == res["summary"][0]["psnr"]  # "all": the reference, first in both
    assert not (tmp_path / "b" / "adapters").exists()


class _Posterise:
    """A third-party teacher: not one of e2gan's, registered for one test."""

    settings = {"levels": 3}

    def edit(self, images, prompt, seeds):
        return [im.convert("RGB").point(lambda v: (v * 3 // 256) * 127) for im in images]


def test_compare_on_a_third_party_teachers_data(tmp_path, base, register_plugin):
    from click.testing import CliRunner

    from e2gan import hookimpl
    from e2gan.cli import cli
    from e2gan.teach import teach
    from e2gan.testing.tiny import photo

    class Plugin:
        @hookimpl
        def register_teachers(self, register):
            register("posterise-3", _Posterise, description="three levels per channel")

    register_plugin(Plugin(), "posterise-plugin")
    data = tmp_path / "mine"
    teach("posterise-3", ["posterise"], [(f"p{i}", photo(i, 40)) for i in range(8)], data, size=32, split="train", progress=False)
    teach("posterise-3", ["posterise"], [(f"t{i}", photo(50 + i, 40)) for i in range(3)], data, size=32, split="test", progress=False)
    res = CliRunner().invoke(cli, ["compare", "--kind", "searcher", "--names", "uniform:rank=1,random", "--data", str(data), "--base", str(base),
                                   "--steps", "2", "--out", str(tmp_path / "c")])
    assert res.exit_code == 0, res.output
    assert "posterise" in res.output and "| random |" in (tmp_path / "c" / "compare.md").read_text()
    # the same teacher on a folder of the user's photos: every fifth is a test pair
    imgs = tmp_path / "photos"
    imgs.mkdir()
    for i in range(6):
        photo(i, 40).save(imgs / f"{i}.png")
    res = CliRunner().invoke(cli, ["compare", "--kind", "selector", "--names", "all", "--teacher", "posterise-3", "--concepts", "posterise",
                                   "--images", str(imgs), "--size", "32", "--base", str(base), "--steps", "2", "--out", str(tmp_path / "d")])
    assert res.exit_code == 0, res.output
    rows = __import__("json").loads((tmp_path / "d" / "compare.json").read_text())["rows"]
    assert rows[0]["data_used"] == 4  # 6 photos: 0 and 5 are test pairs
    res = CliRunner().invoke(cli, ["compare", "--data", str(data), "--concepts", "nope", "--base", str(base), "--out", str(tmp_path / "e")])
    assert res.exit_code == 2 and "has train and test pairs of 'nope'" in res.output


def test_compare_flags_weak_rows_says_when_it_cannot_decide_and_recommends():
    from e2gan.compare import advice

    rows = [{"strategy": s, "concept": "c", "seed": 0, "psnr": p} for s, p in (("a", 20.0), ("b", 19.0), ("c", 25.0))]
    one = {"concepts": ["c"], "seeds": [0], "rows": rows, "identity": {"psnr": 19.5},
           "summary": [{"strategy": s, "psnr": p} for s, p in (("a", 20.0), ("b", 19.0), ("c", 25.0))]}
    from e2gan.compare import paired_vs_reference

    paired_vs_reference(one)
    text = "\n".join(advice(one))
    assert "Not better than returning the input unchanged** (19.50 dB): b" in text
    assert "Too small to decide**: n=1 seeds gives no interval" in text and "--seeds 0,1,2" in text
    assert "keep `a` (finetune's default): no strategy is clearly better than it" in text
    rows = [{"strategy": s, "concept": c, "seed": 0, "psnr": p + (3.0 if s == "c" else 0) + 0.1 * i}
            for i, c in enumerate("vwxyz") for s, p in (("a", 20.0), ("c", 20.0))]
    many = {"concepts": list("vwxyz"), "seeds": [0], "rows": rows, "identity": {"psnr": 10.0},
            "summary": [{"strategy": "a", "psnr": 20.2}, {"strategy": "c", "psnr": 23.2}]}
    paired_vs_reference(many)
    assert "Recommendation:** `c`: better than `a` (finetune's default) by +3.00 dB" in "\n".join(advice(many))


@pytest.mark.parametrize("gap,want", [(2.0, "Recommendation:** `greedy`"), (0.0, "Recommendation:** keep `uniform:rank=4`")])
def test_compare_recommends_what_its_intervals_decide_and_else_keeps_finetune_s_default(gap, want):
    """Arms that differ by construction: the winner is recommended; equal arms: no change from finetune's default (which
    is the reference whatever order the strategies ran in), never the lowest mean."""
    import random

    from e2gan.compare import advice, paired_vs_reference

    rng = random.Random(0)
    concepts = [f"c{i}" for i in range(8)]
    rows = []
    for c in concepts:
        base = rng.uniform(18, 30)
        for name, shift in (("simple", -1.0), ("uniform:rank=4", 0.0), ("greedy", gap)):
            rows.append({"strategy": name, "concept": c, "seed": 0, "psnr": base + shift + rng.gauss(0, 0.2)})
    summary = [{"strategy": n, "psnr": sum(r["psnr"] for r in rows if r["strategy"] == n) / len(concepts)} for n in ("simple", "uniform:rank=4", "greedy")]
    result = paired_vs_reference({"kind": "searcher", "summary": summary, "rows": rows, "concepts": concepts, "seeds": [0]})
    assert result["reference"] == "uniform:rank=4"
    text = "\n".join(advice(result))
    assert want in text and "`simple`" not in text.split("Recommendation")[1], text
