"""Re-decide every committed verdict from its stored runs with the current statistics (``e2gan.metrics.stats``), and
rewrite the tables, plots and RESULTS.md: nothing is trained or measured again.

    python -m benchmarks.rerender
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from e2gan.io import atomic_write_json, atomic_write_text

HERE = Path(__file__).parent


def compare_tables(folder: Path) -> int:
    """Every ``compare.json`` under ``folder``: its paired differences and table again."""
    from e2gan.compare import markdown

    done = 0
    for path in sorted(folder.rglob("compare.json")):
        res = json.loads(path.read_text())
        atomic_write_text(path.with_name("compare.md"), markdown(res))
        atomic_write_json(path, res)
        done += 1
    return done


def transfer(folder: Path = HERE / "transfer") -> None:
    from benchmarks.transfer import TransferConfig, analyse, draw, markdown

    stored = json.loads((folder / "transfer.json").read_text())
    fields = {f.name for f in dataclasses.fields(TransferConfig)}
    cfg = TransferConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in stored["config"].items() if k in fields})
    res = analyse(cfg, stored["alone"], stored["runs"])
    draw(stored["runs"], stored["alone"], folder / "transfer.png")
    atomic_write_json(folder / "transfer.json", {"config": stored["config"], "runs": stored["runs"], **res})
    atomic_write_text(folder / "transfer.md", markdown(cfg, res, "transfer.png"))


def ablations(folder: Path = HERE / "procedural_ablations") -> None:
    from benchmarks.plots import claims as draw_claims
    from benchmarks.procedural_ablations import claim_rows, decide, markdown

    res = decide(json.loads((folder / "ablations.json").read_text()))
    atomic_write_json(folder / "ablations.json", res)
    draw_claims(claim_rows(res), folder / "ablations.png", "procedural ablations: ours - other (paired over concepts, seeds averaged)")
    atomic_write_text(folder / "ablations.md", markdown(res, "ablations.png"))


def bases(folder: Path = HERE / "procedural_bases") -> None:
    from benchmarks.plots import claims as draw_claims
    from benchmarks.procedural_bases import decide, markdown

    res = decide(json.loads((folder / "bases.json").read_text()))
    atomic_write_json(folder / "bases.json", res)
    draw_claims([{**c, "label": f"{c['ours']} - {c['other']}"} for c in res["claims"]], folder / "bases.png",
                "bases: representative - other (paired over concepts, seeds averaged)")
    atomic_write_text(folder / "bases.md", markdown(res, res["made"], "bases.png"))


def main() -> None:
    from benchmarks.run import render

    n = compare_tables(HERE)
    transfer()
    ablations()
    bases()
    print(f"re-decided {n} compare tables, the transfer gate and the two procedural ablations; {render(HERE)}")


if __name__ == "__main__":
    main()
