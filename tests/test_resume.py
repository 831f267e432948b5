"""Checkpoints and exact resume: kill -9 mid-run, rerun the same command, get bit-identical weights."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

# slow tier: CLI subprocesses killed and rerun
pytestmark = [pytest.mark.slow, pytest.mark.numerics]

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1", "HF_HUB_OFFLINE": "1"}


def e2gan(*args, wait=True):
    cmd = [sys.executable, "-m", "e2gan.cli", *map(str, args)]
    if wait:
        return subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=600)
    return subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def kill_after_checkpoint(args, out: Path, step: int, sig=signal.SIGKILL):
    proc = e2gan(*args, wait=False)
    target = out / "checkpoints" / f"step-{step:08d}" / "state.json"
    deadline = time.time() + 300
    while not target.exists():
        if proc.poll() is not None or time.time() > deadline:
            raise AssertionError(f"the run ended before checkpoint {step}: {proc.communicate()}")
        time.sleep(0.05)
    proc.send_signal(sig)
    return proc.communicate(timeout=120), proc.returncode


def weights(folder):
    name = "model.safetensors" if (folder / "model.safetensors").exists() else "adapter_model.safetensors"
    return load_file(str(folder / name))


@pytest.mark.parametrize("command", ["train-base", "finetune"])
def test_sigkill_then_rerun_gives_bit_identical_weights(tmp_path, tiny_data, command):
    common = ["--steps", "40", "--batch-size", "2", "--checkpoint-every", "10", "--seed", "3"]
    if command == "train-base":
        args = lambda out: ["train-base", "--data", tiny_data, "--backbone", "e2gan-small", "--out", out, *common]  # noqa: E731
    else:
        from e2gan.testing import tiny_student

        tiny_student("e2gan-small").save_pretrained(tmp_path / "base")
        args = lambda out: ["finetune", "--base", tmp_path / "base", "--data", tiny_data, "--prompt", "sepia", "--out", out, *common]  # noqa: E731
    res = e2gan(*args(tmp_path / "straight"))
    assert res.returncode == 0, res.stderr
    _, code = kill_after_checkpoint(args(tmp_path / "killed"), tmp_path / "killed", 20)
    assert code == -signal.SIGKILL
    assert not (tmp_path / "killed" / "model.safetensors").exists() and not (tmp_path / "killed" / "adapter_model.safetensors").exists()
    res = e2gan(*args(tmp_path / "killed"))
    assert res.returncode == 0, res.stderr
    assert "resuming from" in res.stdout + res.stderr
    a, b = weights(tmp_path / "straight"), weights(tmp_path / "killed")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_corrupt_checkpoints_are_skipped_and_sigterm_writes_one(tmp_path, tiny_data):
    out = tmp_path / "run"
    args = ["train-base", "--data", tiny_data, "--backbone", "e2gan-small", "--out", out, "--steps", "400", "--batch-size", "2",
            "--checkpoint-every", "10", "--keep-checkpoints", "3"]
    (stdout, stderr), code = kill_after_checkpoint(args, out, 30, sig=signal.SIGTERM)
    assert code == 130 and "checkpoint written" in stderr and "rerun the same command to resume" in stderr
    cks = sorted((out / "checkpoints").glob("step-*"))
    assert len(cks) == 3  # the last K, the signal's own included
    newest = cks[-1]
    w = newest / "generator.safetensors"
    w.write_bytes(w.read_bytes()[:-10])  # truncated: skipped with a message, the one before is used
    from e2gan.engine import checkpoint

    with pytest.warns(UserWarning, match="incomplete or corrupt"):
        path, state = checkpoint.latest(out)
    assert path == cks[-2]
    res = e2gan(*args[:-4], "--steps", "50", "--checkpoint-every", "10", "--no-resume")
    assert res.returncode == 0 and "resuming" not in res.stdout + res.stderr
