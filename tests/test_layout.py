"""The structure stays as designed: import-linter's contracts (declared once, in pyproject.toml) hold, and they do catch
what they are there for (a lazy import that closes a cycle, the core importing a plugin, a layer importing upwards)."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _lint(config: Path, cwd: Path) -> tuple[int, str]:
    from importlinter.cli import lint_imports

    old = os.getcwd()
    os.chdir(cwd)
    try:
        import contextlib
        import io

        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = lint_imports(config_filename=str(config), no_cache=True)
        return code, out.getvalue()
    finally:
        os.chdir(old)


def test_the_declared_layers_hold():
    code, out = _lint(ROOT / "pyproject.toml", ROOT)
    assert code == 0, out
    assert "3 kept, 0 broken" in out, out


def _package(root: Path, files: dict[str, str]):
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def _contracts_for(pkg: str, plugins: str) -> str:
    """The repository's contracts, renamed onto a throwaway core ``pkg`` and plugin package ``plugins``."""
    import tomllib

    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    lines = [f'[importlinter]\nroot_packages = {pkg}\n    {plugins}\ninclude_external_packages = True\n']
    for i, c in enumerate(cfg["contracts"]):
        lines.append(f"[importlinter:contract:{i}]\nname = {c['name']}\ntype = {c['type']}")
        if c["type"] == "acyclic_siblings":
            lines.append(f"ancestors = {pkg}\n    {plugins}")
        elif c["type"] == "forbidden":
            lines.append(f"source_modules = {pkg}\nforbidden_modules = {plugins}")
        else:
            lines.append(f"containers = {pkg}\nlayers =\n    cli\n    student\n    files")
        lines.append("")
    return "\n".join(lines)


CASES = {
    "a lazy import that closes a cycle": {"core/hub/zoo.py": "def f():\n    from core.hub import publish\n",
                                          "core/hub/publish.py": "from core.hub import zoo\n"},
    "the core importing a plugin": {"core/student.py": "def f():\n    import plug.backbones\n"},
    "a layer importing upwards": {"core/files.py": "def f():\n    from core import student\n"},
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_contracts_catch_what_they_are_for(case, tmp_path, monkeypatch):
    pkg, plugins = f"core{list(CASES).index(case)}", f"plug{list(CASES).index(case)}"
    files = {"core/__init__.py": "", "core/hub/__init__.py": "", "core/hub/zoo.py": "", "core/hub/publish.py": "",
             "core/cli.py": "", "core/student.py": "", "core/files.py": "", "plug/__init__.py": "", "plug/backbones.py": "import core.files\n"}
    files.update(CASES[case])
    _package(tmp_path, {k.replace("core", pkg, 1).replace("plug", plugins, 1):
                        v.replace("core", pkg).replace("plug", plugins) for k, v in files.items()})
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / ".importlinter").write_text(_contracts_for(pkg, plugins))
    code, out = _lint(tmp_path / ".importlinter", tmp_path)
    assert code != 0 and "BROKEN" in out, f"{case} went unnoticed:\n{out}"
    clean = {k: v for k, v in files.items() if k not in CASES[case]}
    clean.update({k: "" for k in CASES[case] if k not in clean})
    _package(tmp_path, {k.replace("core", pkg, 1).replace("plug", plugins, 1):
                        v.replace("core", pkg).replace("plug", plugins) for k, v in clean.items()})
    code, out = _lint(tmp_path / ".importlinter", tmp_path)
    assert code == 0, f"without {case} the throwaway packages should pass:\n{out}"
