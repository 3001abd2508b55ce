"""`harness steer compare`: methods over strength sweeps, as run directories
(which `harness leaderboard` reads), a control-against-drift table (CSV,
Markdown) and a plot with prompting as a point and sweeps as curves."""

from __future__ import annotations

import csv
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from harness.api import HarnessError
from harness.io import markdown_cell

METHODS = ("none", "prompt", "caa", "mi")
DEFAULT_SWEEPS = {"caa": {"multiplier": ["-1", "1", "2"]}, "mi": {"layers": ["all"], "strength": ["0"]}}


@dataclass
class Point:
    """One steered (or unsteered) configuration to run."""

    method: str
    steer_args: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        if self.method == "none":
            return "none"
        shown = {k: v for k, v in self.steer_args.items() if k not in ("guidance", "vector", "bank")}
        suffix = "_".join(f"{k}{v}" for k, v in sorted(shown.items()))
        return re.sub(r"[^A-Za-z0-9_.,-]+", "-", f"{self.method}_{suffix}" if suffix else self.method)


def parse_sweeps(specs: tuple[str, ...] | list[str]) -> dict[str, dict[str, list[str]]]:
    """`caa.multiplier=0.5,1,2` -> {"caa": {"multiplier": ["0.5", "1", "2"]}}. Values
    separated by `;` when they contain commas (`mi.layers=0-1;0,2`)."""
    out: dict[str, dict[str, list[str]]] = {}
    for spec in specs:
        key, sep, values = spec.partition("=")
        method, dot, arg = key.partition(".")
        if not sep or not dot or method not in METHODS[1:] or not values:
            raise HarnessError(f"--sweep '{spec}' is not METHOD.ARG=V1,V2 with METHOD one of prompt, caa, mi")
        split = values.split(";") if ";" in values else values.split(",")
        out.setdefault(method, {})[arg] = [v.strip() for v in split if v.strip()]
    return out


def plan_points(methods: list[str], sweeps: dict, fixed: dict[str, dict[str, str]]) -> list[Point]:
    """Every method's sweep grid (cartesian product of its swept args), plus fixed args."""
    points = []
    for method in methods:
        if method not in METHODS:
            raise HarnessError(f"unknown method '{method}' in --methods; use {', '.join(METHODS)}")
        if method == "none":
            points.append(Point("none"))
            continue
        grid = dict(DEFAULT_SWEEPS.get(method, {}))
        grid.update(sweeps.get(method, {}))
        keys = sorted(grid)
        for values in itertools.product(*(grid[k] for k in keys)) if keys else [()]:
            args = dict(fixed.get(method, {}))
            args.update(dict(zip(keys, values)))
            points.append(Point(method, args))
    return points


def run_point(point: Point, model: str, model_args: dict, task: str, task_args: dict, output: Path, limit: int | None, seed: int) -> dict:
    from harness.runner import RunConfig, run_eval

    config = RunConfig(
        model=model,
        tasks=[task],
        task_args=dict(task_args),
        model_args=dict(model_args),
        output=output,
        limit=limit,
        seed=seed,
        steer=None if point.method == "none" else point.method,
        steer_args=dict(point.steer_args) if point.method != "none" else {},
        overwrite=True,
    )
    return run_eval(config).results


def table_rows(points: list[Point], results: list[dict], task: str) -> list[dict]:
    rows = []
    for point, res in zip(points, results):
        metrics = res["tasks"][task]["metrics"]
        steering = res.get("steering") or {}
        row = {
            "label": point.label,
            "method": point.method,
            "settings": json.dumps({k: v for k, v in point.steer_args.items() if k not in ("guidance",)}, sort_keys=True),
            "n": res["tasks"][task]["n"],
        }
        for name, m in metrics.items():
            row[name] = m["value"]
            ci = m.get("ci95")
            row[f"{name}_ci_lo"], row[f"{name}_ci_hi"] = ci if ci else (None, None)
        for key in (
            "kv_bytes_added_per_sequence",
            "kv_bytes_prompting_equivalent",
            "latency_ms_per_token",
            "latency_ms_per_token_unsteered",
        ):
            row[key] = steering.get(key)
        rows.append(row)
    return rows


def write_csv(rows: list[dict], path: Path) -> None:
    columns = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def _fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def markdown_table(rows: list[dict], x: str, y: str) -> str:
    """Control and drift side by side, with intervals."""
    head = [
        "run",
        "method",
        "settings",
        y,
        f"{y} 95% CI",
        x,
        f"{x} 95% CI",
        "KV bytes added",
        "KV bytes (prompting)",
        "ms/token",
        "ms/token unsteered",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:

        def ci(m: str, r: dict = r) -> str:
            return f"[{_fmt(r.get(m + '_ci_lo'))}, {_fmt(r.get(m + '_ci_hi'))}]" if r.get(m + "_ci_lo") is not None else ""

        cells = [
            markdown_cell(r["label"]),
            r["method"],
            markdown_cell(r["settings"]),
            _fmt(r.get(y)),
            ci(y),
            _fmt(r.get(x)),
            ci(x),
            _fmt(r.get("kv_bytes_added_per_sequence")),
            _fmt(r.get("kv_bytes_prompting_equivalent")),
            _fmt(r.get("latency_ms_per_token")),
            _fmt(r.get("latency_ms_per_token_unsteered")),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot_tradeoff(rows: list[dict], x: str, y: str, path: Path, title: str) -> None:
    """Control (y) against drift (x): none and prompt as points, sweeps as curves."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    markers = {"caa": ("o-", 6), "mi": ("s-", 6), "none": ("X", 11), "prompt": ("*", 15)}  # points drawn over curves
    for method in ("caa", "mi", "none", "prompt"):
        pts = [r for r in rows if r["method"] == method and r.get(x) is not None and r.get(y) is not None]
        if not pts:
            continue
        xs, ys = [r[x] for r in pts], [r[y] for r in pts]
        style, size = markers[method]
        ax.plot(xs, ys, style, label=method, markersize=size, alpha=0.85)
        for r in pts:
            if method in ("caa", "mi"):
                ax.annotate(r["label"].removeprefix(method + "_"), (r[x], r[y]), fontsize=6, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel(f"drift: {x}")
    ax.set_ylabel(f"control: {y}")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
