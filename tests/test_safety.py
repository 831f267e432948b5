"""The bad-input corpus (issue 11): each case checks the message and that everything written earlier is
byte-identical afterwards. Nothing is unpickled; nothing is read or written outside the given folders."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
from pathlib import Path

import pytest
import torch

from e2gan.cli import main
from e2gan.student import Student
from e2gan.testing import tiny_student
from e2gan.testing.cli import run_cli
from e2gan.testing.tiny import photo


def snapshot(*folders) -> dict:
    """Every file under the folders, by content: compared before and after a refused command."""
    out = {}
    for folder in folders:
        for p in sorted(Path(folder).rglob("*")):
            if p.is_file() and p.name != ".e2gan.lock":
                out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


run = run_cli  # the real entry point (main), as a user's shell would: exit code and output, no traceback expected


@pytest.fixture
def base_and_adapter(tmp_path, tiny_data):
    from e2gan.adapt import finetune, lora_train_config
    from e2gan.data.dataset import load_pairs

    tiny_student("e2gan-small").save_pretrained(tmp_path / "base")
    finetune(str(tmp_path / "base"), load_pairs(tiny_data, "sepia"), tmp_path / "ad", lora_train_config(steps=1), progress=False)
    return tmp_path / "base", tmp_path / "ad"


# -- 1. --out onto an existing model ---------------------------------------------------------------


def test_finetune_refuses_to_write_onto_its_base_or_a_finished_model(base_and_adapter, tiny_data, tmp_path):
    base, ad = base_and_adapter
    before = snapshot(base, ad)
    code, out = run("finetune", "--base", base, "--data", tiny_data, "--prompt", "sepia", "--out", base, "--steps", "1")
    assert code == 2 and "is the model this command reads" in out and "Traceback" not in out
    code, out = run("finetune", "--base", base, "--data", tiny_data, "--prompt", "sepia", "--out", ad, "--steps", "1")
    assert code == 2 and "already holds an adapter; pass --overwrite" in out
    code, out = run("train-base", "--data", tiny_data, "--out", ad, "--backbone", "e2gan-small", "--steps", "1")
    assert code == 2 and "already holds an adapter" in out
    assert snapshot(base, ad) == before


def test_overwrite_replaces_an_adapter_with_a_base_that_then_loads(base_and_adapter, tiny_data):
    _, ad = base_and_adapter
    code, out = run("train-base", "--data", tiny_data, "--out", ad, "--backbone", "e2gan-small", "--steps", "1", "--batch-size", "2", "--overwrite")
    assert code == 0, out
    assert not (ad / "e2gan_adapter.json").exists() and "adapter" not in Student.from_pretrained(ad).meta


def test_unwritable_out_is_refused_before_training(tiny_data, tmp_path):
    if os.geteuid() == 0:
        ro = Path("/proc/e2gan-cannot-write-here")  # root writes anywhere on disk; /proc refuses everyone
    else:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        ro = ro / "model"
    code, out = run("train", "--data", tiny_data, "--prompt", "sepia", "--backbone", "e2gan-small", "--out", ro, "--steps", "1")
    assert code == 2 and "cannot write to --out" in out


# -- 2./3. teach: one writer, readers never write ---------------------------------------------------


def test_a_second_teach_into_the_same_folder_is_refused_while_the_first_runs(tmp_path):
    from e2gan.outputs import LockedError, folder_lock
    from e2gan.teach import teach

    with folder_lock(tmp_path / "d"):
        with pytest.raises(LockedError, match="another e2gan process teaches into"):
            teach("classic", ["sepia"], [("p", photo(1, 40))], tmp_path / "d", size=32, progress=False)


def test_readers_never_write_and_keep_unknown_fields(tmp_path):
    from e2gan.data.dataset import PairedDataset
    from e2gan.teach import teach

    teach("classic", ["sepia"], [(f"p{i}", photo(i, 40)) for i in range(3)], tmp_path / "d", size=32, progress=False)
    man = tmp_path / "d" / "manifest.jsonl"
    lines = man.read_text().splitlines()
    rec = json.loads(lines[-1])
    rec["from_the_future"] = {"x": 1}
    body = "\n".join(lines[:-1] + [json.dumps(rec), lines[0], '{"key": "torn'])  # unknown field, a duplicate, a torn line
    man.write_text(body)
    man.chmod(0o444)
    before = snapshot(tmp_path / "d")
    with pytest.warns(UserWarning, match="incomplete last record"):
        ds = PairedDataset(tmp_path / "d")
    assert len(ds) == 3 and ds.records[-1].extra == {"from_the_future": {"x": 1}}
    assert snapshot(tmp_path / "d") == before and oct(man.stat().st_mode & 0o777) == "0o444"
    man.chmod(0o644)
    teach("classic", ["sepia"], [("q", photo(9, 40))], tmp_path / "d", size=32, progress=False)  # the writer repairs and keeps the field
    again = [json.loads(x) for x in man.read_text().splitlines()]
    assert any("from_the_future" in r for r in again) and all("torn" not in json.dumps(r) for r in again)


def test_files_respect_the_umask(tmp_path):
    from e2gan.io import atomic_write_text

    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "f.txt", "x")
    finally:
        os.umask(old)
    assert oct((tmp_path / "f.txt").stat().st_mode & 0o777) == "0o644"


# -- 4. apply never writes two inputs to one output ----------------------------------------------


def test_apply_keeps_relative_paths_and_never_merges_outputs(base_and_adapter, tmp_path):
    _, ad = base_and_adapter
    imgs = tmp_path / "imgs"
    (imgs / "a").mkdir(parents=True)
    (imgs / "b").mkdir()
    photo(1, 40).save(imgs / "a" / "img.png")
    photo(2, 40).save(imgs / "b" / "img.png")
    photo(3, 40).save(imgs / "img.jpg")
    photo(4, 40).save(imgs / "img.png")
    code, out = run("apply", "--model", ad, "--input", imgs, "--out", tmp_path / "out")
    assert code == 0, out
    made = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*.png"))
    assert made == ["a/img.png", "b/img.png", "img.jpg.png", "img.png.png"]


# -- 6./7. confinement -------------------------------------------------------------------------------


def test_manifest_paths_outside_the_folder_are_refused(tmp_path):
    from e2gan.data.dataset import PairedDataset
    from e2gan.teach import teach

    teach("classic", ["sepia"], [("p", photo(1, 40))], tmp_path / "d", size=32, progress=False)
    man = tmp_path / "d" / "manifest.jsonl"
    rec = json.loads(man.read_text().splitlines()[0])
    for bad in ("/etc/hostname", "../../../victim.txt"):
        man.write_text(json.dumps({**rec, "key": "k2", "source": bad}) + "\n")
        with pytest.raises(ValueError, match="points outside the data set folder"):
            PairedDataset(tmp_path / "d")


@pytest.mark.parametrize("name", ["zoo:/etc", "zoo:../..", "zoo:..", "zoo:classic-base/../../e2gan"])
def test_zoo_names_stay_in_the_zoo(name):
    with pytest.raises(FileNotFoundError, match="is not a zoo name"):
        Student.from_pretrained(name)


# -- 8. safe loading: no pickle is ever opened --------------------------------------------------------


class _Payload:
    """Unpickling this writes a marker file: proof that a pickle was opened."""

    marker = None

    def __reduce__(self):
        return (Path.write_text, (Path(self.marker), "unpickled!"))


@pytest.fixture
def no_unpickling(monkeypatch, tmp_path):
    marker = tmp_path / "UNPICKLED"
    _Payload.marker = str(marker)
    calls = []
    real = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **k: calls.append(a) or real(*a, **k))
    monkeypatch.setattr(pickle, "load", lambda *a, **k: calls.append(a) or (_ for _ in ()).throw(AssertionError("pickle.load")))
    yield lambda: pickle.dumps(_Payload())
    assert not marker.exists() and not calls, f"a pickle was opened: {calls}"


def test_no_loading_path_opens_a_pickle(tmp_path, base_and_adapter, no_unpickling):
    payload = no_unpickling()
    base, ad = base_and_adapter
    # an adapter whose safetensors file was swapped for peft's pickle fallback
    bad_ad = tmp_path / "bad-ad"
    shutil.copytree(ad, bad_ad)
    (bad_ad / "adapter_model.safetensors").unlink()
    (bad_ad / "adapter_model.bin").write_bytes(payload)
    with pytest.raises(FileNotFoundError, match="refuses adapters in any other format"):
        Student.from_pretrained(bad_ad, base=str(base))
    # a base folder with a pickle instead of model.safetensors
    bad_base = tmp_path / "bad-base"
    bad_base.mkdir()
    shutil.copy(base / "config.json", bad_base / "config.json")
    (bad_base / "pytorch_model.bin").write_bytes(payload)
    with pytest.raises(FileNotFoundError, match="only as safetensors"):
        Student.from_pretrained(bad_base)
    # a config that asks timm for pretrained weights from a folder holding a pickle
    enc_dir = tmp_path / "enc"
    enc_dir.mkdir()
    (enc_dir / "pytorch_model.bin").write_bytes(payload)
    s = Student.create("timm-unet", "hashed-words", encoder="mobilenetv3_small_050")
    s.save_pretrained(tmp_path / "timm")
    cfg = json.loads((tmp_path / "timm" / "config.json").read_text())
    cfg["config"]["pretrained"] = True
    (tmp_path / "timm" / "config.json").write_text(json.dumps(cfg))
    assert Student.from_pretrained(tmp_path / "timm").backbone == "timm-unet"  # loads its safetensors, fetches nothing
    cfg["config"]["encoder"] = f"local-dir:{enc_dir}"
    (tmp_path / "timm" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="never fetch weights"):
        Student.from_pretrained(tmp_path / "timm")
    # a CLIP folder whose weights are a pickle
    pytest.importorskip("transformers")
    from e2gan.testing.diffusers import save_tiny_clip

    clip = Path(save_tiny_clip(tmp_path / "clip"))
    for f in clip.glob("*.safetensors"):
        f.unlink()
    (clip / "pytorch_model.bin").write_bytes(payload)
    import e2gan

    with pytest.raises(OSError):
        e2gan.create_text_encoder("clip", model=str(clip))


# -- 10./11. errors a user can act on ---------------------------------------------------------------


def _corrupt(folder, what):
    cfg_path = folder / "config.json"
    cfg = json.loads(cfg_path.read_text())
    if what == "bad json":
        cfg_path.write_text("{not json")
    elif what == "wrong type":
        cfg["config"]["ngf"] = "sixteen"
        cfg_path.write_text(json.dumps(cfg))
    elif what == "missing key":
        del cfg["backbone"]
        cfg_path.write_text(json.dumps(cfg))
    elif what == "truncated weights":
        w = folder / "model.safetensors"
        w.write_bytes(w.read_bytes()[:100])
    elif what == "wrong shapes":
        cfg["config"]["ngf"] = 16
        cfg_path.write_text(json.dumps(cfg))


@pytest.mark.parametrize("what,message", [("bad json", "is not valid JSON"), ("wrong type", "config key 'ngf' is 'sixteen' (str)"),
                                          ("missing key", "lacks 'backbone'"), ("truncated weights", "not a valid safetensors file"),
                                          ("wrong shapes", "does not match backbone")])
def test_broken_model_folders_give_one_line_errors(tmp_path, what, message):
    tiny_student("e2gan-small").save_pretrained(tmp_path / "m")
    _corrupt(tmp_path / "m", what)
    photo(1, 40).save(tmp_path / "p.png")
    before = snapshot(tmp_path / "m")
    code, out = run("apply", "--model", tmp_path / "m", "--prompt", "x", "--input", tmp_path / "p.png", "--out", tmp_path / "o")
    assert code == 2 and message in out and "Traceback" not in out, out
    assert "--debug" in out and snapshot(tmp_path / "m") == before


def test_debug_shows_the_traceback(tmp_path):
    tiny_student("e2gan-small").save_pretrained(tmp_path / "m")
    _corrupt(tmp_path / "m", "bad json")
    with pytest.raises(ValueError, match="is not valid JSON"):
        main(["--debug", "apply", "--model", str(tmp_path / "m"), "--prompt", "x", "--input", str(tmp_path), "--out", str(tmp_path / "o")])


def test_adapters_without_a_fingerprint_or_based_on_themselves_are_refused(base_and_adapter, tmp_path):
    _, ad = base_and_adapter
    meta_path = ad / "e2gan_adapter.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "base_fingerprint": None}))
    with pytest.raises(ValueError, match="no base_fingerprint"):
        Student.from_pretrained(ad)
    meta_path.write_text(json.dumps({**meta, "base": str(ad)}))
    with pytest.raises(ValueError, match="names itself as its base"):
        Student.from_pretrained(ad)


def test_missing_pair_file_names_the_file_and_the_fix(tmp_path):
    from e2gan.data.dataset import load_pairs
    from e2gan.teach import teach

    teach("classic", ["sepia"], [("p", photo(1, 40))], tmp_path / "d", size=32, progress=False)
    next((tmp_path / "d" / "targets").glob("*.png")).unlink()
    with pytest.raises(ValueError, match="which is missing; rerun `e2gan teach`"):
        load_pairs(tmp_path / "d", "sepia")


# -- 9. decompression bombs and memory ------------------------------------------------------------


def png_header_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge image (the decompression-bomb probe)."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + chunk(b"IEND", b"")


def test_bombs_and_oversize_images_are_skipped_with_the_reason(tmp_path, monkeypatch):
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    (imgs / "bomb.png").write_bytes(png_header_claiming(100_000, 100_000))
    photo(1, 64).save(imgs / "ok.png")
    from PIL import Image

    Image.new("RGB", (300, 200)).save(imgs / "big.png")
    monkeypatch.setenv("E2GAN_MAX_PIXELS", "50000")  # settable: 300x200 = 60,000 is over it
    code, out = run("teach", "--teacher", "classic", "--prompt", "sepia", "--images", imgs, "--size", "32", "--out", tmp_path / "d")
    assert code == 1, out  # some inputs were unusable: said, and the rest taught
    assert "bomb.png: claims more pixels than PIL will decode" in out
    assert "big.png: 300x200 = 60,000 pixels, over the limit of 50,000 (E2GAN_MAX_PIXELS)" in out
    assert "1 pair written" in out and "Traceback" not in out


def test_special_files_and_earlier_outputs_are_skipped(tmp_path):
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    photo(1, 64).save(imgs / "a.png")
    os.symlink(imgs / "loop1", imgs / "loop2")
    os.symlink(imgs / "loop2", imgs / "loop1")
    os.mkfifo(imgs / "pipe.png")
    code, out = run("teach", "--teacher", "classic", "--prompt", "sepia", "--images", imgs, "--size", "32", "--out", imgs / "data")
    assert "loop1: a symbolic link loop" in out and "pipe.png: a FIFO (named pipe), not a file" in out
    assert "1 pair written" in out
    # a second run over the same folder: the pairs written under imgs/data are not read back as sources
    code, out = run("teach", "--teacher", "classic", "--prompt", "sepia", "--images", imgs, "--size", "32", "--out", imgs / "data")
    assert "0 pairs written, 1 already present" in out
    assert "inside the output folder" in out
