"""The documented prompt that lets any language model act as a detector in `halu_limit`.

It lists the examples seen so far (each string once, in order of first
appearance), the labelled negatives when the stream has them, and asks
whether one generated string is in the hidden set. Example (informant stream):

    A hidden set contains some positive integers. Decide from the examples whether a new string belongs to it.
    Strings in the hidden set: 4, 8, 12
    Strings NOT in the hidden set: 2, 5
    Is "16" in the hidden set? Answer Yes or No.
    Answer:

The same information travels structured in the request metadata under
"halu_limit" (collection, positives with repetitions, negatives or None on a
positive-only stream, query), which the `ref:` learners read instead of text.
"""

from __future__ import annotations

from harness.api import GenerateRequest
from harness.tasks.halu.streams import Example

METADATA_KEY = "halu_limit"


def _unique(xs: list[str]) -> list[str]:
    return list(dict.fromkeys(xs))


def detection_prompt(domain_name: str, examples: list[Example], query: str, informant: bool) -> str:
    positives = _unique([e.string for e in examples if e.label is not False])
    lines = [
        f"A hidden set contains some {domain_name}. Decide from the examples whether a new string belongs to it.",
        "Strings in the hidden set: " + (", ".join(positives) or "(none yet)"),
    ]
    if informant:
        negatives = _unique([e.string for e in examples if e.label is False])
        lines.append("Strings NOT in the hidden set: " + (", ".join(negatives) or "(none yet)"))
    lines += [f'Is "{query}" in the hidden set? Answer Yes or No.', "Answer:"]
    return "\n".join(lines)


def detection_request(collection: str, domain_name: str, examples: list[Example], query: str, informant: bool) -> GenerateRequest:
    meta = {
        "collection": collection,
        "positives": [e.string for e in examples if e.label is not False],
        "negatives": [e.string for e in examples if e.label is False] if informant else None,
        "query": query,
    }
    return GenerateRequest(
        prompt=detection_prompt(domain_name, examples, query, informant),
        stop=("\n",),
        max_tokens=8,
        metadata={METADATA_KEY: meta},
    )
