"""Countable collections of languages L0, L1, L2, ... for detection in the limit.

Identifiable from positive text (Angluin's tell-tale condition holds):
`multiples`, `progressions`, `finite`. Not identifiable from positive text:
`gold` (every initial segment {1..n} plus all positive integers) and
`regular` (regular languages over {a, b}, which include every finite
language and the set of all words). With labelled negatives (an informant)
every collection here is identifiable by enumeration.
"""

from __future__ import annotations

import functools
import math
import random
from abc import ABC, abstractmethod
from typing import Iterable

from harness.api import HarnessError
from harness.tasks.halu.languages import (
    INTEGERS,
    WORDS,
    Domain,
    FiniteSet,
    InitialSegment,
    Language,
    Multiples,
    NamedNumberSet,
    Progression,
)
from harness.tasks.halu.regular import DFALanguage, enumerate_regular

WINDOW = {INTEGERS.name: 2048, WORDS.name: 510}
"""How many domain strings "size" and inclusion tests look at (words: length <= 8)."""


@functools.cache
def window_members(lang: Language) -> frozenset[str]:
    """Members of `lang` among the first WINDOW domain strings."""
    d = lang.domain
    return frozenset(x for x in map(d.item, range(WINDOW[d.name])) if lang.contains(x))


@functools.cache
def window_subset(small: Language, big: Language) -> bool:
    """small ⊆ big as far as the window shows (exact for the families used here)."""
    if isinstance(small, DFALanguage) and isinstance(big, DFALanguage):
        return big.includes(small)
    return window_members(small) <= window_members(big)


class Collection(ABC):
    name: str
    domain: Domain
    identifiable_from_text: bool
    size: int | None = None  # None: infinite

    @abstractmethod
    def language(self, i: int) -> Language:
        """L_i; IndexError past the end of a finite enumeration."""

    def first(self, n: int) -> list[Language]:
        """L_0 .. L_{n-1} (fewer if the enumeration is shorter)."""
        n = n if self.size is None else min(n, self.size)
        return [self.language(i) for i in range(n)]

    @abstractmethod
    def telltale(self, lang: Language) -> frozenset[str] | None:
        """A finite T ⊆ lang such that no language of the collection lies strictly
        between T and lang (Angluin 1980); None when lang has none."""

    @abstractmethod
    def sample_target(self, rng: random.Random) -> int: ...

    @abstractmethod
    def sample_superset_pair(self, rng: random.Random) -> tuple[int, int]:
        """(K, G) indices with L_G ⊋ L_K: the generator over-generates within the collection."""

    def sublanguage_below(self, shown: set[str], big: Language) -> Language | None:
        """A language of the collection holding every shown string and strictly
        inside `big`, or None: the adversary's alternative target."""
        best = None
        for lang in self.first(256):
            if shown <= window_members(lang) and window_subset(lang, big) and not window_subset(big, lang):
                if best is None or len(window_members(lang)) > len(window_members(best)):
                    best = lang
        return best


def _ints(strings: Iterable[str]) -> list[int]:
    return [int(x) for x in strings]


class MultiplesCollection(Collection):
    name = "multiples"
    domain = INTEGERS
    identifiable_from_text = True

    def language(self, i: int) -> Language:
        return Multiples(i + 1)

    def telltale(self, lang: Language) -> frozenset[str]:
        return frozenset({str(lang.k)})

    def sample_target(self, rng):
        return rng.randint(1, 12) - 1

    def sample_superset_pair(self, rng):
        j, p = rng.randint(1, 5), rng.randint(2, 4)
        return j * p - 1, j - 1

    def sublanguage_below(self, shown, big):
        g = math.gcd(*_ints(shown)) if shown else 2 * big.k
        return Multiples(g) if g != big.k else None


def _cantor(x: int, y: int) -> int:
    return (x + y) * (x + y + 1) // 2 + y


def _uncantor(z: int) -> tuple[int, int]:
    w = (math.isqrt(8 * z + 1) - 1) // 2
    y = z - w * (w + 1) // 2
    return w - y, y


class ProgressionsCollection(Collection):
    name = "progressions"
    domain = INTEGERS
    identifiable_from_text = True

    def language(self, i: int) -> Language:
        x, y = _uncantor(i)
        return Progression(x + 1, y + 1)

    def index(self, a: int, d: int) -> int:
        return _cantor(a - 1, d - 1)

    def telltale(self, lang: Language) -> frozenset[str]:
        return frozenset({str(lang.a), str(lang.a + lang.d)})

    def sample_target(self, rng):
        return self.index(rng.randint(1, 6), rng.randint(1, 5))

    def sample_superset_pair(self, rng):
        a, d = rng.randint(1, 5), rng.randint(1, 4)
        r, s = rng.choice([(r, s) for r in range(4) for s in range(1, 4) if (r, s) != (0, 1)])
        return self.index(a + d * r, d * s), self.index(a, d)

    def sublanguage_below(self, shown, big):
        if not shown:
            return Progression(big.a, 2 * big.d)
        nums = _ints(shown)
        start = min(nums)
        step = math.gcd(*(n - start for n in nums))
        if start != big.a:
            return Progression(start, big.d)
        if step == 0:
            return Progression(start, 2 * big.d)
        return Progression(start, step) if step != big.d else None


class FiniteCollection(Collection):
    """Ten fixed sets of integers: any finite collection is identifiable from text."""

    name = "finite"
    domain = INTEGERS
    identifiable_from_text = True
    MEMBERS = (
        ("all positive integers", "all"),
        ("even numbers", "even"),
        ("odd numbers", "odd"),
        ("multiples of 3", "mult3"),
        ("multiples of 4", "mult4"),
        ("prime numbers", "prime"),
        ("odd prime numbers", "odd_prime"),
        ("perfect squares", "square"),
        ("powers of 2", "pow2"),
        ("1..10", None),
    )
    size = len(MEMBERS)

    def language(self, i: int) -> Language:
        label, kind = self.MEMBERS[i]
        return NamedNumberSet(label, kind) if kind else InitialSegment(10)

    @functools.cache
    def telltale(self, lang: Language) -> frozenset[str]:
        """{min(lang - L) : L in the collection, lang ⊄ L}: any L holding it is not a proper subset."""
        mine = window_members(lang)
        out = set()
        for other in self.first(self.size):
            rest = mine - window_members(other)
            if rest:
                out.add(min(rest, key=INTEGERS.index))
        return frozenset(out)

    def sample_target(self, rng):
        return rng.randrange(self.size)

    @functools.cached_property
    def _pairs(self) -> list[tuple[int, int]]:
        langs = self.first(self.size)
        return [
            (k, g)
            for k in range(self.size)
            for g in range(self.size)
            if k != g and window_subset(langs[k], langs[g]) and not window_subset(langs[g], langs[k])
        ]

    def sample_superset_pair(self, rng):
        return rng.choice(self._pairs)


class GoldCollection(Collection):
    """L0 = all positive integers, L_n = {1..n}: Gold's (1967) non-identifiable family."""

    name = "gold"
    domain = INTEGERS
    identifiable_from_text = False

    def language(self, i: int) -> Language:
        return Multiples(1) if i == 0 else InitialSegment(i)

    def telltale(self, lang: Language) -> frozenset[str] | None:
        return frozenset({str(lang.n)}) if isinstance(lang, InitialSegment) else None

    def sample_target(self, rng):
        return 0 if rng.random() < 0.5 else rng.randint(1, 20)

    def sample_superset_pair(self, rng):
        return rng.randint(1, 20), 0

    def sublanguage_below(self, shown, big):
        top = max(_ints(shown), default=1)
        if isinstance(big, InitialSegment) and top >= big.n:
            return None
        return InitialSegment(top)


class RegularCollection(Collection):
    """Nonempty regular languages over {a, b}; learners search the DFAs of at most 3 states."""

    name = "regular"
    domain = WORDS
    identifiable_from_text = False

    @property
    def size(self) -> int:
        return len(enumerate_regular())

    def language(self, i: int) -> Language:
        return enumerate_regular()[i]

    def telltale(self, lang: Language) -> frozenset[str] | None:
        # Every finite language is regular, so an infinite one has no tell-tale
        # and a finite one is its own.
        return frozenset(lang.members()) if lang.finite else None

    def sample_target(self, rng):
        return rng.randrange(40)

    def sample_superset_pair(self, rng):
        langs = enumerate_regular()
        while True:
            k = rng.randrange(40)
            supersets = [g for g in range(200) if g != k and langs[g].includes(langs[k]) and not langs[k].includes(langs[g])]
            if supersets:
                return k, rng.choice(supersets)

    def sublanguage_below(self, shown, big):
        if big.finite:
            members = set(big.members())
            return FiniteSet(frozenset(shown), WORDS) if shown and set(shown) < members else None
        return FiniteSet(frozenset(shown) or frozenset({next(big.members())}), WORDS)


COLLECTIONS: dict[str, Collection] = {
    c.name: c for c in (MultiplesCollection(), ProgressionsCollection(), FiniteCollection(), GoldCollection(), RegularCollection())
}


def get_collection(name: str) -> Collection:
    if name not in COLLECTIONS:
        raise HarnessError(f"unknown language collection '{name}'; use one of {', '.join(COLLECTIONS)}")
    return COLLECTIONS[name]
