"""Spectra to files: spectra.json (everything), summary.csv (one row per spectrum),
eigenvalues.csv (every eigenvalue, long form), spectra.png (log-log spectra per
layer, one curve per model) and, for several models, trajectory.png (tail
exponent with its 95% interval and effective rank against training step)."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path
from typing import Iterator, Sequence

from harness.spectra.analysis import ModelSpectra, SpectraReport
from harness.spectra.estimate import Spectrum

GRADIENT = "gradient"
SUMMARY_FIELDS = (
    "model",
    "step",
    "kind",
    "layer",
    "dimension",
    "samples",
    "loss",
    "loss_ci95_low",
    "loss_ci95_high",
    "top1_share",
    "head_share",
    "tail_exponent",
    "tail_ci95_low",
    "tail_ci95_high",
    "fit_from",
    "fit_to",
    "fit_r2",
    "effective_rank",
    "effective_rank_ci95_low",
    "effective_rank_ci95_high",
)


def spectra_rows(results: Sequence[ModelSpectra]) -> Iterator[tuple[ModelSpectra, str, str, int, Spectrum]]:
    """(model, kind, layer, samples behind it, spectrum) for every spectrum measured."""
    for r in results:
        for layer, spectrum in r.activations.items():
            yield r, "activation", str(layer), r.vectors[layer], spectrum
        if r.gradient is not None:
            yield r, GRADIENT, "params", len(r.gradient.eigenvalues), r.gradient


def summary_row(r: ModelSpectra, kind: str, layer: str, samples: int, s: Spectrum) -> dict:
    tail, erank = s.tail, s.effective_rank_ci95
    return {
        "model": r.label,
        "step": r.step,
        "kind": kind,
        "layer": layer,
        "dimension": r.gradient_size if kind == GRADIENT else len(s.eigenvalues),
        "samples": samples,
        "loss": r.loss.value,
        "loss_ci95_low": r.loss.ci95[0] if r.loss.ci95 else None,
        "loss_ci95_high": r.loss.ci95[1] if r.loss.ci95 else None,
        "top1_share": s.head_share[0] if s.head_share else None,
        "head_share": sum(s.head_share),
        "tail_exponent": tail.exponent if tail else None,
        "tail_ci95_low": tail.ci95[0] if tail and tail.ci95 else None,
        "tail_ci95_high": tail.ci95[1] if tail and tail.ci95 else None,
        "fit_from": tail.fit_range[0] if tail else None,
        "fit_to": tail.fit_range[1] if tail else None,
        "fit_r2": tail.r2 if tail else None,
        "effective_rank": s.effective_rank,
        "effective_rank_ci95_low": erank[0] if erank else None,
        "effective_rank_ci95_high": erank[1] if erank else None,
    }


def write_outputs(report: SpectraReport, output: Path) -> list[Path]:
    """Write every file into `output` (created); returns their paths."""
    output.mkdir(parents=True, exist_ok=True)
    results = report.models
    rows = list(spectra_rows(results))
    paths = [output / "spectra.json", output / "summary.csv", output / "eigenvalues.csv", output / "spectra.png"]
    document = dataclasses.asdict(report)
    paths[0].write_text(json.dumps(document, indent=1) + "\n")
    with paths[1].open("w", newline="") as f:
        summary = csv.DictWriter(f, SUMMARY_FIELDS)
        summary.writeheader()
        summary.writerows(summary_row(*row) for row in rows)
    with paths[2].open("w", newline="") as f:
        long_form = csv.writer(f)
        long_form.writerow(["model", "step", "kind", "layer", "rank", "eigenvalue"])
        for r, kind, layer, _, s in rows:
            long_form.writerows([r.label, r.step, kind, layer, k, v] for k, v in enumerate(s.eigenvalues, start=1))
    _plot_spectra(rows, paths[3])
    if len(results) > 1:
        paths.append(output / "trajectory.png")
        _plot_trajectory(results, rows, paths[4])
    return paths


def _panels(rows) -> list[tuple[str, str]]:
    return list(dict.fromkeys((kind, layer) for _, kind, layer, _, _ in rows))


def _title(kind: str, layer: str) -> str:
    return "per-sample gradients" if kind == GRADIENT else f"activations, layer {layer}"


def _plot_spectra(rows, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = _panels(rows)
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), squeeze=False)
    models = list(dict.fromkeys(r.label for r, *_ in rows))
    colours = plt.get_cmap("viridis")
    for ax, (kind, layer) in zip(axes[0], panels):
        for r, k, l, _, s in rows:
            if (k, l) != (kind, layer):
                continue
            i = models.index(r.label)
            values = [v for v in s.eigenvalues if v > 0]
            label = f"step {r.step}" if r.step is not None else Path(r.label).name
            ax.loglog(range(1, len(values) + 1), values, color=colours(i / max(len(models) - 1, 1)), lw=1.2, label=label)
            if s.tail is not None and len(models) == 1:
                ax.axvspan(*s.tail.fit_range, color="0.9", zorder=0, label=f"fit: exponent {s.tail.exponent:.2f}")
        ax.set(title=_title(kind, layer), xlabel="rank", ylabel="eigenvalue")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_trajectory(results: Sequence[ModelSpectra], rows, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r.step for r in results]
    use_steps = all(s is not None for s in steps) and len(set(steps)) == len(steps)
    position: dict[str, int] = {r.label: (r.step if use_steps and r.step is not None else i) for i, r in enumerate(results)}
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for kind, layer in _panels(rows):
        chosen = sorted(((position[r.label], s) for r, k, l, _, s in rows if (k, l) == (kind, layer)), key=lambda p: p[0])
        x = [p for p, _ in chosen]
        tails = [(p, s.tail) for p, s in chosen if s.tail is not None]
        (line,) = left.plot([p for p, _ in tails], [t.exponent for _, t in tails], marker="o", ms=3, label=_title(kind, layer))
        bounded = [(p, t.ci95) for p, t in tails if t.ci95 is not None]
        if bounded:
            left.fill_between(
                [p for p, _ in bounded], [c[0] for _, c in bounded], [c[1] for _, c in bounded], color=line.get_color(), alpha=0.2
            )
        right.plot(x, [s.effective_rank for _, s in chosen], marker="o", ms=3, color=line.get_color(), label=_title(kind, layer))
    xlabel = "training step" if use_steps else "model"
    left.set(xlabel=xlabel, ylabel="tail exponent (95% interval)", title="power-law tail")
    right.set(xlabel=xlabel, ylabel="effective rank", title="effective rank", yscale="log")
    for ax in (left, right):
        if use_steps and min(position.values()) > 0:
            ax.set_xscale("log")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
