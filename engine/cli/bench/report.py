"""The README's performance table from `pqw bench --json` output.

python -m engine.cli.bench.report run.jsonl [other-loop-run.jsonl]

The first file gives every row; a second one (the same figures on the other event
loop) adds a column for it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def read(path: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]], list[dict[str, Any]]]:
    run: dict[str, Any] = {}
    figures: dict[str, dict[str, Any]] = {}
    goals: list[dict[str, Any]] = []
    for line in Path(path).read_text().splitlines():
        item = json.loads(line)
        if "run" in item:
            run = item["run"]
        elif "figure" in item:
            figures[item["figure"]] = item
        elif "goal" in item:
            goals.append(item)
    return run, figures, goals


def value(figure: dict[str, Any] | None) -> str:
    if figure is None:
        return "–"
    unit = figure["unit"]
    if unit == "MB":
        return (
            f"{figure['start_mb']:.1f} → {figure['end_mb']:.1f} MB ({figure['growth_pct']:+.1f}%)"
        )
    if unit == "s":
        return f"median {figure['median']:.2f} s, max {figure['max_s']:.2f} s"
    if unit == "ms":
        return f"{figure['median']:,.1f} ms"
    return f"{figure['median']:,.0f} {unit}"


def ratio(figure: dict[str, Any] | None) -> str:
    if figure is None or figure.get("ratio") is None:
        return "–"
    return f"{figure['ratio']:.2f}×"


def table(paths: Sequence[str]) -> str:
    """Rows: each pqw figure, the raw baseline's figure of the same runs, the ratio
    (a second file adds its pqw figure and ratio); then each goal per file."""
    runs = [read(p) for p in paths]
    first = runs[0]
    loops = [r[0]["loop"] for r in runs]
    header = ["figure", f"pqw ({loops[0]})", "raw loop, same runs", "ratio"]
    for loop in loops[1:]:
        header += [f"pqw ({loop})", f"ratio ({loop})"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, figure in first[1].items():
        if name.startswith("raw "):
            continue  # shown next to its pqw figure
        baseline = first[1].get(figure.get("baseline") or "")
        row = [name, value(figure), value(baseline), ratio(figure)]
        for other in runs[1:]:
            row += [value(other[1].get(name)), ratio(other[1].get(name))]
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "| goal | " + " | ".join(loops) + " |", "|" + "---|" * (1 + len(runs))]
    for goal in first[2]:
        row = [goal["goal"]]
        for r in runs:
            same = next((g for g in r[2] if g["goal"] == goal["goal"]), None)
            row.append(
                "–"
                if same is None
                else f"{same['value']:,.2f} {same['unit']}: {'met' if same['met'] else '**not met**'}"
            )
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    paths = list(sys.argv[1:] if argv is None else argv)
    if not paths:
        print("usage: python -m engine.cli.bench.report RUN.jsonl [OTHER.jsonl]", file=sys.stderr)
        return 2
    print(table(paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
