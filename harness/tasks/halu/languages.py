"""Languages with a membership oracle and an enumerator, over two domains.

A domain is an enumeration of every string a language may hold: the positive
integers written in decimal ("1", "2", ...) or the nonempty words over {a, b}
in shortlex order ("a", "b", "aa", ...). A language knows whether a string is
in it and lists its members in domain order, possibly forever.
"""

from __future__ import annotations

import itertools
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Iterator


class Domain(ABC):
    name: str

    @abstractmethod
    def item(self, i: int) -> str:
        """The i-th string of the domain (0-based)."""

    @abstractmethod
    def index(self, x: str) -> int | None:
        """Position of `x` in the domain, None if `x` is not a domain string."""

    def items(self) -> Iterator[str]:
        return (self.item(i) for i in itertools.count())


class PositiveIntegers(Domain):
    name = "positive integers"

    def item(self, i: int) -> str:
        return str(i + 1)

    def index(self, x: str) -> int | None:
        if not x.isascii() or not x.isdigit() or x.startswith("0"):
            return None
        return int(x) - 1


class BinaryWords(Domain):
    """Nonempty words over {a, b} in shortlex order: a, b, aa, ab, ba, bb, aaa, ..."""

    name = "nonempty words over {a, b}"

    def item(self, i: int) -> str:
        n = i + 2  # words of length L occupy indices 2^L - 2 .. 2^(L+1) - 3
        length = n.bit_length() - 1
        bits = format(n - (1 << length), f"0{length}b")
        return bits.replace("0", "a").replace("1", "b")

    def index(self, x: str) -> int | None:
        if not x or set(x) - {"a", "b"}:
            return None
        return (1 << len(x)) - 2 + int(x.replace("a", "0").replace("b", "1"), 2)


INTEGERS = PositiveIntegers()
WORDS = BinaryWords()


class Language(ABC):
    """A set of domain strings. `name` is how prompts and logs refer to it."""

    name: str
    domain: Domain
    finite: bool

    @abstractmethod
    def contains(self, x: str) -> bool: ...

    def members(self) -> Iterator[str]:
        """Members in domain order (infinite for infinite languages)."""
        return (x for x in self.domain.items() if self.contains(x))

    def first_member_not_in(self, other: Language, exclude: set[str] = frozenset(), scan: int = 100_000) -> str | None:
        """The first member of self outside `other` and `exclude` within `scan` domain strings."""
        for i in range(scan):
            x = self.domain.item(i)
            if x not in exclude and self.contains(x) and not other.contains(x):
                return x
        return None

    def __repr__(self) -> str:
        return self.name


def _int(x: str) -> int | None:
    i = INTEGERS.index(x)
    return None if i is None else i + 1


@dataclass(frozen=True, repr=False)
class Multiples(Language):
    """{k, 2k, 3k, ...}."""

    k: int
    domain = INTEGERS
    finite = False

    @property
    def name(self) -> str:
        return "all positive integers" if self.k == 1 else f"multiples of {self.k}"

    def contains(self, x: str) -> bool:
        n = _int(x)
        return n is not None and n % self.k == 0

    def members(self) -> Iterator[str]:
        return (str(self.k * j) for j in itertools.count(1))


@dataclass(frozen=True, repr=False)
class Progression(Language):
    """{a, a + d, a + 2d, ...} with a >= 1, d >= 1."""

    a: int
    d: int
    domain = INTEGERS
    finite = False

    @property
    def name(self) -> str:
        return f"{self.a}, {self.a + self.d}, {self.a + 2 * self.d}, ... (start {self.a}, step {self.d})"

    def contains(self, x: str) -> bool:
        n = _int(x)
        return n is not None and n >= self.a and (n - self.a) % self.d == 0

    def members(self) -> Iterator[str]:
        return (str(self.a + self.d * j) for j in itertools.count())


@dataclass(frozen=True, repr=False)
class InitialSegment(Language):
    """{1, ..., n}: the finite languages of Gold's collection."""

    n: int
    domain = INTEGERS
    finite = True

    @property
    def name(self) -> str:
        return f"1..{self.n}"

    def contains(self, x: str) -> bool:
        n = _int(x)
        return n is not None and n <= self.n

    def members(self) -> Iterator[str]:
        return (str(j) for j in range(1, self.n + 1))


@dataclass(frozen=True, repr=False)
class FiniteSet(Language):
    """An explicit finite set of domain strings."""

    strings: frozenset[str]
    domain: Domain
    finite = True

    @property
    def name(self) -> str:
        shown = sorted(self.strings, key=self.domain.index)
        return "{" + ", ".join(shown) + "}"

    def contains(self, x: str) -> bool:
        return x in self.strings

    def members(self) -> Iterator[str]:
        return iter(sorted(self.strings, key=self.domain.index))


@dataclass(frozen=True, repr=False)
class NamedNumberSet(Language):
    """A fixed, well-known infinite set of integers (members of the `finite` collection)."""

    label: str
    kind: str  # key into NUMBER_SETS
    domain = INTEGERS
    finite = False

    @property
    def name(self) -> str:
        return self.label

    def contains(self, x: str) -> bool:
        n = _int(x)
        return n is not None and NUMBER_SETS[self.kind](n)

    def members(self) -> Iterator[str]:
        # The sparse sets are listed directly: filtering the domain for the
        # 30th power of 2 would scan a billion integers.
        if self.kind == "pow2":
            return (str(1 << j) for j in itertools.count())
        if self.kind == "square":
            return (str(j * j) for j in itertools.count(1))
        return super().members()


def _is_prime(n: int) -> bool:
    return n >= 2 and all(n % p for p in range(2, math.isqrt(n) + 1))


NUMBER_SETS = {
    "all": lambda n: True,
    "even": lambda n: n % 2 == 0,
    "odd": lambda n: n % 2 == 1,
    "mult4": lambda n: n % 4 == 0,
    "mult3": lambda n: n % 3 == 0,
    "prime": _is_prime,
    "odd_prime": lambda n: n % 2 == 1 and _is_prime(n),
    "square": lambda n: math.isqrt(n) ** 2 == n,
    "pow2": lambda n: n & (n - 1) == 0,
}
