"""Publish and pull over real HTTP on loopback (e2gan.testing.hub with the real huggingface_hub client)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from e2gan.testing.hub import HubServer
from e2gan.testing.tiny import photo
from e2gan.testing.tolerance import assert_close

# slow tier: a loopback Hub server and CLI subprocesses
pytestmark = pytest.mark.slow


@pytest.fixture
def hub(tmp_path, monkeypatch):
    with HubServer(tmp_path / "hub") as server:
        env = {"HF_ENDPOINT": server.url, "HF_HUB_OFFLINE": "0", "HF_HUB_DISABLE_XET": "1", "HF_HOME": str(tmp_path / "hf-home"),
               "HF_TOKEN": "test-token", "HF_HUB_DISABLE_TELEMETRY": "1", "TQDM_DISABLE": "1"}
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        import huggingface_hub.constants as c

        monkeypatch.setattr(c, "ENDPOINT", server.url)  # the client reads these at import: point them at this server
        monkeypatch.setattr(c, "HUGGINGFACE_CO_URL_TEMPLATE", server.url + "/{repo_id}/resolve/{revision}/{filename}")
        monkeypatch.setattr(c, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(c, "HF_HUB_DISABLE_XET", True)  # LFS, not Xet, as the test server speaks
        import huggingface_hub.hf_api as hf_api

        monkeypatch.setattr(hf_api.api, "endpoint", server.url)  # module-level helpers (file_exists, ...) use this object
        monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path / "hf-home" / "hub"))
        server.env = env
        yield server


@pytest.fixture
def local(tmp_path, tiny_data):
    from e2gan.adapt import finetune, lora_train_config
    from e2gan.data.dataset import load_pairs
    from e2gan.testing import tiny_student

    tiny_student("e2gan-small").save_pretrained(tmp_path / "base")
    finetune(str(tmp_path / "base"), load_pairs(tiny_data, "sepia"), tmp_path / "ad", lora_train_config(steps=3, lr=1e-2), progress=False,
             meta={"teacher": "classic"})
    return tmp_path / "base", tmp_path / "ad"


def _e2gan(hub, *args):
    return subprocess.run([sys.executable, "-m", "e2gan.cli", *map(str, args)], env={**os.environ, **hub.env}, capture_output=True, text=True,
                          timeout=300)


def test_push_pull_apply_gives_the_local_pixels(hub, local, tmp_path):
    base, ad = local
    res = _e2gan(hub, "push", ad, "org/sepia")
    assert res.returncode == 2 and "publish the base first" in res.stderr  # a local base cannot be pulled by others
    assert _e2gan(hub, "push", base, "org/tiny-base").returncode == 0
    res = _e2gan(hub, "push", ad, "org/sepia", "--base-repo", "org/tiny-base")
    assert res.returncode == 0, res.stderr
    # the card parses with ModelCard and carries the fields
    from huggingface_hub import HfApi, ModelCard, hf_hub_download

    card = ModelCard.load(hf_hub_download("org/sepia", "README.md", revision="main"))
    assert card.data.library_name == "e2gan" and card.data.pipeline_tag == "image-to-image" and card.data.base_model == "org/tiny-base"
    assert {"e2gan", "lora", "teacher:classic"} <= set(card.data.tags) and "PeftModel.from_pretrained" in card.text
    meta = json.loads(Path(hf_hub_download("org/sepia", "e2gan_adapter.json", revision="main")).read_text())
    assert meta["base"] == "org/tiny-base" and json.loads((ad / "e2gan_adapter.json").read_text())["base"] == str(base)  # local untouched
    assert [m.id for m in HfApi().list_models(filter="e2gan", search="sepia")] == ["org/sepia"]
    res = _e2gan(hub, "zoo", "search", "sepia")
    # the catalogue's entries that hold sepia come too; the Hub's own model has its line
    assert res.returncode == 0 and any(line.startswith("org/sepia ") for line in res.stdout.splitlines()) and "e2gan" in res.stdout, res.stdout
    # pull -> apply gives byte-identical images to the local adapter
    res = _e2gan(hub, "pull", "org/sepia@main")
    assert res.returncode == 0 and "verified" in res.stdout, res.stderr
    photo(5, 40).save(tmp_path / "p.png")
    assert _e2gan(hub, "apply", "--model", "org/sepia@main", "--input", tmp_path / "p.png", "--out", tmp_path / "hub-out").returncode == 0
    assert _e2gan(hub, "apply", "--model", ad, "--input", tmp_path / "p.png", "--out", tmp_path / "local-out").returncode == 0
    digest = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()  # noqa: E731
    assert digest(tmp_path / "hub-out" / "p.png") == digest(tmp_path / "local-out" / "p.png")
    # plain peft loads the pulled adapter onto the pulled base
    from peft import PeftModel

    from e2gan.student import Student

    pulled_base = Student.from_pretrained("org/tiny-base", revision="main")
    model = PeftModel.from_pretrained(pulled_base.generator, "org/sepia", revision="main").eval()
    ours = Student.from_pretrained("org/sepia", revision="main")
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    e, m = pulled_base.embed(["sepia"])
    with torch.no_grad():
        assert_close(model(x, e, m), ours(x, "sepia"), "plain peft on the pulled adapter against e2gan")
    assert ours.meta["adapter"]["source_commit"] and ours.meta["source_commit"]  # the commits actually used


def test_pull_refuses_a_wrong_base_a_tampered_file_and_a_pickle_folder(hub, local, tmp_path):
    base, ad = local
    from e2gan.hub.publish import push
    from e2gan.student import Student
    from e2gan.testing import tiny_student

    push(base, "org/tiny-base")
    push(ad, "org/sepia", base_repo="org/tiny-base")
    tiny_student("e2gan-small", seed=7).save_pretrained(tmp_path / "other")
    push(tmp_path / "other", "org/other-base")
    with pytest.raises(ValueError, match="fingerprint"):
        Student.from_pretrained("org/sepia", revision="main", base="org/other-base")
    push(ad, "org/sepia-tampered", base_repo="org/tiny-base")
    good = (ad / "adapter_model.safetensors").read_bytes()
    evil = good[:-8] + bytes(b ^ 0xFF for b in good[-8:])  # same size: only a hash can tell
    hub.tamper("org/sepia-tampered", "adapter_model.safetensors", evil)  # before any download
    with pytest.raises(ValueError, match="adapter_model.safetensors does not match the hash the repo lists"):
        Student.from_pretrained("org/sepia-tampered", revision="main")
    (ad / "adapter_model.bin").write_bytes(b"\x80\x04K\x01.")
    with pytest.raises(ValueError, match=r"adapter_model\.bin.*publishes only safetensors"):
        push(ad, "org/pickled", base_repo="org/tiny-base")


def test_zoo_publish_pushes_the_catalogue_bases_first_and_search_finds_it(hub, local, tmp_path, monkeypatch):
    """`e2gan zoo publish` on a zoo of one base and one concept: the concept names its base by Hub id, a pull gives the
    local pixels, and `e2gan zoo search` lists both (the catalogue offline, the Hub online)."""
    import json
    import shutil

    base, ad = local
    zoo = tmp_path / "zoo"
    shutil.copytree(base, zoo / "tiny-base")
    shutil.copytree(ad, zoo / "tiny-sepia")
    (zoo / "tiny-base" / "make.sh").write_text("# how it was made\n")
    meta = json.loads((zoo / "tiny-sepia" / "e2gan_adapter.json").read_text())
    (zoo / "tiny-sepia" / "e2gan_adapter.json").write_text(json.dumps({**meta, "base": "zoo:tiny-base"}))
    cat = {"bases": {"tiny-base": {"path": "tiny-base", "teacher": "classic", "backbone": "e2gan-small", "text_encoder": "hashed-words",
                                   "resolution": 32, "concepts": [], "made_by": "test", "licence": "apache-2.0", "repo_id": "e2gan-zoo/tiny-base"}},
           "concepts": {"tiny-sepia": {"path": "tiny-sepia", "base": "tiny-base", "teacher": "classic", "prompt": "sepia", "licence": "apache-2.0",
                                       "metrics": {}, "made_by": "test", "repo_id": "e2gan-zoo/tiny-sepia"}}}
    (zoo / "catalogue.json").write_text(json.dumps(cat))
    env = {**hub.env, "E2GAN_ZOO": str(zoo)}
    monkeypatch.setenv("E2GAN_ZOO", str(zoo))
    res = subprocess.run([sys.executable, "-m", "e2gan.cli", "zoo", "publish"], env={**os.environ, **env}, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].startswith("zoo:tiny-base -> e2gan-zoo/tiny-base") and lines[1].startswith("zoo:tiny-sepia -> e2gan-zoo/tiny-sepia")
    pulled = subprocess.run([sys.executable, "-m", "e2gan.cli", "pull", "e2gan-zoo/tiny-sepia"], env={**os.environ, **env}, capture_output=True,
                            text=True, timeout=300)
    assert pulled.returncode == 0, pulled.stderr
    assert "base e2gan-zoo/tiny-base" in pulled.stdout  # the concept names its base by the Hub id the catalogue gave it
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    from e2gan.student import Student

    with torch.no_grad():
        assert_close(Student.from_pretrained("e2gan-zoo/tiny-sepia", revision="main")(x, "sepia"), Student.from_pretrained(ad)(x, "sepia"),
                     "the published concept against its folder")
    found = subprocess.run([sys.executable, "-m", "e2gan.cli", "zoo", "search", "sepia"], env={**os.environ, **env}, capture_output=True,
                           text=True, timeout=300)
    assert found.returncode == 0 and "zoo:tiny-sepia" in found.stdout and "e2gan-zoo/tiny-sepia" in found.stdout, found.stdout + found.stderr
    offline = subprocess.run([sys.executable, "-m", "e2gan.cli", "zoo", "search", "nothing-like-it"], env={**os.environ, **env, "HF_HUB_OFFLINE": "1"},
                             capture_output=True, text=True, timeout=300)
    assert offline.returncode == 0 and "no results for 'nothing-like-it'" in offline.stdout and "Traceback" not in offline.stderr
