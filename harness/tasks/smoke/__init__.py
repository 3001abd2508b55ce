"""Two tiny built-in tasks that exercise the core and show how to write a task.

`smoke-gen`: short questions, generation, exact match on a normalised answer.
`smoke-choice`: two-way Yes/No questions scored by comparing log-likelihoods.
"""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Sequence

from harness.api import GenerateRequest, LoglikelihoodRequest, Response, Sample, Score, Task
from harness.io import read_jsonl
from harness.registry import register_task

DATA = Path(__file__).parent / "data"


def prompt_for(question: str) -> str:
    return f"Question: {question}\nAnswer:"


def normalise(text: str) -> str:
    """Lower-case, drop punctuation and extra spaces: ' Paris.' matches 'paris'."""
    text = text.strip().lower().translate(str.maketrans("", "", string.punctuation))
    return re.sub(r"\s+", " ", text)


@register_task
class SmokeGen(Task):
    name = "smoke-gen"
    description = "20 short factual questions; generation scored by exact match (an example task)."

    def samples(self):
        for row in read_jsonl(DATA / "smoke_gen.jsonl"):
            yield Sample(id=row["id"], input=prompt_for(row["question"]), target=row["answer"])

    def requests(self, sample: Sample):
        return [GenerateRequest(prompt=sample.input, stop=("\n", "Question:"), max_tokens=16)]

    def score(self, sample: Sample, responses: Sequence[Response]) -> Score:
        answer = normalise(responses[0].text or "")
        ok = answer == normalise(sample.target)
        return Score(float(ok), answer=answer, explanation=f"exact match after normalisation: {answer!r} vs {normalise(sample.target)!r}")


@register_task
class SmokeChoice(Task):
    name = "smoke-choice"
    description = "20 Yes/No questions scored by log-likelihood of the two answers (an example task)."
    requires = frozenset({"loglikelihood"})

    def samples(self):
        for row in read_jsonl(DATA / "smoke_choice.jsonl"):
            yield Sample(id=row["id"], input=prompt_for(row["question"]), target=row["label"], metadata={"choices": row["choices"]})

    def requests(self, sample: Sample):
        return [LoglikelihoodRequest(context=sample.input, continuation=" " + c) for c in sample.metadata["choices"]]

    def score(self, sample: Sample, responses: Sequence[Response]) -> Score:
        lls = [r.logprob for r in responses]
        chosen = max(range(len(lls)), key=lls.__getitem__)
        choices = sample.metadata["choices"]
        return Score(
            float(chosen == sample.target),
            answer=choices[chosen],
            explanation=f"log-likelihoods {dict(zip(choices, [round(x, 4) for x in lls]))}; highest is {choices[chosen]!r}",
            fields={"logprobs": lls},
        )
