"""Paired comparison and diff of two entries of one task, on the samples both scored.

The samples of two runs of a task are paired (the same items), so their difference
is tested as paired data, rather than with an unpaired test on the two means: a
paired bootstrap interval of the mean per-sample difference and, for 0/1 scores,
McNemar's exact test and Newcombe's interval (which, unlike the bootstrap, stays
informative when no pair disagrees, and so decides ties for 0/1 scores).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.leaderboards.entries import Entry
from harness.metrics import Metric, mcnemar_exact_p, paired_bootstrap_metric, paired_difference_metric

IGNORED_CONFIG = ("created", "config.output", "config.quiet", "versions.")


@dataclass
class Pair:
    a: Entry
    b: Entry
    n_common: int
    bootstrap: Metric  # mean per-sample score of a minus b on the common scored samples, paired bootstrap interval
    difference: Metric  # the same difference with the interval that decides: Newcombe's for 0/1 scores, else the bootstrap
    mcnemar_p: float | None  # None unless every common score is 0 or 1
    headline_paired: bool  # the headline is the mean per-sample score in both, so `difference` compares headlines
    flipped: list[dict] = field(default_factory=list)  # samples whose verdict differs
    config_diff: list[tuple[str, Any, Any]] = field(default_factory=list)
    versions_diff: list[tuple[str, Any, Any]] = field(default_factory=list)
    data_diff: list[tuple[str, Any, Any]] = field(default_factory=list)

    @property
    def significant(self) -> bool:
        ci = self.difference.ci95
        return ci is not None and (ci[0] > 0 or ci[1] < 0)


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        return {k: v for key, sub in value.items() for k, v in _flatten(sub, f"{prefix}{key}.").items()}
    return {prefix.rstrip("."): value}


def _diff(a: dict, b: dict) -> list[tuple[str, Any, Any]]:
    fa, fb = _flatten(a), _flatten(b)
    return [(k, fa.get(k), fb.get(k)) for k in sorted(set(fa) | set(fb)) if fa.get(k) != fb.get(k)]


def compare(a: Entry, b: Entry) -> Pair:
    ra = {r.id: (r, s) for r, s in zip(a.records, a.statuses)}
    rb = {r.id: (r, s) for r, s in zip(b.records, b.statuses)}
    common = [i for i in ra if i in rb and ra[i][0].error is None and rb[i][0].error is None]
    xs, ys = [ra[i][0].score for i in common], [rb[i][0].score for i in common]
    binary = bool(common) and all(v in (0.0, 1.0) for v in xs + ys)
    flipped = [
        {"id": i, "a": ra[i][1], "b": rb[i][1], "a_score": ra[i][0].score, "b_score": rb[i][0].score}
        for i in ra
        if i in rb and (ra[i][1] != rb[i][1] or ra[i][0].score != rb[i][0].score)
    ]
    config_a = {k: v for k, v in _flatten(a.run.config).items() if not k.startswith(IGNORED_CONFIG)}
    config_b = {k: v for k, v in _flatten(b.run.config).items() if not k.startswith(IGNORED_CONFIG)}
    return Pair(
        a=a,
        b=b,
        n_common=len(common),
        bootstrap=paired_bootstrap_metric(xs, ys),
        difference=paired_difference_metric(xs, ys),
        mcnemar_p=mcnemar_exact_p(xs, ys) if binary else None,
        headline_paired=a.headline_is_sample_mean() and b.headline_is_sample_mean(),
        flipped=flipped,
        config_diff=[d for d in _diff(config_a, config_b) if not d[0].endswith("data_sha256")],
        versions_diff=_diff(a.run.config.get("versions", {}), b.run.config.get("versions", {})),
        data_diff=[(a.task, a.data_sha256, b.data_sha256)] if a.data_sha256 != b.data_sha256 else [],
    )


def mark_best_and_ties(entries: list[Entry], pairs: dict[tuple[str, str], Pair] | None = None) -> None:
    """Within each task and comparison group: the entry with the highest headline is
    best; an entry is tied with it when the paired interval of their difference holds
    0 (where the headline is a mean of per-sample scores), else when their 95%
    intervals overlap. Headlines are taken as higher-is-better. `pairs` (by both key
    orders) are the comparisons already made; the others are made here."""
    for key in {(e.task, e.group) for e in entries}:
        rows = [e for e in entries if (e.task, e.group) == key and isinstance(e.headline_metric.get("value"), (int, float))]
        if not rows:
            continue
        best = max(rows, key=lambda e: e.headline_metric["value"])
        best.best = best.tied_with_best = True
        for e in rows:
            if e is best:
                continue
            pair = (pairs or {}).get((best.key, e.key)) or compare(best, e)
            if pair.headline_paired and pair.n_common:
                e.tied_with_best = not pair.significant
            else:
                ci_best, ci = best.headline_metric.get("ci95"), e.headline_metric.get("ci95")
                e.tied_with_best = bool(ci_best and ci and ci[1] >= ci_best[0])
