"""The training loop: it learns, it is deterministic, it respects frozen weights and budgets."""

from __future__ import annotations

import pytest
import torch

from e2gan.data.dataset import load_pairs
from e2gan.engine import TrainConfig, lr_factor, train
from e2gan.metrics.quality import psnr
from e2gan.student import Student


def test_training_reduces_l1_to_the_teacher(tiny_data):
    pairs = load_pairs(tiny_data, "sepia")
    student = Student.create("e2gan-small")
    test = load_pairs(tiny_data, "sepia", split="test")
    before = float(psnr(student.predict(test.sources, "sepia"), test.targets).mean())
    log = train(student, pairs, TrainConfig(steps=60, batch_size=4, lr=2e-3, gan_weight=0.0, log_every=10), progress=False)
    after = float(psnr(student.predict(test.sources, "sepia"), test.targets).mean())
    assert log[-1]["l1"] < log[0]["l1"]
    assert after > before + 1.0, (before, after)


@pytest.mark.numerics
def test_same_seed_same_result(tiny_data):
    pairs = load_pairs(tiny_data, ["sepia", "cartoon"])
    outs = []
    for _ in range(2):
        torch.manual_seed(123)
        s = Student.create("e2gan-small")
        train(s, pairs, TrainConfig(steps=3, batch_size=2, gan_weight=1.0, disc_config={"ndf": 8}), progress=False)
        outs.append(s.predict(pairs.sources[:2], "sepia"))
    assert torch.equal(outs[0], outs[1])


def test_linear_decay_schedule():
    cfg = TrainConfig(steps=100, decay_start=0.5)
    assert lr_factor(0, cfg) == lr_factor(49, cfg) == 1.0
    assert lr_factor(75, cfg) == pytest.approx(0.5)
    assert lr_factor(100, cfg) == 0.0


def test_time_budget_stops_training(tiny_data):
    pairs = load_pairs(tiny_data, "sepia")
    log = train(Student.create("e2gan-small"), pairs, TrainConfig(steps=10_000, batch_size=2, gan_weight=0, max_seconds=1.0), progress=False)
    assert log and log[-1]["step"] < 10_000


def test_all_frozen_is_a_clear_error(tiny_data):
    s = Student.create("e2gan-small")
    s.generator.requires_grad_(False)
    with pytest.raises(ValueError, match="frozen"):
        train(s, load_pairs(tiny_data, "sepia"), TrainConfig(steps=1), progress=False)


def test_evaluate_hands_back_outputs_and_reuses_teacher_features(tiny_data):
    from e2gan import evaluate as ev

    student = Student.create("e2gan-small")
    outs: dict = {}
    first = ev.evaluate(student, tiny_data, ["sepia"], "test", fid=ev.fid_feature_extractor() is not None, outputs=outs)
    test = load_pairs(tiny_data, "sepia", split="test")
    assert torch.equal(outs["sepia"], student.predict(test.sources, "sepia"))
    again = ev.evaluate(student, tiny_data, ["sepia"], "test", fid="fid" in first["sepia"])
    assert again == first


def test_stats_rule_decides_by_the_interval():
    from e2gan.metrics.stats import bootstrap_ci, summarise, verdict

    assert verdict(0.5, 2.0) == "holds" and verdict(-2.0, -0.1) == "fails" and verdict(-0.5, 0.5) == "inconclusive at this power"
    assert summarise([3.5, 4.0, 4.2, 3.8, 3.9], threshold=3.0)["verdict"] == "holds"
    few = summarise([3.5, 4.0, 4.2, 3.8], threshold=3.0)  # 4 units: no interval, said so
    assert few["verdict"] == "inconclusive at this power" and few["low"] is None and "fewer than 5 units" in few["note"]
    assert summarise([-1.0, 2.0, 0.5, -0.8, 0.1])["verdict"] == "inconclusive at this power"
    mean, low, high = bootstrap_ci([1.0, 2.0, 3.0, 4.0])
    assert mean == 2.5 and 1.0 <= low < 2.5 < high <= 4.0


def test_a_better_than_claim_is_strict():
    from e2gan.metrics.stats import summarise

    assert summarise([0.0] * 5, strict=True)["verdict"] == "fails"  # identical results are no win
    assert summarise([0.0] * 5)["verdict"] == "holds"  # ... but are "at least as good"


def test_training_leaves_the_callers_thread_count_alone(tiny_data):
    """``--threads`` applies to the run only: a teacher run later in the same process keeps its own threading
    (an earlier leak made instruct-pix2pix's batch-1 and batch-2 outputs differ in a pixel)."""
    from e2gan.data.dataset import load_pairs
    from e2gan.testing import tiny_student

    before = torch.get_num_threads()
    train(tiny_student("e2gan-small"), load_pairs(tiny_data, "sepia"), TrainConfig(steps=1, batch_size=2, threads=1), progress=False)
    assert torch.get_num_threads() == before
