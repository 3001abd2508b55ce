"""From per-pair verdicts (box i vs gold answer j) to problem scores.

`strict` (ours): a maximum one-to-one matching between boxes and gold answers;
the score is matched gold answers / gold answers. `paper`: the official
formula: each box counts if it matches any gold answer (first match, answers
reusable), score = matched boxes / boxes.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from harness.checker import max_bipartite_matching

UNDECIDED_METHODS = ("verbal", "parse_failure", "undecided", "timeout", "memory_limit", "checker_error")


@dataclass
class PairCheck:
    """How box `box` compared with gold answer `gold`."""

    box: int
    gold: int
    equal: bool | None
    method: str
    detail: str

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ProblemScore:
    matches: dict[int, int]  # gold index -> box index
    answer_fraction: float  # matched gold answers / gold answers
    paper_score: float  # matched boxes / boxes, first match, answers reusable
    paper_matched_boxes: int


def score_problem(n_boxes: int, n_gold: int, checks: list[PairCheck]) -> ProblemScore:
    equal = [[False] * n_boxes for _ in range(n_gold)]
    for c in checks:
        equal[c.gold][c.box] = c.equal is True
    matches = max_bipartite_matching(equal)
    paper_matched = sum(1 for b in range(n_boxes) if any(equal[g][b] for g in range(n_gold)))
    return ProblemScore(
        matches=matches,
        answer_fraction=len(matches) / n_gold if n_gold else 0.0,
        paper_score=paper_matched / n_boxes if n_boxes else 0.0,
        paper_matched_boxes=paper_matched,
    )


def unjudged_gold(n_gold: int, checks: list[PairCheck], matches: dict[int, int]) -> list[int]:
    """Gold answers left unmatched while some check on them was undecided."""
    undecided = {c.gold for c in checks if c.equal is None}
    return [g for g in range(n_gold) if g not in matches and g in undecided]
