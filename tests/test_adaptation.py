"""One conformance suite for every registered scorer, rank searcher and data selector."""

from __future__ import annotations

import pytest
import torch

import e2gan
from e2gan.adapt import SearchContext, adapt, budget_of, select_layers, split_validation
from e2gan.engine import TrainConfig
from e2gan.lora import lora_candidates, paper_targets
from e2gan.stages import load_pairs, train_base
from e2gan.student import Student


@pytest.fixture(scope="module")
def base(tmp_path_factory, tiny_data):
    folder = tmp_path_factory.mktemp("base")
    train_base(load_pairs(tiny_data, ["sepia", "cartoon"]), folder, "e2gan-small", cfg=TrainConfig(steps=2, batch_size=2, gan_weight=0), progress=False)
    return folder


@pytest.fixture(scope="module")
def pairs(tiny_data):
    return load_pairs(tiny_data, "sepia")


SCORERS = {"weight-delta": {"steps": 3}, "fisher": {"batches": 2}, "taylor": {"batches": 2}, "random": {}}
SEARCHERS = {"simple": {"rounds": 1}, "uniform": {}, "random": {}, "svd-energy": {}, "greedy": {}}
SELECTORS = {"kmeans": {}, "random": {}, "all": {}}


def test_every_registered_strategy_has_a_case():
    assert set(e2gan.list_scorers()) <= set(SCORERS)
    assert set(e2gan.list_searchers()) <= set(SEARCHERS)
    assert set(e2gan.list_selectors()) <= set(SELECTORS)


@pytest.mark.parametrize("name", sorted(SCORERS))
def test_scorer_conformance(name, base, pairs):
    student = Student.from_pretrained(base)
    layers = lora_candidates(student.generator)
    before = {k: v.clone() for k, v in student.generator.state_dict().items()}
    a = e2gan.create_scorer(name, **SCORERS[name]).score(student, pairs, layers, seed=1)
    b = e2gan.create_scorer(name, **SCORERS[name]).score(student, pairs, layers, seed=1)
    assert set(a) == set(layers) and all(isinstance(v, float) and v >= 0 for v in a.values())
    assert a == pytest.approx(b)
    assert all(torch.equal(v, student.generator.state_dict()[k]) for k, v in before.items()), "scoring changed the base"


def _ctx(student, pairs, budget):
    fit, val = split_validation(pairs)
    return SearchContext(student, paper_targets(student.generator), budget, fit, val, trial_steps=2, seed=3)


@pytest.mark.parametrize("name", sorted(SEARCHERS))
def test_searcher_conformance(name, base, pairs):
    student = Student.from_pretrained(base)
    layers = paper_targets(student.generator)
    budget = int(0.6 * budget_of(student.generator, layers, 4))
    ranks = e2gan.create_searcher(name, **SEARCHERS[name]).search(_ctx(student, pairs, budget))
    again = e2gan.create_searcher(name, **SEARCHERS[name]).search(_ctx(student, pairs, budget))
    assert set(ranks) <= set(layers) and all(isinstance(r, int) and r >= 1 for r in ranks.values())
    if name != "uniform":  # uniform is told its rank; the others must fit the budget
        assert _ctx(student, pairs, budget).cost(ranks) <= budget
    assert ranks == again


@pytest.mark.parametrize("name", sorted(SELECTORS))
def test_selector_conformance(name):
    feats = torch.cat([torch.randn(20, 5) + 10 * torch.eye(5)[i % 5] for i in range(5)])[:60]
    a = e2gan.create_selector(name).select(feats, 10, seed=4)
    b = e2gan.create_selector(name).select(feats, 10, seed=4)
    assert a == b and a == sorted(set(a)) and all(0 <= i < 60 for i in a)
    assert len(a) == (60 if name == "all" else 10)


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
    student, log, info = adapt(str(base), pairs, tmp_path / "ad", scorer="fisher:batches=1", layers="top-k", k=4, search="greedy",
                               select="kmeans", fraction=0.5, cfg=TrainConfig(steps=2, batch_size=2, gan_weight=0), trial_steps=2, progress=False)
    assert info["data_used"] == 4 and len(info["layers"]) == 4
    assert info["trainable_parameters"] <= info["budget"]
    assert (tmp_path / "ad" / "adapter_model.safetensors").exists()
    loaded = Student.from_pretrained(tmp_path / "ad")
    assert loaded.meta["adapter"]["adapt"]["searcher"] == "greedy"


def test_compare_writes_table_json_and_plot(tmp_path, base):
    from e2gan.compare import run_compare

    res = run_compare("searcher", ["uniform:rank=1", "random"], tmp_path, base=str(base), concepts=["winter", "sepia"], steps=2,
                      size=32, crops=6, test_crops=3, trial_steps=2)
    assert [r["strategy"] for r in res["summary"]] == ["uniform:rank=1", "random"]
    assert len(res["rows"]) == 4 and all(r["psnr"] > 0 for r in res["rows"])
    table = (tmp_path / "compare.md").read_text()
    assert "| uniform:rank=1 |" in table and "| random |" in table
    assert (tmp_path / "compare.png").stat().st_size > 1000


def test_compare_selectors_curve_seeds_and_resume(tmp_path, base, capsys):
    from e2gan.compare import run_compare

    kw = dict(base=str(base), concepts=["winter"], steps=2, size=32, crops=8, test_crops=3, fractions=[0.25, 0.5], seeds=(0, 1))
    res = run_compare("selector", ["random", "all"], tmp_path / "a", **kw)
    assert [r["strategy"] for r in res["summary"]] == ["random 25%", "random 50%", "all"]
    assert [r["data_used"] for r in res["summary"]] == [2, 4, 8]
    assert len(res["rows"]) == 6
    for r in res["summary"]:
        assert r["psnr_min"] <= r["psnr"] <= r["psnr_max"]
    assert "| random 25% |" in (tmp_path / "a" / "compare.md").read_text()
    assert "min-max over seeds" in (tmp_path / "a" / "compare.md").read_text()
    assert (tmp_path / "a" / "compare.png").stat().st_size > 1000
    capsys.readouterr()
    # A second compare sharing the finished runs trains nothing and gives the same numbers.
    again = run_compare("selector", ["all"], tmp_path / "b", runs=tmp_path / "a" / "runs", data=tmp_path / "a" / "data", **kw)
    assert "kept from an earlier run" in capsys.readouterr().out
    assert again["summary"][0]["psnr"] == res["summary"][2]["psnr"]
    assert not (tmp_path / "b" / "adapters").exists()
