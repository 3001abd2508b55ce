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


def paper_matched_boxes(whole_part_of_box: dict[int, int], n_gold: int, checks: list[PairCheck]) -> int:
    """Boxes whose whole reading equals some gold answer (the official formula's numerator)."""
    equal = {(c.part, c.gold) for c in checks if c.equal is True}
    return sum(1 for part in whole_part_of_box.values() if any((part, g) in equal for g in range(n_gold)))


def unjudged_gold(n_gold: int, checks: list[PairCheck], matched: set[int]) -> list[int]:
    """Gold answers left unmatched while some check on them was undecided."""
    undecided = {c.gold for c in checks if c.equal is None}
    return [g for g in range(n_gold) if g not in matched and g in undecided]
