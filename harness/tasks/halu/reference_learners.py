"""Reference detectors for `halu_limit`: classical learners in the limit.

`--model ref:conservative`, `ref:telltale` or `ref:enumeration`. Each reads the
structured view of a detection query (request metadata "halu_limit":
collection, positives, negatives, query), forms a hypothesis about the hidden
language, and answers whether the query is in it. At time t a learner searches
the first t + 32 languages of the collection (the classical schedule that
reaches every language in the limit).

- conservative: the smallest language consistent with the data (fewest
  members in the first window of the domain). Positive text only.
- telltale: Angluin's (1980) learner: the first language L whose tell-tale
  set is among the positives and which holds all of them. Positive text only.
- enumeration: Gold's (1967) learner: the first language consistent with the
  positives and with the labelled negatives when the stream has them.

When no searched language fits, the hypothesis is the finite set of positives.
The answer reads "Yes" or "No", then the hypothesis in brackets.
"""

from __future__ import annotations

from harness.api import GenerateRequest, Generation, HarnessError, ModelAdapter, RequestContext
from harness.registry import register_model
from harness.tasks.halu.collection import Collection, get_collection, window_members
from harness.tasks.halu.languages import FiniteSet, Language
from harness.tasks.halu.limit_prompt import METADATA_KEY

SEARCH_BASE = 32


def _consistent(lang: Language, positives: list[str], negatives: set[str]) -> bool:
    return all(lang.contains(x) for x in positives) and not any(lang.contains(x) for x in negatives)


def hypothesis(learner: str, collection: Collection, positives: list[str], negatives: list[str] | None) -> Language:
    """The learner's guess after seeing `positives` (with repetitions) and `negatives` (None: positive-only stream)."""
    d = collection.domain
    # Check the largest strings first: they rule out small languages fastest.
    distinct = sorted(set(positives), key=lambda x: -(d.index(x) or 0))
    negs = set(negatives or ()) if learner == "enumeration" else set()
    t = len(positives) + len(negatives or ())
    candidates = (L for L in collection.first(t + SEARCH_BASE) if _consistent(L, distinct, negs))
    fallback = FiniteSet(frozenset(distinct), d)
    if learner == "enumeration":
        return next(candidates, fallback)
    if learner == "telltale":
        seen = set(distinct)
        for L in candidates:
            tell = collection.telltale(L)
            if tell is not None and tell <= seen:
                return L
        return hypothesis("conservative", collection, positives, None)
    best = None
    for L in candidates:
        if best is None or len(window_members(L)) < len(window_members(best)):
            best = L
    return best or fallback


@register_model
class ReferenceLearner(ModelAdapter):
    name = "ref"
    description = "Reference detectors for halu_limit: ref:conservative, ref:telltale, ref:enumeration."
    capabilities = frozenset({"generate"})
    LEARNERS = ("conservative", "telltale", "enumeration")

    def __init__(self, target: str, args=None):
        super().__init__(target, args)
        if target not in self.LEARNERS:
            raise HarnessError(f"unknown reference learner 'ref:{target}'; use ref:conservative, ref:telltale or ref:enumeration")

    def _answer(self, request: GenerateRequest) -> Generation:
        meta = request.metadata.get(METADATA_KEY)
        if meta is None:
            raise HarnessError(f"ref:{self.target} only answers halu_limit detection queries; run it with --task halu_limit")
        collection = get_collection(meta["collection"])
        guess = hypothesis(self.target, collection, meta["positives"], meta["negatives"])
        verdict = "Yes" if guess.contains(meta["query"]) else "No"
        return Generation(text=f"{verdict} (hypothesis: {guess.name})", finish_reason="stop")

    def generate(self, requests: list[GenerateRequest], contexts: list[RequestContext]) -> list[Generation]:
        return [self._answer(r) for r in requests]
