"""Maximum one-to-one matching between two lists (answers to gold answers)."""

from __future__ import annotations

from typing import Sequence


def max_bipartite_matching(allowed: Sequence[Sequence[bool]]) -> dict[int, int]:
    """`allowed[i][j]` says left item i may pair with right item j. Returns a
    maximum set of pairs {left: right}, each side used at most once (Kuhn's
    augmenting paths; the lists here have at most a few dozen items)."""
    right_owner: dict[int, int] = {}

    def augment(i: int, seen: set[int]) -> bool:
        for j, ok in enumerate(allowed[i]):
            if ok and j not in seen:
                seen.add(j)
                if j not in right_owner or augment(right_owner[j], seen):
                    right_owner[j] = i
                    return True
        return False

    for i in range(len(allowed)):
        augment(i, set())
    return {i: j for j, i in right_owner.items()}
