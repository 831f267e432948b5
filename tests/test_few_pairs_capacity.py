"""The few-pairs benchmark's capacity part decides a pre-registered claim: its concepts must be disjoint from the other
parts' and fixed, and its verdict must resample concepts with their seeds averaged first."""

import pytest

from benchmarks import few_pairs


def test_capacity_concepts_are_fixed_fresh_and_disjoint_from_the_other_parts():
    cap = few_pairs.concepts("capacity")
    assert len(cap) == len(set(cap)) == 50
    assert cap == few_pairs.concepts("capacity")
    assert not set(cap) & (set(few_pairs.concepts("gate")) | set(few_pairs.concepts("dev")))
    assert all(few_pairs.kind_of(c) == "unseen-primitive" for c in cap)


def _row(concept, arm, seed, psnr_at_budget):
    curve = [{"step": 0, "seconds": 0.0, "psnr": 10.0}, {"step": 300, "seconds": 30.0, "psnr": psnr_at_budget},
             {"step": 400, "seconds": 40.0, "psnr": psnr_at_budget + 5}]
    return {"concept": concept, "arm": arm, "count": 32, "seed": seed, "curve": curve, "trainable": 10, "base_parameters": 400}


def test_capacity_reads_the_budget_step_and_averages_a_concepts_seeds():
    s = few_pairs.Settings()
    rows = [_row("a", "default", 0, 20.0), _row("a", "full", 0, 21.0), _row("a", "default", 1, 20.0), _row("a", "full", 1, 20.0),
            _row("b", "default", 0, 30.0), _row("b", "full", 0, 29.0),
            _row("c", "default", 0, 25.0)]  # no full fine-tune: not a unit
    res = few_pairs.capacity(s, rows, "default")
    assert res["per_concept"] == {"a": -0.5, "b": 1.0}
    assert res["claim"]["n"] == 2 and res["claim"]["pairs"] == 3
    assert res["trainable_share"] == pytest.approx(10 / 400)
    assert res["claim"]["threshold"] == -0.3
