"""From per-pair verdicts (answer part vs gold answer) to problem scores.

`strict` (ours): the maximum one-to-one matching between the answer parts the
reader found (harness.checker.reading) and the gold answers; the score is
matched gold answers / gold answers. `paper`: the official formula over whole
boxes: each box counts if it matches any gold answer (answers reusable),
score = matched boxes / boxes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class PairCheck:
    """How answer part `part` (from box `box`) compared with gold answer `gold`."""

    part: int
    box: int
    gold: int
    equal: bool | None
    method: str
    detail: str

    def to_json(self) -> dict:
        return asdict(self)


def paper_matched_boxes(unsplit_parts: list[list[int]], checks: list[PairCheck]) -> int:
    """Boxes (given by the part indices of their unsplit readings: whole, and as
    written) that equal some gold answer: the official formula's numerator."""
    equal = {c.part for c in checks if c.equal is True}
    return sum(any(part in equal for part in parts) for parts in unsplit_parts)


def unjudged_gold(n_gold: int, checks: list[PairCheck], matched: set[int]) -> list[int]:
    """Gold answers left unmatched while some check on them was undecided."""
    undecided = {c.gold for c in checks if c.equal is None}
    return [g for g in range(n_gold) if g not in matched and g in undecided]


def decided_without_judge(n_gold: int, checks: list[PairCheck], matched: dict[int, str], unjudged: list[int]) -> int:
    """Gold answers whose verdict needed no judge: matched by a checker method, or
    rejected with every check decided by the checker."""
    judged = {c.gold for c in checks if c.method == "judge"}
    return sum((matched[g] != "judge") if g in matched else (g not in unjudged and g not in judged) for g in range(n_gold))
