"""Regular languages over {a, b}, enumerated by DFA size.

Every DFA with 1, 2 or 3 states (start state 0) is listed in a fixed order;
two DFAs are the same language when they agree on every nonempty word of
length <= 6 (enough for DFAs of at most 3 states: two automata with m and n
states that differ, differ on a word shorter than m + n). The empty language
is left out: no stream can present it.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from typing import Iterator

from harness.tasks.halu.languages import WORDS, Language

MAX_STATES = 3
SIGNATURE_LENGTH = 6
_SIGNATURE_WORDS = (1 << (SIGNATURE_LENGTH + 1)) - 2  # nonempty words of length <= 6


@dataclass(frozen=True, repr=False)
class DFALanguage(Language):
    """The words a DFA accepts. `delta[s]` is (next on 'a', next on 'b')."""

    delta: tuple[tuple[int, int], ...]
    accepting: frozenset[int]
    label: str
    domain = WORDS

    @property
    def name(self) -> str:
        return self.label

    def run(self, word: str) -> int:
        state = 0
        for ch in word:
            state = self.delta[state][ch == "b"]
        return state

    def contains(self, x: str) -> bool:
        return WORDS.index(x) is not None and self.run(x) in self.accepting

    def members(self) -> Iterator[str]:
        """Accepted words in shortlex order, skipping dead branches (a sparse
        language such as a+ would take exponential time by filtering the domain)."""
        n = len(self.delta)
        can = [set(self.accepting)]  # can[k]: states that accept after exactly k more letters
        for length in itertools.count(1):
            if self.finite and length >= n:
                return  # a finite language has no word as long as its number of states
            can.append({s for s in range(n) if self.delta[s][0] in can[-1] or self.delta[s][1] in can[-1]})
            yield from self._words(0, length, "", can)

    def _words(self, state: int, left: int, prefix: str, can: list[set[int]]) -> Iterator[str]:
        if left == 0:
            yield prefix
            return
        for c, letter in ((0, "a"), (1, "b")):
            nxt = self.delta[state][c]
            if nxt in can[left - 1]:
                yield from self._words(nxt, left - 1, prefix + letter, can)

    @functools.cached_property
    def finite(self) -> bool:
        """Finite iff no cycle lies on a path from the start to an accepting state."""
        n = len(self.delta)
        reach = _closure(n, lambda s: self.delta[s])
        coreach = {s for s in range(n) if reach[s] & self.accepting or s in self.accepting}
        live = reach[0] | {0}
        return not any(s in reach[s] for s in live & coreach)

    def includes(self, other: DFALanguage) -> bool:
        """Exact test of other ⊆ self on nonempty words (product automaton search)."""
        seen = set()
        frontier = [(other.delta[0][c], self.delta[0][c]) for c in (0, 1)]
        while frontier:
            pair = frontier.pop()
            if pair in seen:
                continue
            seen.add(pair)
            o, s = pair
            if o in other.accepting and s not in self.accepting:
                return False
            frontier.extend((other.delta[o][c], self.delta[s][c]) for c in (0, 1))
        return True


def _closure(n: int, succ) -> list[set[int]]:
    """reach[s] = states reachable from s by one or more steps."""
    reach = []
    for s in range(n):
        seen, stack = set(), list(succ(s))
        while stack:
            t = stack.pop()
            if t not in seen:
                seen.add(t)
                stack.extend(succ(t))
        reach.append(seen)
    return reach


def _signature(delta, accepting) -> tuple[bool, ...]:
    states = [0]  # state after the empty word; words in shortlex order extend earlier ones
    out = []
    for i in range(_SIGNATURE_WORDS):
        parent = ((i + 2) >> 1) - 1  # position in `states` of the word minus its last letter
        s = delta[states[parent]][i % 2]
        states.append(s)
        out.append(s in accepting)
    return tuple(out)


def _all_dfas() -> Iterator[tuple[tuple[tuple[int, int], ...], frozenset[int]]]:
    for n in range(1, MAX_STATES + 1):
        for flat in itertools.product(range(n), repeat=2 * n):
            delta = tuple((flat[2 * s], flat[2 * s + 1]) for s in range(n))
            for mask in range(1 << n):
                yield delta, frozenset(s for s in range(n) if mask >> s & 1)


@functools.lru_cache(maxsize=1)
def enumerate_regular() -> tuple[DFALanguage, ...]:
    """Distinct nonempty languages of DFAs with at most MAX_STATES states, smallest DFA first."""
    seen = set()
    out = []
    for delta, accepting in _all_dfas():
        sig = _signature(delta, accepting)
        if not any(sig) or sig in seen:
            continue
        seen.add(sig)
        label = _describe(sig, len(out))
        out.append(DFALanguage(delta=delta, accepting=accepting, label=label))
    return tuple(out)


def _describe(sig: tuple[bool, ...], index: int) -> str:
    words = [WORDS.item(i) for i, ok in enumerate(sig[:14]) if ok]
    return f"regular language #{index} (" + ", ".join(words[:6]) + (", ..." if len(words) > 6 or any(sig[14:]) else "") + ")"
