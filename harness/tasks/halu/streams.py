"""Streams of examples and generated strings for one detection episode.

At step t the detector has seen examples e_0..e_t (strings of the hidden
target K; with an informant, strings labelled in or out of K) and is asked
whether the generated string q_t lies in K. The generator G produces q_t:
`faithful` draws it from K, `noisy` from K or (with probability `noise`) from
outside K, `superset` from a language of the collection strictly containing K.

The adversarial stream (Gold 1967) is positive-only and plays against the
detector: it keeps an alternative target A ⊊ G consistent with everything
shown and asks about a string of G outside A. If the detector says "not in
K", it shows that string next (so K must contain it); if it says "in K", it
shows more of A. At the horizon it completes the text with whichever of A or G
makes the detector wrong more often in the final window. On a collection that
is not identifiable from text (gold, regular) A always exists, so every
positive-only detector can be driven wrong; on an identifiable one A runs out.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass
from typing import Sequence

from harness.tasks.halu.collection import Collection
from harness.tasks.halu.languages import Language


@dataclass(frozen=True)
class Example:
    string: str
    label: bool | None  # None on positive-only streams (every example is in K)


@dataclass
class Episode:
    examples: list[Example]  # examples[t] is revealed before queries[t] is asked
    queries: list[str]
    truth: list[bool]  # queries[t] in K
    target: str  # the name of K (after the adversary's completion, if any)
    generator: str  # the name of G


def geometric_index(rng: random.Random, mean: float) -> int:
    """0, 1, 2, ... with P(i) decreasing geometrically and E[i] = mean: every index eventually appears."""
    p = 1.0 / (mean + 1.0)
    return int(math.log(1.0 - rng.random()) / math.log(1.0 - p))


def sample_member(lang: Language, rng: random.Random, mean: float) -> str:
    if lang.finite:
        return rng.choice(list(lang.members()))
    return next(itertools.islice(lang.members(), geometric_index(rng, mean), None))


def sample_outside(lang: Language, rng: random.Random, mean: float, tries: int = 200) -> str | None:
    """A domain string not in `lang`, or None when none turns up (lang is, or nearly is, everything)."""
    for _ in range(tries):
        x = lang.domain.item(geometric_index(rng, mean))
        if not lang.contains(x):
            return x
    return None


def stochastic_episode(
    stream: str, generator: str, target: Language, gen_lang: Language, rng: random.Random, horizon: int, noise: float, mean: float
) -> Episode:
    """Text (i.i.d. members of K) or informant (alternately a member of K and a labelled domain string)."""
    examples, queries = [], []
    for t in range(horizon):
        if stream == "text" or t % 2 == 0:
            x = sample_member(target, rng, mean)
            examples.append(Example(x, None if stream == "text" else True))
        else:
            x = target.domain.item(geometric_index(rng, mean))
            examples.append(Example(x, target.contains(x)))
        if generator == "superset":
            q = sample_member(gen_lang, rng, mean)
        elif generator == "noisy" and rng.random() < noise:
            q = sample_outside(target, rng, mean) or sample_member(target, rng, mean)
        else:
            q = sample_member(target, rng, mean)
        queries.append(q)
    return Episode(examples, queries, [target.contains(q) for q in queries], target.name, gen_lang.name)


@dataclass
class AdversaryState:
    examples: list[Example]
    queries: list[str]
    alternative: Language | None  # A; None once the detector has forced the adversary onto G


def play_adversary(
    collection: Collection, big: Language, answers: Sequence[bool | None], rng: random.Random, mean: float
) -> AdversaryState:
    """Replay the adversary against the detector's answers so far; returns
    len(answers) + 1 examples and queries (the last query is the next to ask).
    Deterministic in its inputs, so each round can rebuild it from scratch."""
    shown: set[str] = set()
    examples: list[Example] = []
    queries: list[str] = []
    alt = collection.sublanguage_below(shown, big)
    for t in range(len(answers) + 1):
        if alt is None:
            x = sample_member(big, rng, mean)
        elif t == 0:
            x = next(alt.members())
        elif answers[t - 1] is False:
            x = queries[t - 1]  # "not in K": show it, so it is in K
        else:  # "in K" (or no answer): show more of A, keeping A possible
            x = next((m for m in itertools.islice(alt.members(), len(shown) + 1) if m not in shown), None)
            x = x if x is not None else next(alt.members())
        examples.append(Example(x, None))
        shown.add(x)
        if alt is not None:
            alt = collection.sublanguage_below(shown, big)
        if alt is None:
            queries.append(sample_member(big, rng, mean))
        else:
            queries.append(big.first_member_not_in(alt, exclude=shown))
    return AdversaryState(examples, queries, alt)


def complete_adversary(state: AdversaryState, big: Language, answers: Sequence[bool | None], window: int) -> Episode:
    """Choose K in {A, G} to maximise the detector's errors in the final window (ties: G)."""
    queries = state.queries[: len(answers)]

    def errors(lang: Language) -> int:
        tail = range(max(0, len(answers) - window), len(answers))
        return sum(answers[t] is None or answers[t] != lang.contains(queries[t]) for t in tail)

    target = big
    if state.alternative is not None and errors(state.alternative) > errors(big):
        target = state.alternative
    return Episode(state.examples[: len(answers)], queries, [target.contains(q) for q in queries], target.name, big.name)
