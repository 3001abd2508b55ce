"""A curve with its 95% band, written as CSV and PNG into the run directory."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Sequence


def write_curve(stem: Path, header: Sequence[str], rows: Sequence[Sequence], title: str, xlabel: str, ylabel: str) -> None:
    """Columns 0-3 of each row are x, y, band low, band high (None for no band)."""
    with open(stem.with_suffix(".csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [r[0] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(xs, [r[1] for r in rows], marker="o" if len(rows) <= 20 else None, label=header[1])
    band = [(x, r[2], r[3]) for x, r in zip(xs, rows) if r[2] is not None and r[3] is not None]
    if band:
        ax.fill_between([b[0] for b in band], [b[1] for b in band], [b[2] for b in band], alpha=0.25, label="95% interval")
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(stem.with_suffix(".png"), dpi=100)
    plt.close(fig)
