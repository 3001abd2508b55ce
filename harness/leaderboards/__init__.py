"""Aggregate run directories into a leaderboard: one row per model and
steering configuration, one column per task metric with its 95% interval,
written as CSV, Markdown and a self-contained HTML page.

Reads only what runs wrote to disk (config.json, results.json), never live objects.
"""

from __future__ import annotations

import csv
import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.api import HarnessError
from harness.io import markdown_cell
from harness.store import CONFIG, RESULTS, read_json


@dataclass
class Cell:
    value: float
    ci95: list[float] | None
    n: int

    def text(self) -> str:
        ci = f" [{self.ci95[0]:.3f}, {self.ci95[1]:.3f}]" if self.ci95 else ""
        return f"{self.value:.3f}{ci}"


@dataclass
class Row:
    model: str
    steering: str  # "none" or "method key=value ..."
    cells: dict[str, Cell] = field(default_factory=dict)  # "task/metric" -> Cell
    runs: list[str] = field(default_factory=list)


@dataclass
class Leaderboard:
    rows: list[Row]
    columns: list[str]


def steering_label(steering: dict | None) -> str:
    if not steering:
        return "none"
    settings = steering.get("settings") or {}
    parts = [f"{k}={v}" for k, v in sorted(settings.items()) if v not in (None, "", [], {})]
    return " ".join([steering.get("method", "?"), *parts])


def build_leaderboard(run_dirs: list[Path]) -> Leaderboard:
    rows: dict[tuple[str, str], Row] = {}
    columns: list[str] = []
    for d in run_dirs:
        d = Path(d)
        if not (d / RESULTS).exists():
            raise HarnessError(f"{d} has no {RESULTS}; pass run directories written by `harness eval` (finished runs)")
        results = read_json(d / RESULTS)
        config = read_json(d / CONFIG) if (d / CONFIG).exists() else {}
        model = results.get("model") or config.get("model", {}).get("spec", "?")
        steering = results.get("steering") or config.get("model", {}).get("steering")
        key = (model, steering_label(steering))
        row = rows.setdefault(key, Row(model=key[0], steering=key[1]))
        row.runs.append(str(d))
        for task, t in results.get("tasks", {}).items():
            for metric, m in t.get("metrics", {}).items():
                col = f"{task}/{metric}"
                if col not in columns:
                    columns.append(col)
                if m.get("value") is not None:
                    row.cells[col] = Cell(float(m["value"]), m.get("ci95"), int(t.get("n", 0)))
    return Leaderboard(rows=sorted(rows.values(), key=lambda r: (r.model, r.steering)), columns=columns)


def to_csv(board: Leaderboard, path: Path) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        header = ["model", "steering"]
        for c in board.columns:
            header += [c, f"{c} ci95_lo", f"{c} ci95_hi", f"{c} n"]
        w.writerow(header)
        for r in board.rows:
            line: list[Any] = [r.model, r.steering]
            for c in board.columns:
                cell = r.cells.get(c)
                interval: list[Any] = list(cell.ci95) if cell and cell.ci95 else ["", ""]
                line += [cell.value, *interval, cell.n] if cell else ["", "", "", ""]
            w.writerow(line)


def to_markdown(board: Leaderboard, title: str) -> str:
    esc = markdown_cell
    lines = [f"# {esc(title)}", "", "Each cell: value [95% interval].", ""]
    lines.append("| model | steering | " + " | ".join(esc(c) for c in board.columns) + " |")
    lines.append("|---|---|" + "---|" * len(board.columns))
    for r in board.rows:
        cells = [r.cells[c].text() if c in r.cells else "" for c in board.columns]
        lines.append(f"| {esc(r.model)} | {esc(r.steering)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def to_html(board: Leaderboard, title: str) -> str:
    e = html.escape
    head = "".join(f"<th>{e(c)}</th>" for c in ["model", "steering", *board.columns])
    body = []
    for r in board.rows:
        tds = [f"<td>{e(r.model)}</td>", f"<td>{e(r.steering)}</td>"]
        for c in board.columns:
            cell = r.cells.get(c)
            tds.append(f'<td title="n={cell.n}">{e(cell.text())}</td>' if cell else "<td></td>")
        body.append("<tr>" + "".join(tds) + "</tr>")
    style = (
        "body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}"
        "th,td{border:1px solid #ccc;padding:4px 8px;text-align:left}th{background:#f4f4f4}"
    )
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{e(title)}</title><style>{style}</style></head>'
        f"<body><h1>{e(title)}</h1><p>Each cell: value [95% interval].</p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></body></html>\n"
    )


def write_leaderboard(board: Leaderboard, output: Path, title: str = "harness leaderboard") -> list[Path]:
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    paths = [output / "leaderboard.csv", output / "leaderboard.md", output / "leaderboard.html", output / "leaderboard.json"]
    to_csv(board, paths[0])
    paths[1].write_text(to_markdown(board, title))
    paths[2].write_text(to_html(board, title))
    paths[3].write_text(
        json.dumps(
            {
                "columns": board.columns,
                "rows": [
                    {"model": r.model, "steering": r.steering, "runs": r.runs, "cells": {c: vars(v) for c, v in r.cells.items()}}
                    for r in board.rows
                ],
            },
            indent=2,
        )
    )
    return paths
