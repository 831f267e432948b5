"""Nothing lost, round two (issue 24): every reproduction of the issue, through the real entry point. Each refused
command leaves everything it was given byte-identical and says in one line what to do."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time

import pytest
import torch

from e2gan.testing import tiny_student
from e2gan.testing.cli import run_cli
from tests.test_safety import snapshot


@pytest.fixture
def zb(tmp_path):
    """A small base (copied into the scratch folder, as the issue's `zb`) and a test data set `data1`."""
    base = tiny_student("e2gan-small")
    base.meta["prompts"] = ["sepia", "cartoon"]
    base.save_pretrained(tmp_path / "zb")
    return tmp_path / "zb"


def one_line_error(code, out, *needles):
    assert code == 2, out
    assert "Traceback" not in out, out
    for n in needles:
        assert n in out, out


@pytest.mark.parametrize("args,needle", [
    (["export", "--model", "{zb}", "--prompt", "sepia", "--out", "{zb}/model.safetensors", "--size", "32"], "lies inside the model"),
    (["export", "--model", "{zb}", "--prompt", "sepia", "--out", "{zb}/config.json", "--size", "32"], "lies inside the model"),
    (["export", "--model", "{zb}", "--prompt", "sepia", "--out", "{tmp}/afile.txt", "--size", "32"], "already exists; pass --overwrite"),
    (["eval", "--model", "{zb}", "--prompt", "sepia", "--data", "{data}", "--out", "{data}/manifest.jsonl"], "lies inside the data set"),
    (["eval", "--model", "{zb}", "--prompt", "sepia", "--data", "{data}", "--out", "{tmp}/m.json", "--grid", "{zb}/config.json"],
     "lies inside the model"),
    (["eval", "--model", "{zb}", "--prompt", "sepia", "--data", "{data}", "--out", "{tmp}/afile.txt"], "already exists; pass --overwrite"),
    (["eval", "--model", "{zb}", "--prompt", "sepia", "--data", "{data}", "--report", "{tmp}/r.html", "--grid", "{tmp}/r.html"],
     "give each output its own path"),
    (["apply", "--model", "{zb}", "--prompt", "sepia", "--input", "{tmp}/photos/p0.png", "--out", "{tmp}/photos"], "would write over the input"),
    (["apply", "--model", "{zb}", "--prompt", "sepia", "--input", "{tmp}/photos", "--out", "{tmp}/photos"], "is the --input"),
    (["apply", "--model", "{zb}", "--prompt", "sepia", "--input", "{tmp}/photos", "--out", "{tmp}/afile.txt"], "is a file"),
    (["finetune", "--base", "{zb}", "--data", "{data}", "--prompt", "sepia", "--out", "{data}"], "is the data set"),
    (["finetune", "--base", "{zb}", "--data", "{data}", "--prompt", "sepia", "--out", "{zb}"], "is the model"),
    (["train", "--data", "{data}", "--prompt", "sepia", "--backbone", "e2gan-small", "--out", "{data}/model"], "lies inside the data set"),
    (["train-base", "--data", "{data}", "--backbone", "e2gan-small", "--out", "{data}"], "is the data set"),
    (["teach", "--prompt", "sepia", "--images", "{tmp}/photos", "--out", "{tmp}/photos"], "is the folder of --images"),
    (["apply", "--model", "{zb}", "--prompt", "sepia", "--input", "{tmp}/photos/p0.png", "--out", "{tmp}/photos/p0.png"], "is the --input"),
])
def test_every_command_refuses_outputs_onto_what_it_reads(args, needle, zb, tiny_data, tmp_path):
    from e2gan.testing.tiny import photo

    (tmp_path / "photos").mkdir()
    for i in range(2):
        photo(i, 40).save(tmp_path / "photos" / f"p{i}.png")
    (tmp_path / "afile.txt").write_text("mine")
    data = tmp_path / "data1"
    shutil.copytree(tiny_data, data)
    before = snapshot(tmp_path)
    code, out = run_cli(*[a.format(zb=zb, data=data, tmp=tmp_path) for a in args])
    one_line_error(code, out, needle)
    assert snapshot(tmp_path) == before, "a refused command changed a file"


def test_a_second_training_run_into_one_folder_is_refused_while_the_first_holds_it(zb, tiny_data, tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "e2gan.cli", "finetune", "--base", str(zb), "--data", str(tiny_data), "--prompt", "sepia", "--size", "32",
           "--out", str(tmp_path / "ad"), "--steps", "100000", "--checkpoint-every", "1000"]
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 120
        while not (tmp_path / "ad" / ".e2gan.lock").exists() or not (tmp_path / "ad" / ".e2gan.lock").read_text():
            assert first.poll() is None and time.time() < deadline, first.communicate()[0][-2000:]
            time.sleep(0.2)
        code, out = run_cli("finetune", "--base", zb, "--data", tiny_data, "--prompt", "sepia", "--size", "32", "--out", tmp_path / "ad",
                            "--steps", "5")
        one_line_error(code, out, "another e2gan process trains into")
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(60)


def test_resume_refuses_another_runs_checkpoint_naming_what_differs(zb, tiny_data, tmp_path):
    from e2gan.adapt import finetune, lora_train_config
    from e2gan.data.dataset import load_pairs
    from e2gan.engine.checkpoint import latest

    pairs = load_pairs(tiny_data, "sepia", "train", size=32)
    cfg = lora_train_config(steps=6, batch_size=2, seed=3, checkpoint_every=3)
    finetune(str(zb), pairs, tmp_path / "ad", cfg, progress=False)
    shutil.rmtree(tmp_path / "ad" / "checkpoints" / "step-00000006")  # as if killed at step 3
    assert latest(tmp_path / "ad")[0].name == "step-00000003"
    (tmp_path / "ad" / "e2gan_adapter.json").unlink()  # the unfinished run has written no adapter
    code, out = run_cli("finetune", "--base", zb, "--data", tiny_data, "--prompt", "cartoon", "--size", "32", "--out", tmp_path / "ad",
                        "--steps", "6", "--batch-size", "2", "--lr", "0.1", "--seed", "0", "--checkpoint-every", "3", "--overwrite")
    from e2gan.config import LORA_LR

    one_line_error(code, out, "belongs to another run", f"lr ({LORA_LR} -> 0.1)", "seed (3 -> 0)", "prompts", "--no-resume")
    code, out = run_cli("finetune", "--base", zb, "--data", tiny_data, "--prompt", "cartoon", "--size", "32", "--out", tmp_path / "ad",
                        "--steps", "6", "--batch-size", "2", "--lr", "0.1", "--seed", "0", "--checkpoint-every", "3", "--overwrite", "--no-resume")
    assert code == 0, out
    assert json.loads((tmp_path / "ad" / "e2gan_adapter.json").read_text())["train"]["lr"] == 0.1


def test_teach_counts_identical_crops_once(tmp_path):
    from PIL import Image

    (tmp_path / "photos").mkdir()
    Image.new("RGB", (40, 40), (120, 30, 200)).save(tmp_path / "photos" / "flat.png")  # every crop of a flat photo is the same
    code, out = run_cli("teach", "--prompt", "sepia", "--images", tmp_path / "photos", "--crops", "6", "--size", "32", "--out", tmp_path / "d")
    assert code == 0, out
    lines = (tmp_path / "d" / "manifest.jsonl").read_text().splitlines()
    written = int(out.split(" pair written")[0].split()[-1])
    assert written == len(lines) == len({json.loads(line)["key"] for line in lines}) == 1
    assert "5 identical to another source" in out


@pytest.mark.parametrize("key,value,needle", [
    ("heads", 0, "heads is 0; it must be a number from 1 to 64"),
    ("ngf", -1, "ngf is -1"),
    ("ngf", 100000, "ngf is 100000"),
    ("n_res_before", 1000000000, "n_res_before is 1000000000"),
])
def test_config_values_are_range_checked_before_anything_is_allocated(key, value, needle, zb, tmp_path):
    cfg = json.loads((zb / "config.json").read_text())
    cfg["config"][key] = value
    (zb / "config.json").write_text(json.dumps(cfg))
    code, out = run_cli("export", "--model", zb, "--prompt", "sepia", "--out", tmp_path / "x.onnx", "--size", "32")
    one_line_error(code, out, needle, "config.json")


@pytest.mark.parametrize("settings", [{"dim": 1000000000}, {"max_tokens": 1000000000}])
def test_text_encoder_settings_are_range_checked(settings, zb, tmp_path):
    cfg = json.loads((zb / "config.json").read_text())
    cfg["text_encoder"]["settings"].update(settings)
    (zb / "config.json").write_text(json.dumps(cfg))
    code, out = run_cli("export", "--model", zb, "--prompt", "sepia", "--out", tmp_path / "x.onnx", "--size", "32")
    one_line_error(code, out, f"{next(iter(settings))} is 1000000000")


@pytest.fixture
def adapter(zb, tiny_data, tmp_path):
    from e2gan.adapt import finetune, lora_train_config
    from e2gan.data.dataset import load_pairs

    finetune(str(zb), load_pairs(tiny_data, "sepia", "train", size=32), tmp_path / "ad", lora_train_config(steps=2, batch_size=2), progress=False)
    return tmp_path / "ad"


@pytest.mark.parametrize("change,needle", [
    (lambda c: {**c, "peft_type": "PROMPT_TUNING"}, "peft_type is 'PROMPT_TUNING'"),
    (lambda c: [], "must hold a JSON object"),
    (lambda c: {**c, "modules_to_save": ["head"]}, "could not be loaded onto its base"),
])
def test_malformed_adapter_configs_give_one_line(change, needle, adapter, tmp_path):
    cfg = json.loads((adapter / "adapter_config.json").read_text())
    (adapter / "adapter_config.json").write_text(json.dumps(change(cfg)))
    code, out = run_cli("export", "--model", adapter, "--out", tmp_path / "x.onnx", "--size", "32")
    one_line_error(code, out, needle)


def test_a_corrupt_adapter_file_is_named(adapter, tmp_path):
    (adapter / "adapter_model.safetensors").write_bytes(b"\xff" * 16 + b"{")  # "header too large"
    code, out = run_cli("export", "--model", adapter, "--out", tmp_path / "x.onnx", "--size", "32")
    one_line_error(code, out, "adapter_model.safetensors could not be loaded")


def test_adapter_files_follow_the_umask(adapter):
    mask = os.umask(0)
    os.umask(mask)
    for name in ("adapter_model.safetensors", "adapter_config.json", "e2gan_adapter.json"):
        assert stat.S_IMODE((adapter / name).stat().st_mode) == 0o666 & ~mask, name


def test_a_tampered_checkpoint_falls_back_to_the_one_before_in_one_line(zb, tiny_data, tmp_path):
    import hashlib
    import pickle

    from e2gan.engine.checkpoint import latest

    args = ["train", "--data", tiny_data, "--prompt", "sepia", "--backbone", "e2gan-small", "--size", "32", "--out", tmp_path / "m",
            "--steps", "6", "--batch-size", "2", "--checkpoint-every", "3", "--keep-checkpoints", "3"]
    assert run_cli(*args)[0] == 0
    newest = tmp_path / "m" / "checkpoints" / "step-00000006"
    evil = pickle.dumps(os.system)  # a pickle that would run code: the weights-only loader refuses it
    (newest / "optimizers.pt").write_bytes(evil)
    state = json.loads((newest / "state.json").read_text())
    state["files"]["optimizers.pt"] = hashlib.sha256(evil).hexdigest()  # tampered consistently: the hashes match
    (newest / "state.json").write_text(json.dumps(state))
    from e2gan.student import Student

    G = Student.create("e2gan-small").generator  # what `train --backbone e2gan-small` builds
    opt = torch.optim.Adam(G.parameters())
    before = {k: v.clone() for k, v in G.state_dict().items()}
    with pytest.warns(UserWarning, match="skipping checkpoint .*step-00000006.*UnpicklingError"):
        path, _ = latest(tmp_path / "m", G, None, opt, None)
    assert path.name == "step-00000003" and any(not torch.equal(before[k], v) for k, v in G.state_dict().items())


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "long-line"])
def test_a_manifest_must_be_a_regular_file_of_bounded_lines(kind, zb, tiny_data, tmp_path):
    data = tmp_path / "data1"
    shutil.copytree(tiny_data, data)
    (data / "manifest.jsonl").unlink()
    if kind == "fifo":
        os.mkfifo(data / "manifest.jsonl")
    elif kind == "dev-zero":
        os.symlink("/dev/zero", data / "manifest.jsonl")
    else:
        (data / "manifest.jsonl").write_bytes(b"x" * (3 << 20))
    code, out = run_cli("eval", "--model", zb, "--prompt", "sepia", "--data", data)
    one_line_error(code, out, "manifest.jsonl")
    assert {"fifo": "a FIFO", "dev-zero": "a device", "long-line": "longer than 1024 KB"}[kind] in out


def test_os_errors_are_one_line_naming_the_path_and_the_reason(zb, tiny_data, tmp_path):
    code, out = run_cli("pull", "a" * 5000 + "/b")
    one_line_error(code, out, "more characters")
    (tmp_path / "photos").mkdir()
    from e2gan.testing.tiny import photo

    long = "p" * 240 + ".png"  # with e2gan's temporary prefix and suffix this used to pass the 255-character limit
    photo(0, 40).save(tmp_path / "photos" / long)
    code, out = run_cli("apply", "--model", zb, "--prompt", "sepia", "--input", tmp_path / "photos", "--out", tmp_path / "out")
    assert code == 0, out
    assert (tmp_path / "out" / long).is_file()
    os.symlink(tmp_path / "nowhere", tmp_path / "dangling")
    code, out = run_cli("teach", "--prompt", "sepia", "--images", tmp_path / "photos", "--size", "32", "--out", tmp_path / "dangling")
    one_line_error(code, out, "is a broken symbolic link")


def test_unknown_plugin_settings_list_the_valid_ones(tmp_path):
    code, out = run_cli("teach", "--prompt", "sepia", "--size", "32", "--crops", "2", "--out", tmp_path / "d", "--set", "strength=3")
    one_line_error(code, out, "teacher 'classic' has no setting 'strength'; its settings: batch_size")


@pytest.mark.slow
def test_sigterm_during_teach_says_so_and_a_rerun_finishes(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "e2gan.cli", "teach", "--teacher", "procedural", "--prompt", "pencil, warm", "--crops", "4000", "--size", "64",
           "--out", str(tmp_path / "d")]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 120
    while not (tmp_path / "d" / "manifest.jsonl").exists() or (tmp_path / "d" / "manifest.jsonl").stat().st_size < 2000:
        assert proc.poll() is None and time.time() < deadline, proc.communicate()[0][-2000:]
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    out = proc.communicate(timeout=60)[0]
    assert proc.returncode == 143 and "interrupted by SIGTERM" in out and "rerun the same command" in out
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert done.returncode == 0 and "already present" in done.stdout
