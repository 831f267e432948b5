"""The HTML report: image grids, loss curves and result tables, in one self-contained folder."""

from __future__ import annotations

import html
from pathlib import Path

from e2gan.io import atomic_save_figure, atomic_write_text


def loss_curves(logs: dict[str, list[dict]], path, key: str = "l1") -> None:
    """One line per run of ``key`` against step (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.4), dpi=110)
    for name, log in logs.items():
        if log:
            ax.plot([r["step"] for r in log], [r[key] for r in log], label=name)
    ax.set_xlabel("step")
    ax.set_ylabel(f"{key} loss to the teacher")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    atomic_save_figure(fig, path)


def table(rows: list[dict], columns: list[str], fmt: dict | None = None) -> str:
    fmt = fmt or {}
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = ""
    for r in rows:
        cells = ""
        for c in columns:
            v = r.get(c, "")
            if isinstance(v, float):
                v = format(v, fmt.get(c, ".3g"))
            cells += f"<td>{html.escape(str(v))}</td>"
        body += f"<tr>{cells}</tr>"
    return f"<table><tr>{head}</tr>{body}</table>"


STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}img{max-width:100%}
.note{color:#555;font-size:90%}code{background:#f3f3f3;padding:1px 4px}
"""


def write_report(path, title: str, sections: list[tuple[str, str]]) -> Path:
    """``sections``: (heading, html body) pairs."""
    body = "".join(f"<h2>{html.escape(h)}</h2>\n{b}\n" for h, b in sections)
    page = f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>\n{body}</body></html>\n"
    atomic_write_text(path, page)
    return Path(path)
