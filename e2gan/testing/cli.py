"""Run the ``e2gan`` command in-process as a user's shell would (through ``main``, with its one-line errors)."""

from __future__ import annotations


def run_cli(*args) -> tuple[int, str]:
    """Exit code and stdout + stderr of ``e2gan ARGS``."""
    import contextlib
    import io

    from e2gan.cli import main

    err, out = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code or 0
    return code, out.getvalue() + err.getvalue()
