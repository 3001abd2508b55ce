"""The site's pictures (matplotlib, PNG): each task's headline per row with its 95%
interval; the control-drift plane of a steering task's rows; the curves of a training
run (`harness train` writes `metrics.csv` with a `step` column, and its phases in
`summary.json`)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from harness.leaderboards.entries import Entry


def _figure(width: float, height: float):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt, *plt.subplots(figsize=(width, height), dpi=110)


def _finite(*values) -> bool:
    return all(isinstance(v, (int, float)) and math.isfinite(v) for v in values)


def plot_headlines(rows: list[Entry], path: Path) -> bool:
    """One horizontal bar per row: the headline's value and its 95% interval."""
    rows = [en for en in rows if _finite(en.headline_metric.get("value"))]
    if not rows:
        return False
    plt, fig, ax = _figure(7, 1.2 + 0.35 * len(rows))
    for y, en in enumerate(reversed(rows)):
        m = en.headline_metric
        ci = m.get("ci95")
        err = [[m["value"] - ci[0]], [ci[1] - m["value"]]] if ci else None
        ax.errorbar(m["value"], y, xerr=err, fmt="o", color="#1f5fbf", capsize=3)
    ax.set_yticks(range(len(rows)), [en.label[:60] + f" ({en.group})" for en in reversed(rows)], fontsize=8)
    ax.set_xlabel(f"{rows[0].headline} (95% interval)")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def plot_control_drift(rows: list[Entry], control: str, drift: str, path: Path) -> bool:
    """Each row as a point in the control (up is better) against drift (left is better) plane, with both intervals."""
    points = [(en, en.metrics.get(control, {}), en.metrics.get(drift, {})) for en in rows]
    points = [(en, c, d) for en, c, d in points if _finite(c.get("value"), d.get("value"))]
    if not points:
        return False
    plt, fig, ax = _figure(6.5, 4.5)
    for en, c, d in points:
        xerr = [[d["value"] - d["ci95"][0]], [d["ci95"][1] - d["value"]]] if d.get("ci95") else None
        yerr = [[c["value"] - c["ci95"][0]], [c["ci95"][1] - c["value"]]] if c.get("ci95") else None
        ax.errorbar(d["value"], c["value"], xerr=xerr, yerr=yerr, fmt="o", capsize=3)
        ax.annotate(en.label[:40], (d["value"], c["value"]), fontsize=7, xytext=(4, 4), textcoords="offset points")
    ax.set_xlabel(f"{drift} (drift; lower is better)")
    ax.set_ylabel(f"{control} (control; higher is better)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def is_training_run(folder: Path) -> bool:
    config = folder / "config.json"
    if not (config.exists() and (folder / "metrics.csv").exists()):
        return False
    try:
        return json.loads(config.read_text()).get("kind") == "train"
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False


def plot_training_run(folder: Path, path: Path) -> bool:
    """Every evaluated column of metrics.csv against `step` (the loss on its own axis), phases as vertical lines."""
    with open(folder / "metrics.csv", newline="", encoding="utf-8") as f:
        table = list(csv.DictReader(f))
    if not table or "step" not in table[0]:
        return False
    columns = [c for c in table[0] if c != "step" and c != "loss" and not c.endswith("_seconds")]
    steps = [float(r["step"]) for r in table]
    plt, fig, ax = _figure(8, 4.5)
    for c in columns:
        ax.plot(steps, [float(r[c]) if r[c] not in ("", "nan") else math.nan for r in table], label=c, linewidth=1.2)
    if "loss" in table[0]:
        loss_ax = ax.twinx()
        loss_ax.plot(steps, [float(r["loss"]) if r["loss"] not in ("", "nan") else math.nan for r in table], color="#999", linestyle=":")
        loss_ax.set_ylabel("training loss (dotted)")
    summary = folder / "summary.json"
    phases = json.loads(summary.read_text()).get("phases", {}) if summary.exists() else {}
    for name, phase in phases.items():
        if isinstance(phase, dict) and _finite(phase.get("step")):
            ax.axvline(phase["step"], color="#c43", alpha=0.5)
            ax.text(phase["step"], 1.01, name, color="#c43", fontsize=8, transform=ax.get_xaxis_transform())
    ax.set_xlabel("step")
    ax.set_ylabel("accuracy")
    ax.legend(fontsize=7, loc="center right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True
