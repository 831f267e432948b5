"""`make bench` end to end at toy settings: every section but the teacher's writes its table and plot."""

from __future__ import annotations

import json

import pytest


@pytest.mark.slow
def test_bench_writes_tables_plots_and_json(tmp_path, capsys):
    from benchmarks.run import main

    main(["inference", "training", "bases", "ablations", "--size", "32", "--steps", "2", "--trial-steps", "2", "--seeds", "0", "1",
          "--fractions", "0.25", "0.5", "--crops", "8", "--test-crops", "3", "--cost-size", "32", "--cost-steps", "2", "--p2p-steps", "2",
          "--rounds", "1", "--block", "1",
          "--infer-backbones", "e2gan-small", "e2gan", "e2gan-large", "pix2pix-resnet9", "--out", str(tmp_path)])
    text = (tmp_path / "RESULTS.md").read_text()
    for title in ("## Targets and the paper's claims, checked", "## Inference at 256x256", "## Training cost per concept", "## Base-model ablation", "## LoRA-rank ablation",
                  "## Data ablation: quality vs number of fine-tuning samples"):
        assert title in text
    assert "| kmeans 25% |" in text and "| random 50% |" in text and "| all |" in text
    for png in ("inference", "training_cost", "training_curves", "bases", "ranks", "data"):
        assert f"(img/{png}.png)" in text
        assert (tmp_path / "img" / f"{png}.png").stat().st_size > 5000
    results = json.loads((tmp_path / "results.json").read_text())
    for row in results["training"]["rows"]:  # held-out quality during training, on a clock without the probes' own time
        assert [c["step"] for c in row["curve"]] == [2]  # logs come every 10 steps and at the end
        assert row["curve"][-1]["psnr"] == pytest.approx(row["psnr"], abs=1e-4)  # the last probe is the final model
        assert 0 < row["curve"][-1]["seconds"] <= row["seconds"] + 0.01  # the stages round their seconds to 0.01
    assert results["config"]["seeds"] == [0, 1] and set(results["seconds"]) == {"inference", "training", "bases", "ablations"}
    # "all pairs, uniform rank 4" is the same run in both ablations: the data ablation reuses it.
    ranks = {r["strategy"]: r["psnr"] for r in results["ablations"]["ranks"]["summary"]}
    data = {r["strategy"]: r["psnr"] for r in results["ablations"]["data"]["summary"]}
    assert data["all"] == ranks["uniform:rank=4"]
    # RESULTS.md and the plots are drawn from results.json alone: rendering again gives the same file.
    from benchmarks.run import render

    assert render(tmp_path).read_text() == text
    # ... and says so once per concept and seed.
    concepts = results["ablations"]["data"]["concepts"]
    assert "all / seed 1: " in (log := capsys.readouterr().out) and log.count("(kept from an earlier run)") == 2 * len(concepts) >= 4


@pytest.mark.slow
def test_running_one_section_keeps_the_others(tmp_path, capsys):
    """`make bench ARGS=training` after a run updates that section and keeps the rest, if the settings match."""
    from benchmarks.run import main

    tiny = ["--rounds", "1", "--block", "1", "--infer-backbones", "e2gan", "pix2pix-resnet9", "--cost-size", "32", "--cost-steps", "1", "--p2p-steps", "1", "--crops", "4",
            "--test-crops", "2", "--out", str(tmp_path)]
    main(["inference", *tiny])
    first = json.loads((tmp_path / "results.json").read_text())
    main(["training", *tiny])
    both = json.loads((tmp_path / "results.json").read_text())
    assert both["inference"] == first["inference"] and "training" in both
    assert "## Inference" in (tmp_path / "RESULTS.md").read_text() and "## Training cost" in (tmp_path / "RESULTS.md").read_text()
    main(["training", *tiny, "--rounds", "2"])  # other settings: the earlier inference no longer belongs with these results
    assert "inference" not in json.loads((tmp_path / "results.json").read_text())
    assert "made with other settings" in capsys.readouterr().out


@pytest.mark.slow
def test_fidelity_stops_at_a_failed_stage_and_names_its_log(tmp_path):
    from benchmarks.run import fidelity

    with pytest.raises(SystemExit, match="no_such_module_e2gan failed.*fidelity-logs"):
        fidelity(tmp_path, stages=[[["json.tool", "--help"]], [["no_such_module_e2gan"]], [["json.tool", "--never-reached"]]])
    logs = sorted(p.name for p in (tmp_path / "fidelity-logs").iterdir())
    assert len(logs) == 2 and not (tmp_path / "RESULTS.md").exists()


def test_text_encoder_geometry_helpers():
    import torch

    import e2gan
    from benchmarks.text_encoders import claims, sentence, spearman

    assert spearman(torch.tensor([1.0, 2, 3, 4]), torch.tensor([10.0, 20, 30, 40])) == pytest.approx(1.0)
    assert spearman(torch.tensor([1.0, 2, 3, 4]), torch.tensor([4.0, 3, 2, 1])) == pytest.approx(-1.0)
    enc = e2gan.create_text_encoder("hashed-words")  # no sentence(): the masked mean of its word vectors
    s = sentence(enc, ["warm light", "warm light", "pixel art"])
    assert torch.allclose(s.norm(dim=1), torch.ones(3)) and torch.allclose(s[0], s[1]) and float(s[0] @ s[2]) < 0.99
    rows = [{"encoder": e, "prompt": p, "kind": "seen-primitives", "spearman": v, "regret": 1 - v}
            for e, vals in (("a", [0.5, 0.6, 0.7, 0.6, 0.5]), ("b", [0.1, 0.2, 0.3, 0.2, 0.1])) for p, v in zip("vwxyz", vals)]
    first = claims(rows, ["a", "b"])[0]
    assert first["metric"] == "spearman" and first["mean"] == pytest.approx(0.4) and first["verdict"] == "holds"
    few = claims([r for r in rows if r["prompt"] in "xyz"], ["a", "b"])[0]  # 3 prompts: below the floor for an interval
    assert few["verdict"] == "inconclusive at this power" and few["low"] is None
