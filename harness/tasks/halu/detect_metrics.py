"""Detection statistics over rows of [label, score] or [label, prediction] (label 1 = hallucinated).

Written with numpy rather than scikit-learn because the bootstrap calls them
thousands of times; tests check them against scikit-learn.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def auroc(rows: np.ndarray) -> float:
    """P(score of a hallucinated item > score of a correct one), ties counting half."""
    labels, scores = rows[:, 0] == 1, rows[:, 1].astype(float)
    n_pos, n_neg = labels.sum(), (~labels).sum()
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def auprc(rows: np.ndarray) -> float:
    """Average precision of the hallucination class (the step-wise area, as scikit-learn computes it)."""
    labels, scores = rows[:, 0] == 1, rows[:, 1].astype(float)
    n_pos = labels.sum()
    if n_pos == 0:
        return float("nan")
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], labels[order]
    last_of_tie = np.r_[s[1:] != s[:-1], True]  # one threshold per distinct score
    tp = np.cumsum(y)[last_of_tie]
    fp = np.cumsum(~y)[last_of_tie]
    precision = tp / (tp + fp)
    recall_gain = np.diff(np.r_[0, tp]) / n_pos
    return float((precision * recall_gain).sum())


def f1(rows: np.ndarray) -> float:
    labels, pred = rows[:, 0] == 1, rows[:, 1] == 1
    tp = (labels & pred).sum()
    denom = 2 * tp + (~labels & pred).sum() + (labels & ~pred).sum()
    return float(2 * tp / denom) if denom else float("nan")


def balanced_accuracy(rows: np.ndarray) -> float:
    labels, pred = rows[:, 0] == 1, rows[:, 1] == 1
    if labels.all() or not labels.any():
        return float("nan")
    return float(((labels & pred).sum() / labels.sum() + (~labels & ~pred).sum() / (~labels).sum()) / 2)
