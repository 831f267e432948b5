"""Every Python snippet in the README and docs/ runs as written (one namespace per file, in order)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SNIPPETS = [(f, re.findall(r"```python\n(.*?)```", f.read_text(), flags=re.S)) for f in FILES]


@pytest.mark.parametrize("path,blocks", [s for s in SNIPPETS if s[1]], ids=lambda v: v.name if isinstance(v, Path) else "")
def test_python_snippets_run(path, blocks, tmp_path, capsys):
    cwd = os.getcwd()
    os.chdir(tmp_path)  # snippets must not depend on where they run, nor write into the repository
    try:
        ns: dict = {"__name__": f"snippet_{path.stem}"}
        for i, code in enumerate(blocks):
            exec(compile(code, f"{path.name}[python block {i + 1}]", "exec"), ns)
    finally:
        os.chdir(cwd)
    for name, fn in list(ns.items()):  # the snippets' own test functions (docs/plugins.md's three lines) pass too
        if name.startswith("test_") and callable(fn):
            fn()


def test_the_readme_snippet_prints_what_its_comments_say(capsys):
    path, blocks = SNIPPETS[0]
    exec(compile(blocks[0], "README.md", "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "['e2gan', 'e2gan-large', 'e2gan-small']" and out[1] == "(512, 512)"


def test_the_readme_zoo_table_is_the_catalogue():
    """Every row of the README's zoo table says what zoo/catalogue.json measured (PSNRs, verdict, full-size mode)."""
    import json

    cat = json.loads((ROOT / "zoo" / "catalogue.json").read_text())["concepts"]
    rows = [line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("| `zoo:") and line.count("|") == 9]
    assert len(rows) == len(cat)
    for line in rows:
        cells = [c.strip() for c in line.strip("|").split("|")]
        e = cat[cells[0].strip("`")[4:]]
        m = e["metrics"]
        assert [float(c) for c in cells[3:6]] == [m["psnr"], m["identity_psnr"], m["base_psnr"]], line
        assert cells[6].strip("*") == m["verdict"] and cells[7] == e.get("full_res", {}).get("mode", "guided"), line
