"""Pulling a base and an adapter from a Hub-compatible server on loopback (olah serving git repos)
through the real huggingface_hub client: the same code path as huggingface.co."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import torch

from e2gan.adapt import finetune
from e2gan.config import TrainConfig
from e2gan.data.dataset import load_pairs
from e2gan.testing.net import free_port
from e2gan.testing.tolerance import assert_close
from e2gan.train import train_base

OLAH = shutil.which("olah-cli", path=os.path.dirname(sys.executable))
# slow tier: a loopback Hub server (olah) and subprocesses
pytestmark = [pytest.mark.slow, pytest.mark.skipif(OLAH is None, reason="olah is not installed (pip install 'e2gan[test]')")]


def _git_repo(folder: Path, files_from: Path):
    folder.mkdir(parents=True)
    for f in files_from.iterdir():
        if f.is_file():
            shutil.copy(f, folder / f.name)
    git = ["git", "-c", "user.email=test@e2gan", "-c", "user.name=e2gan-test"]
    subprocess.run(git + ["init", "-q", "-b", "main"], cwd=folder, check=True)
    subprocess.run(git + ["add", "."], cwd=folder, check=True)
    subprocess.run(git + ["commit", "-qm", "upload"], cwd=folder, check=True)


@pytest.fixture(scope="module")
def hub(tmp_path_factory, tiny_data):
    root = tmp_path_factory.mktemp("hub")
    base_dir, ad_dir = root / "local-base", root / "local-adapter"
    train_base(load_pairs(tiny_data, ["sepia", "cartoon"]), base_dir, "e2gan-small", cfg=TrainConfig(steps=2, batch_size=2), progress=False)
    finetune(str(base_dir), load_pairs(tiny_data, "sepia"), ad_dir, TrainConfig(steps=3, batch_size=2, lr=1e-2, gan_weight=0), progress=False)
    meta = json.loads((ad_dir / "e2gan_adapter.json").read_text())
    meta["base"] = "e2gan-test/tiny-base"  # as published: the adapter names its base by Hub id
    (ad_dir / "e2gan_adapter.json").write_text(json.dumps(meta))
    _git_repo(root / "mirrors" / "models" / "e2gan-test" / "tiny-base", base_dir)
    _git_repo(root / "mirrors" / "models" / "e2gan-test" / "tiny-sepia", ad_dir)
    port = free_port()
    (root / "configs.toml").write_text(
        f'[basic]\nhost = "127.0.0.1"\nport = {port}\nrepos-path = "./repos"\nmirror-scheme = "http"\n'
        f'mirror-netloc = "127.0.0.1:{port}"\nmirror-lfs-netloc = "127.0.0.1:{port}"\nmirrors-path = ["./mirrors"]\n'
        "[accessibility]\noffline = true\n"
    )
    proc = subprocess.Popen([OLAH, "-c", "configs.toml"], cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(url + "/api/models/e2gan-test/tiny-base/revision/main", timeout=1)
            break
        except Exception:
            time.sleep(0.2)
    yield {"url": url, "base": base_dir, "adapter": ad_dir, "home": root / "hf-home"}
    proc.terminate()
    proc.wait(10)


def _run(hub, code):
    env = {**os.environ, "HF_ENDPOINT": hub["url"], "HF_HUB_OFFLINE": "0", "HF_HOME": str(hub["home"]), "HF_HUB_DISABLE_TELEMETRY": "1"}
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout


def test_base_and_adapter_from_the_hub_match_local(hub, tmp_path):
    x = torch.linspace(-1, 1, 2 * 3 * 32 * 32).reshape(2, 3, 32, 32)
    torch.save(x, tmp_path / "x.pt")
    code = f"""
import torch
torch.set_num_threads({torch.get_num_threads()})  # float rounding of convs depends on the thread count
from e2gan.student import Student
x = torch.load({str(tmp_path / 'x.pt')!r})
for ref in ["e2gan-test/tiny-base", "hf-hub:e2gan-test/tiny-sepia"]:
    s = Student.from_pretrained(ref, revision="main")
    with torch.no_grad():
        torch.save(s(x, "sepia"), {str(tmp_path)!r} + "/" + ref.split("/")[-1] + ".pt")
print("ok")
"""
    assert "ok" in _run(hub, code)
    from e2gan.student import Student

    local_base = Student.from_pretrained(hub["base"])
    local_ad = Student.from_pretrained(hub["adapter"], base=str(hub["base"]))
    with torch.no_grad():
        # another process (its own thread count): the same up to kernel rounding
        assert_close(torch.load(tmp_path / "tiny-base.pt"), local_base(x, "sepia"), "the base through the Hub against the local folder")
        assert_close(torch.load(tmp_path / "tiny-sepia.pt"), local_ad(x, "sepia"), "the adapter through the Hub against the local folder")


def test_missing_repo_is_a_clear_error(hub):
    out = _run(hub, """
from e2gan.student import Student
try:
    Student.from_pretrained("e2gan-test/nope", revision="main")
except FileNotFoundError as e:
    print("ERR", e)
""")
    assert "ERR could not fetch 'e2gan-test/nope'" in out


def test_revision_option_reaches_the_hub(hub, tmp_path):
    from e2gan.testing.tiny import photo

    photo(3, 40).save(tmp_path / "p.png")
    env = {**os.environ, "HF_ENDPOINT": hub["url"], "HF_HUB_OFFLINE": "0", "HF_HOME": str(hub["home"]), "HF_HUB_DISABLE_TELEMETRY": "1",
           "TQDM_DISABLE": "1"}
    cmd = [sys.executable, "-m", "e2gan.cli", "apply", "--model", "e2gan-test/tiny-sepia", "--input", str(tmp_path / "p.png"), "--out", str(tmp_path / "o")]
    res = subprocess.run(cmd + ["--revision", "main"], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert (tmp_path / "o" / "p.png").exists()
    res = subprocess.run(cmd + ["--revision", "no-such-branch"], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 2 and "revision no-such-branch" in res.stderr and "Traceback" not in res.stderr
