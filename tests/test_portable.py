"""Nothing of the machine that made them in the files that ship or are committed as results: the zoo (cards, metrics,
configs, scripts), the benchmarks' results, the docs and the README name ``zoo:NAME``, a Hub id or a path relative to
the repository, never an absolute path into someone's checkout or temporary folder."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from e2gan.hub.sources import portable_ref, portable_text, zoo_dir

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("zoo", "benchmarks", "docs", "README.md")
TEXT = (".md", ".json", ".jsonl", ".sh", ".txt", ".toml", ".html")
#: an absolute POSIX path of two or more parts, after a space, a quote, a bracket, = or a backtick; system folders
#: (/dev/null, /usr/bin/chromium, /etc/...) and URL routes (http://host/api/...) are not a machine's files
ABSOLUTE = re.compile(r"(?:^|[\s\"'(=`])(/(?!dev/|proc/|usr/|etc/|api/|bin/|opt/pypi)[A-Za-z0-9._-]+/[A-Za-z0-9._/-]+)")


def _scanned_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files", *SCANNED], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    return [ROOT / f for f in out if f.endswith(TEXT)]


def test_no_absolute_path_in_shipped_files_or_committed_results():
    files = _scanned_files()
    assert len(files) > 100, "the scan must see the zoo and the results"
    found = []
    for path in files:
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            found += [f"{path.relative_to(ROOT)}:{n}: {m}" for m in ABSOLUTE.findall(line)]
    assert not found, "absolute machine paths (write zoo:NAME, a Hub id or a relative path):\n" + "\n".join(found[:20])


@pytest.mark.parametrize("line,hit", [('"model": "/work/main/zoo/x"', True), ("see /tmp/e2gan-own-4au9xynj/fold0", True),
                                      ("`/home/you/adapter`", True), ("2/255 of a level", False), ("zoo:procedural-base", False),
                                      ("ffmpeg -i x -f null /dev/null", False), ("photos/train/a.png", False)])
def test_the_scan_finds_what_it_is_for(line, hit):
    assert bool(ABSOLUTE.search(line)) == hit


def test_portable_names_are_zoo_names_or_relative(tmp_path, monkeypatch):
    assert portable_ref(zoo_dir() / "procedural-base") == "zoo:procedural-base"
    assert portable_ref("zoo:classic-base") == "zoo:classic-base" and portable_ref("org/name") == "org/name"
    (tmp_path / "runs" / "adapter").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert portable_ref(tmp_path / "runs" / "adapter") == "runs/adapter"
    assert portable_ref("/somewhere/else/adapter") == "adapter"
    assert portable_text(f"weights at {Path.home()}/.cache/x") == "weights at ~/.cache/x"


def test_a_card_names_the_zoo_entry_and_plain_peft_loads_it():
    card = (zoo_dir() / "procedural-warm-red-accents" / "README.md").read_text()
    assert "e2gan apply --model zoo:procedural-warm-red-accents" in card
    code = card.split("Plain peft")[1].split("```python\n")[1].split("```")[0]
    ns: dict = {}
    exec("from e2gan.student import Student\n" + code, ns)
    assert type(ns["model"]).__name__ == "PeftModel"
