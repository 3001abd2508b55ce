"""Aggregate metrics with 95% confidence intervals.

Every metric the harness reports goes through here, so every number has an
interval. Bootstrap resampling is seeded, so the same samples always give the
same interval (a resumed run reproduces an uninterrupted one exactly).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Literal, Sequence

import numpy as np

MetricKind = Literal["mean", "proportion", "count", "statistic"]


@dataclass(frozen=True)
class Metric:
    """An aggregate with its 95% confidence interval (None when undefined, e.g. n=0),
    the number of items it is computed over, and its kind: a `count` is a number
    of events out of `n` (its interval is the Wilson interval of the rate, times n)."""

    value: float
    ci95: tuple[float, float] | None
    n: int | None = None
    kind: MetricKind = "mean"

    def to_json(self) -> dict:
        return {"value": self.value, "ci95": list(self.ci95) if self.ci95 is not None else None, "n": self.n, "kind": self.kind}


N_RESAMPLES = 2000
SEED = 20240607


def bootstrap_ci(
    data: Sequence | np.ndarray,
    statistic: Callable[[np.ndarray], float],
    n_resamples: int = N_RESAMPLES,
    seed: int = SEED,
) -> tuple[float, float] | None:
    """Percentile bootstrap over the first axis of `data` (rows are resampled
    together, so paired columns stay paired). None when there is no data."""
    arr = np.asarray(data)
    n = len(arr)
    if n == 0:
        return None
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_resamples, n))
    stats = np.array([statistic(arr[i]) for i in idx], dtype=float)
    stats = stats[np.isfinite(stats)]
    if len(stats) == 0:
        return None
    lo, hi = np.percentile(stats, [2.5, 97.5])
    return float(lo), float(hi)


def mean_metric(values: Sequence[float]) -> Metric:
    """Mean with a bootstrap CI (vectorised for speed). Values that are all 0 or 1
    are a proportion and get the Wilson interval, never degenerate at 0 or 1."""
    arr = np.asarray(values, dtype=float)
    if len(arr) == 0:
        return Metric(float("nan"), None, 0)
    if np.isin(arr, (0.0, 1.0)).all():
        return proportion_metric(int(arr.sum()), len(arr))
    return Metric(float(arr.mean()), _mean_interval(arr), len(arr))


def _mean_interval(arr: np.ndarray) -> tuple[float, float]:
    """The seeded percentile bootstrap interval of a mean, vectorised: all resamples drawn at once."""
    means = arr[np.random.default_rng(SEED).integers(0, len(arr), size=(N_RESAMPLES, len(arr)))].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(lo), float(hi)


def proportion_metric(successes: int, n: int) -> Metric:
    """A proportion with the Wilson score interval (good at 0 and 1, unlike the normal one)."""
    if n == 0:
        return Metric(float("nan"), None, 0, "proportion")
    z = 1.959963984540054
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return Metric(p, (max(0.0, centre - half), min(1.0, centre + half)), n, "proportion")


def count_metric(count: int, n: int) -> Metric:
    """A count of events (parse failures, timeouts) with the Wilson interval of
    its rate scaled back to a count."""
    m = proportion_metric(count, n)
    if m.ci95 is None:
        return Metric(float(count), None, n, "count")
    return Metric(float(count), (m.ci95[0] * n, m.ci95[1] * n), n, "count")


def ratio_metric(successes: Sequence[float], totals: Sequence[float]) -> Metric:
    """sum(successes) / sum(totals) over items that each hold several trials (gold
    answers per problem), bootstrapped over items; at 0 or 1, where every resample
    gives the same ratio, the Wilson interval of the pooled counts instead."""
    rows = np.column_stack([np.asarray(successes, dtype=float), np.asarray(totals, dtype=float)]).reshape(-1, 2)
    hits, trials = rows[:, 0].sum(), rows[:, 1].sum()
    if len(rows) == 0 or trials == 0:
        return Metric(float("nan"), None, len(rows), "proportion")
    if hits in (0, trials):
        wilson = proportion_metric(int(hits), int(trials))
        return Metric(wilson.value, wilson.ci95, len(rows), "proportion")
    return Metric(float(hits / trials), bootstrap_ci(rows, lambda a: a[:, 0].sum() / a[:, 1].sum()), len(rows), "proportion")


def statistic_metric(data: Sequence | np.ndarray, statistic: Callable[[np.ndarray], float]) -> Metric:
    """Any statistic of the rows of `data` with a bootstrap CI (AUROC, F1, ...)."""
    arr = np.asarray(data)
    if len(arr) == 0:
        return Metric(float("nan"), None, 0, "statistic")
    return Metric(float(statistic(arr)), bootstrap_ci(arr, statistic), len(arr), "statistic")


def paired_difference_metric(a: Sequence[float], b: Sequence[float]) -> Metric:
    """Mean of a - b over paired samples (the same samples scored for two runs). For
    0/1 scores, Newcombe's interval for a difference of paired proportions (his
    method 10, from the two Wilson intervals and the pairs' corrected correlation), which stays
    informative when no pair disagrees; otherwise the paired bootstrap (`paired_bootstrap_metric`)."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    n = len(x)
    if n == 0:
        return Metric(float("nan"), None, 0, "mean")
    diff = float((x - y).mean())
    if not (np.isin(x, (0.0, 1.0)).all() and np.isin(y, (0.0, 1.0)).all()):
        return paired_bootstrap_metric(x, y)
    both, only_a = int(((x == 1) & (y == 1)).sum()), int(((x == 1) & (y == 0)).sum())
    only_b, neither = int(((x == 0) & (y == 1)).sum()), int(((x == 0) & (y == 0)).sum())
    p1, p2 = (both + only_a) / n, (both + only_b) / n
    ci1, ci2 = proportion_metric(both + only_a, n).ci95, proportion_metric(both + only_b, n).ci95
    assert ci1 is not None and ci2 is not None
    (l1, u1), (l2, u2) = ci1, ci2
    denom = (both + only_a) * (only_b + neither) * (both + only_b) * (only_a + neither)
    cross = both * neither - only_a * only_b  # the pairs' correlation, continuity-corrected as Newcombe's phi*
    corrected = cross - n / 2 if cross > n / 2 else min(cross, 0)
    phi = corrected / math.sqrt(denom) if denom else 0.0
    lower = math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    upper = math.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2))
    return Metric(diff, (max(-1.0, diff - lower), min(1.0, diff + upper)), n, "mean")


def paired_bootstrap_metric(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> Metric:
    """Mean of a - b over paired samples with the paired percentile bootstrap interval:
    pairs are resampled together, as `scipy.stats.bootstrap(paired=True, method="percentile")`
    does, with the same seeded draws (a test checks the two agree), vectorised."""
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if len(d) < 2:
        return Metric(float(d.mean()) if len(d) else float("nan"), None, len(d), "mean")
    return Metric(float(d.mean()), _mean_interval(d), len(d), "mean")


def mcnemar_exact_p(a: Sequence[float], b: Sequence[float]) -> float:
    """McNemar's exact test for paired 0/1 scores: the two-sided binomial test of the
    discordant pairs against 1/2 (1.0 when no pair disagrees); equal to
    `scipy.stats.binomtest(only_a, only_a + only_b).pvalue`, without importing scipy.stats."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    only_a, only_b = int(((x == 1) & (y == 0)).sum()), int(((x == 0) & (y == 1)).sum())
    n = only_a + only_b
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(only_a, only_b) + 1)) / 2**n
    return min(1.0, 2 * tail)
