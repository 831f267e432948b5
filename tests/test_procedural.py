"""The procedural teacher (compositional concepts), concept selectors and train-base --teacher."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from e2gan_plugins.procedural_teacher import ProceduralTeacher, held_out, parse
from e2gan_plugins.procedural_teacher.primitives import (
    FAMILIES,
    FAMILY_OF,
    PER_PIXEL,
    UNSEEN,
)

import e2gan
from e2gan.cli import cli
from e2gan.testing.tiny import photo

ROOT = Path(__file__).resolve().parents[1]


def test_enough_primitives_families_and_concepts():
    assert len(FAMILIES) >= 6 and len(FAMILY_OF) >= 30
    assert len(PER_PIXEL) < len(FAMILY_OF) / 2  # most primitives are spatial (14 of 36 are per-pixel: see docs)
    assert len(ProceduralTeacher.concepts()) >= 150


def test_held_out_kinds_are_what_they_say():
    t = ProceduralTeacher()
    pool = set(t.base_concepts())
    h = held_out()
    assert len(h["seen-primitives"]) == 12 and len(h["unseen-primitive"]) == 12
    seen_words = {w for c in pool for w in parse(c)}
    assert not seen_words & set(UNSEEN), "a base pool concept uses an unseen primitive"
    for c in h["seen-primitives"]:
        assert c not in pool and set(parse(c)) <= seen_words
    for c in h["unseen-primitive"]:
        assert c not in pool and sum(w in UNSEEN for w in parse(c)) == 1


def test_spatial_primitives_depend_on_neighbourhoods_and_per_pixel_ones_do_not():
    t = ProceduralTeacher()
    img = photo(3, 64)
    shuffled = np.asarray(img).reshape(-1, 3)[np.random.default_rng(0).permutation(64 * 64)].reshape(64, 64, 3)
    from PIL import Image

    for word, fam in FAMILY_OF.items():
        a = np.asarray(t.edit([Image.fromarray(shuffled)], word, [0])[0]).reshape(-1, 3)
        b = np.asarray(t.edit([img], word, [0])[0]).reshape(-1, 3)[np.random.default_rng(0).permutation(64 * 64)]
        same = np.array_equal(a, b)  # a per-pixel map commutes with shuffling the pixels
        assert same == (word in PER_PIXEL), word


def test_prompt_order_does_not_matter_and_bad_prompts_say_why():
    t = ProceduralTeacher()
    img = [photo(1, 48)]
    a = np.asarray(t.edit(img, "vignette, halftone, warm", [0])[0])
    assert np.array_equal(a, np.asarray(t.edit(img, "halftone, warm, vignette", [5])[0]))
    with pytest.raises(ValueError, match="no primitive 'glitter'"):
        t.edit(img, "warm, glitter", [0])
    with pytest.raises(ValueError, match="two primitives of one family"):
        t.edit(img, "warm, cool", [0])


def test_docs_list_every_primitive():
    doc = (ROOT / "docs" / "procedural-teacher.md").read_text()
    listed = set(re.findall(r"^\| \w+ \| `([^`]+)` \|", doc, flags=re.M))
    assert listed == set(FAMILY_OF)
    assert (ROOT / "docs" / "img" / "procedural-primitives.png").exists()


def test_representative_concepts_cover_the_clusters_of_effects():
    centres = 10 * torch.eye(4)
    pool = [f"c{i}" for i in range(40)]

    def effects(prompts):
        return torch.stack([centres[int(p[1:]) % 4] + 0.01 * int(p[1:]) for p in prompts])

    chosen = e2gan.create_concept_selector("representative").select(pool, 4, 0, effects)
    assert sorted(int(c[1:]) % 4 for c in chosen) == [0, 1, 2, 3]
    assert e2gan.create_concept_selector("single", prompt="c7").select(pool, 4, 0, effects) == ["c7"]


def test_random_concept_draws_are_independent_and_repeatable():
    pool = [f"c{i}" for i in range(200)]
    draws = [e2gan.create_concept_selector("random", draw=d).select(pool, 8, 0) for d in range(3)]
    assert draws[0] == e2gan.create_concept_selector("random").select(pool, 8, 0)  # draw 0 is the seed's own draw
    assert len({tuple(d) for d in draws}) == 3 and all(len(set(d)) == 8 for d in draws)
    assert draws[1] == e2gan.create_concept_selector("random", draw=1).select(pool, 8, 0)


def test_train_base_picks_and_teaches_concepts(tmp_path):
    res = CliRunner().invoke(cli, ["train-base", "--teacher", "procedural", "--concepts", "random:count=3", "--crops", "4", "--size", "32",
                                   "--data", str(tmp_path / "data"), "--out", str(tmp_path / "base"), "--backbone", "e2gan-small",
                                   "--set", "coords=true", "--steps", "2", "--batch-size", "2"])
    assert res.exit_code == 0, res.output
    cfg = json.loads((tmp_path / "base" / "config.json").read_text())
    assert len(cfg["meta"]["prompts"]) == 3 and cfg["config"]["coords"] is True
    assert all(p in ProceduralTeacher.base_concepts() for p in cfg["meta"]["prompts"])
    res = CliRunner().invoke(cli, ["train-base", "--concepts", "random:count=3", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "b2")])
    assert res.exit_code == 2 and "pass --teacher too" in res.output


def test_concepts_command_lists_prompts_and_held_out():
    res = CliRunner().invoke(cli, ["concepts", "--teacher", "procedural", "--held-out"])
    assert res.exit_code == 0 and "# unseen-primitive" in res.output and held_out()["unseen-primitive"][0] in res.output
    res = CliRunner().invoke(cli, ["concepts", "--teacher", "classic"])
    assert res.exit_code == 0 and "oil painting" in res.output
