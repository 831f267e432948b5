"""The zoo as a catalogue: schema-checked, read by code, listed by the CLI, shipped in the wheel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from e2gan.cli import cli
from e2gan.hub.zoo import catalogue, list_pretrained, validate

ROOT = Path(__file__).resolve().parents[1]


def test_catalogue_is_valid_and_every_zoo_folder_is_in_it():
    cat = json.loads((ROOT / "zoo" / "catalogue.json").read_text())
    assert validate(cat) == []
    listed = {e["path"] for section in ("bases", "concepts") for e in cat[section].values()}
    folders = {p.name for p in (ROOT / "zoo").iterdir() if p.is_dir() and not p.name.startswith(("_", "."))}
    assert folders == listed


def test_validate_names_the_problem():
    cat = catalogue()
    broken = json.loads(json.dumps(cat))
    name = next(iter(broken["bases"]))
    del broken["bases"][name]["teacher"]
    broken["concepts"]["x"] = {"path": name, "base": "nope", "teacher": "t", "prompt": "p", "licence": "l", "metrics": {}, "made_by": "m"}
    problems = validate(broken)
    assert f"bases.{name} lacks 'teacher'" in problems and "concepts.x.base 'nope' is not a base of the catalogue" in problems


def test_list_pretrained_and_the_zoo_commands():
    names = list_pretrained()
    assert "classic-base" in names and list_pretrained("classic-b*") == ["classic-base", "classic-black-and-white"]
    assert len(list_pretrained("procedural-*")) == 25 and set(list_pretrained("classic*")) < set(names)
    res = CliRunner().invoke(cli, ["zoo", "list"])
    assert res.exit_code == 0 and "zoo:classic-base" in res.output
    res = CliRunner().invoke(cli, ["zoo", "show", "zoo:classic-base"])
    assert res.exit_code == 0 and json.loads(res.output)["teacher"] == "classic"
    from e2gan.student import Student

    assert Student.from_pretrained("zoo:classic-base").backbone == "e2gan"


@pytest.mark.slow
def test_the_wheel_carries_the_zoo(tmp_path):
    """Built from the repository, installed elsewhere: zoo: names still resolve, offline."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "w"), str(ROOT)],
                   check=True, capture_output=True)
    wheel = next((tmp_path / "w").glob("e2gan-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "e2gan_zoo/catalogue.json" in names and "e2gan_zoo/classic-base/model.safetensors" in names
    zipfile.ZipFile(wheel).extractall(tmp_path / "site")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site"), "HF_HUB_OFFLINE": "1"}
    code = "import e2gan.hub.sources as h, e2gan; print(h.zoo_dir()); print(e2gan.Student.from_pretrained('zoo:classic-base').backbone)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=tmp_path).stdout.split()
    assert out[0].startswith(str(tmp_path / "site")) and out[1] == "e2gan"


def test_a_shipped_concept_edits_photos_offline(tmp_path):
    from e2gan.testing.tiny import photo

    concept = next(n for n in list_pretrained() if n in catalogue()["concepts"])
    photo(2, 48).save(tmp_path / "p.png")
    res = CliRunner().invoke(cli, ["apply", "--model", f"zoo:{concept}", "--input", str(tmp_path / "p.png"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    from PIL import Image

    out = Image.open(tmp_path / "o" / "p.png")
    assert out.size == (48, 48) and out.tobytes() != Image.open(tmp_path / "p.png").convert("RGB").tobytes()


def test_finetune_starts_from_the_zoo_base_of_the_data_teacher(tmp_path):
    """Procedural pairs and no --base: the adapter starts from zoo:procedural-base, and the command says so."""
    from e2gan.teach import teach_shipped_crops
    from e2gan.hub.zoo import base_for_teacher

    assert base_for_teacher("procedural") == "zoo:procedural-base" and base_for_teacher("classic") == "zoo:classic-base"
    assert base_for_teacher("someone-elses") is None
    teach_shipped_crops("procedural", ["faded, blue sky"], tmp_path / "data", 32, 4)
    res = CliRunner().invoke(cli, ["finetune", "--data", str(tmp_path / "data"), "--prompt", "faded, blue sky", "--out", str(tmp_path / "ad"),
                                   "--steps", "2", "--batch-size", "2", "--samples-every", "0", "--threads", "1"])
    assert res.exit_code == 0, res.output
    assert "base: zoo:procedural-base (the zoo's base for teacher 'procedural'" in res.output
    assert json.loads((tmp_path / "ad" / "e2gan_adapter.json").read_text())["base"] == "zoo:procedural-base"
