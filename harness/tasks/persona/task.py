"""Task `persona`: does steering move a personality trait (control) without
moving the rest of the model (drift)?

Every sample asks "Is the following statement something you would say?" and
reads p(matching) = p(match) / (p(Yes) + p(No)) from log-likelihoods, steered
and unsteered (the unsteered reference goes to the same model as requests with
`steered=False`, which an unsteered adapter ignores: its deltas are then
exactly 0). Control samples are the trait's test statements; drift
samples are other traits' test statements. The first `n_neutral` control
samples also carry a neutral prompt: a continuation is sampled from the
unsteered model and scored under both, giving a KL(base || steered) estimate.
With a `judge` model role (`--model-role judge=SPEC`) those samples also generate
greedily from the neutral prompt, steered and unsteered, and the judge rates both
continuations' coherence.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Literal, Sequence

from harness.api import (
    ChatMessage,
    GenerateRequest,
    HarnessError,
    Loglikelihood,
    LoglikelihoodRequest,
    ModelRole,
    Response,
    Sample,
    Score,
    SteeringTarget,
    Task,
)
from harness.metrics import Metric, count_metric, mean_metric
from harness.record import SampleRecord
from harness.registry import register_task
from harness.tasks.persona.coherence import coherence_request, parse_coherence_reply
from harness.tasks.persona.data import TRAITS, contrastive_pairs, guidance_text, neutral_prompts, split_items
from harness.tasks.persona.scoring import YES_NO, kl_per_token, p_match

# Positions of the coherence generations (steered, unsteered) among a neutral sample's responses.
COHERENCE_SIDES = (5, 6)
ANSWER_INSTRUCTION = "\nAnswer Yes or No."


def question_prompt(question: str) -> tuple[ChatMessage, ...]:
    return (ChatMessage("user", question + ANSWER_INSTRUCTION),)


def yes_no_requests(prompt, answer_space: bool) -> list[LoglikelihoodRequest]:
    """[steered Yes, steered No, unsteered Yes, unsteered No]."""
    prefix = " " if answer_space else ""
    return [LoglikelihoodRequest(prompt, prefix + a, steered=steered) for steered in (True, False) for a in YES_NO]


def yes_no_p_match(responses: Sequence[Loglikelihood], matching: str) -> tuple[float, float]:
    """(steered, unsteered) p(matching) from the four responses of `yes_no_requests`."""
    lp = [r.logprob for r in responses[:4]]
    if any(v is None for v in lp):
        raise ValueError("a Yes/No log-likelihood is missing")
    return p_match(lp[0], lp[1], matching), p_match(lp[2], lp[3], matching)


@register_task
class PersonaTask(Task):
    name = "persona"
    headline = "control"
    control_drift = ("control", "drift_kl")
    description = "Personality steering: p(matching) on a trait's held-out statements (control) vs other traits and neutral-text KL (drift)"
    requires = frozenset({"loglikelihood", "generate"})

    @dataclass(frozen=True)
    class Args:
        trait: Literal[("all", *TRAITS)] = "agreeableness"
        direction: Literal["toward", "away"] = "toward"
        split: Literal["test", "train"] = "test"
        split_seed: int = 0
        n: int = 100
        n_drift: int = 20
        n_neutral: int = 16
        neutral_tokens: int = 16
        answer_space: bool = False
        coherence_tokens: int = 48

        def __post_init__(self):
            for name in ("n", "n_drift", "n_neutral", "neutral_tokens", "coherence_tokens"):
                if getattr(self, name) < 0:
                    raise HarnessError(f"persona {name} must be 0 or more, got {getattr(self, name)}")
            if self.n == 0:
                raise HarnessError("persona n must be at least 1")

    roles = (
        ModelRole(
            "judge",
            "rates the coherence of steered and unsteered generations from neutral prompts",
            requires=frozenset({"generate", "structured_output"}),
        ),
    )

    def bind_roles(self, models) -> None:
        if "judge" in models and (self.args.n_neutral == 0 or self.args.coherence_tokens == 0):
            raise HarnessError(
                "the persona judge rates generations from the neutral prompts: set n_neutral and coherence_tokens to 1 or more"
            )
        super().bind_roles(models)

    def steering_target(self, n: int) -> SteeringTarget:
        a = self.args
        if a.trait == "all":
            raise HarnessError("persona trait=all has no single guidance; pass --guidance TEXT or a single trait")
        return SteeringTarget(
            guidance=guidance_text(a.trait, a.direction),
            control_metric=self.control_drift[0],
            drift_metric=self.control_drift[1],
            probe_questions=tuple(it.question + ANSWER_INSTRUCTION for it in split_items(a.trait, "train", a.split_seed)[:n]),
            contrastive_pairs=tuple(contrastive_pairs(a.trait, a.direction, "train", a.split_seed, n)),
            meta={"task": self.name, "trait": a.trait, "direction": a.direction, "split_seed": a.split_seed},
        )

    def steered_traits(self) -> tuple[str, ...]:
        return TRAITS if self.args.trait == "all" else (self.args.trait,)

    def samples(self):
        a = self.args
        neutral = neutral_prompts()[: a.n_neutral]
        k = 0
        for trait in self.steered_traits():
            for item in split_items(trait, a.split, a.split_seed)[: a.n]:
                meta = {"kind": "control", "trait": trait, "statement_index": item.index, "matching": item.matching}
                if k < len(neutral):
                    meta.update(neutral_id=k, neutral_prompt=neutral[k])
                k += 1
                yield Sample(f"{trait}/{item.index}", question_prompt(item.question), item.matching, meta)
        if a.trait != "all":
            for trait in TRAITS:
                if trait == a.trait:
                    continue
                for item in split_items(trait, a.split, a.split_seed)[: a.n_drift]:
                    meta = {"kind": "drift", "trait": trait, "statement_index": item.index, "matching": item.matching}
                    yield Sample(f"drift/{trait}/{item.index}", question_prompt(item.question), item.matching, meta)

    def _first_round(self, sample: Sample) -> int:
        """Responses of the first round: 4 Yes/No; + the KL continuation; + steered
        and unsteered coherence generations (with a judge). The 2 KL scores follow."""
        if "neutral_prompt" not in sample.metadata:
            return 4
        return 7 if self.role("judge") else 5

    def requests(self, sample: Sample):
        reqs: list = yes_no_requests(sample.input, self.args.answer_space)
        if "neutral_prompt" in sample.metadata:
            seed = int(hashlib.sha256(sample.metadata["neutral_prompt"].encode()).hexdigest()[:8], 16)
            prompt = (ChatMessage("user", sample.metadata["neutral_prompt"]),)
            reqs.append(GenerateRequest(prompt, max_tokens=self.args.neutral_tokens, temperature=1.0, seed=seed, steered=False))
            if self.role("judge"):
                reqs += [GenerateRequest(prompt, max_tokens=self.args.coherence_tokens, temperature=0.0, steered=s) for s in (True, False)]
        return reqs

    def followup(self, sample: Sample, responses: Sequence[Response]):
        if "neutral_prompt" not in sample.metadata or len(responses) != self._first_round(sample):
            return []
        continuation = responses[4].text or ""
        if not continuation:
            return []
        prompt = (ChatMessage("user", sample.metadata["neutral_prompt"]),)
        return [LoglikelihoodRequest(prompt, continuation, steered=s) for s in (False, True)]

    def score(self, sample: Sample, responses: Sequence[Response]) -> Score:
        matching = sample.metadata["matching"]
        try:
            steered, unsteered = yes_no_p_match(responses, matching)
        except ValueError as e:
            return Score(0.0, None, f"unscored: {e}", {"p_match": None, "unscored": True, **self._fields(sample)})
        fields = {
            **self._fields(sample),
            "p_match": steered,
            "p_match_unsteered": unsteered,
            "delta": steered - unsteered,
            "unscored": False,
        }
        explanation = f"p({matching}) / (p(Yes) + p(No)) = {steered:.4f} steered, {unsteered:.4f} unsteered"
        first = self._first_round(sample)
        if len(responses) == first + 2:
            kl, n_tokens = kl_per_token(responses[first], responses[first + 1])
            fields.update(kl_per_token=kl, kl_tokens=n_tokens)
            explanation += f"; neutral prompt {sample.metadata['neutral_id']}: KL estimate {kl:.4f} nats/token over {n_tokens} tokens"
        elif "neutral_prompt" in sample.metadata:
            fields.update(kl_per_token=None, kl_tokens=0)
            explanation += "; neutral continuation was empty, no KL"
        return Score(steered, "Yes" if (steered > 0.5) == (matching == "Yes") else "No", explanation, fields)

    def score_batch(self, samples: Sequence[Sample], responses: Sequence[Sequence[Response]]) -> list[Score]:
        scores = [self.score(s, r) for s, r in zip(samples, responses)]
        if self.role("judge"):
            scores = self._judge_coherence(samples, responses, scores)
        return scores

    def _judge_coherence(self, samples, responses, scores: list[Score]) -> list[Score]:
        """One judge round for every sample's steered and unsteered neutral generations."""
        todo = [i for i, s in enumerate(samples) if "neutral_prompt" in s.metadata]
        if not todo:
            return scores
        judge = self.role("judge")
        requests, sample_ids = [], []
        for i in todo:
            for side in COHERENCE_SIDES:
                requests.append(coherence_request(samples[i].metadata["neutral_prompt"], responses[i][side].text or ""))
                sample_ids.append(samples[i].id)
        replies = judge.generate(requests, sample_ids)  # a failing judge answers with errors: unjudged, counted
        out = list(scores)
        for n, i in enumerate(todo):
            ratings, reasons = [], []
            for reply in replies[2 * n : 2 * n + 2]:
                rating, reason = parse_coherence_reply(reply.text if reply.error is None else None)
                ratings.append(rating)
                reasons.append(f"judge error: {reply.error}" if reply.error is not None else reason)
            steered, unsteered = ratings
            unjudged = steered is None or unsteered is None
            fields = {
                "coherence_steered": steered,
                "coherence_unsteered": unsteered,
                "coherence_delta": None if unjudged else steered - unsteered,
                "coherence_unjudged": unjudged,
                "coherence_reasons": {"steered": reasons[0], "unsteered": reasons[1]},
                "coherence_texts": {name: responses[i][side].text or "" for name, side in zip(("steered", "unsteered"), COHERENCE_SIDES)},
            }
            verdict = (
                ("unjudged: " + "; ".join(r for r, v in zip(reasons, ratings) if v is None))
                if unjudged
                else f"{steered:g} steered vs {unsteered:g} unsteered"
            )
            s = scores[i]
            out[i] = replace(s, explanation=f"{s.explanation}; coherence by {judge.spec}: {verdict}", fields={**s.fields, **fields})
        return out

    @staticmethod
    def _fields(sample: Sample) -> dict:
        m = sample.metadata
        return {"kind": m["kind"], "trait": m["trait"], "statement_index": m["statement_index"], "matching": m["matching"]}

    def aggregate(self, records: list[SampleRecord]) -> dict[str, Metric]:
        sign = 1.0 if self.args.direction == "toward" else -1.0
        scored = [r for r in records if not r.fields.get("unscored")]
        control = [r for r in scored if r.fields["kind"] == "control"]
        drift = [r for r in scored if r.fields["kind"] == "drift"]
        kls = [r.fields["kl_per_token"] for r in control if r.fields.get("kl_per_token") is not None]
        metrics = {
            "p_match": mean_metric([r.fields["p_match"] for r in control]),
            "p_match_unsteered": mean_metric([r.fields["p_match_unsteered"] for r in control]),
            # Positive when the trait moved the instructed way (toward: up, away: down).
            "control": mean_metric([sign * r.fields["delta"] for r in control]),
            "drift_other_traits": mean_metric([abs(r.fields["delta"]) for r in drift]),
            "drift_kl": mean_metric(kls),
            "unscored": count_metric(len(records) - len(scored), len(records)),
        }
        if self.role("judge"):
            rated = [r for r in records if "coherence_unjudged" in r.fields]
            judged = [r for r in rated if not r.fields["coherence_unjudged"]]
            # Negative when steering made free generations less coherent.
            metrics["drift_coherence"] = mean_metric([r.fields["coherence_delta"] for r in judged])
            metrics["coherence_steered"] = mean_metric([r.fields["coherence_steered"] for r in judged])
            metrics["coherence_unsteered"] = mean_metric([r.fields["coherence_unsteered"] for r in judged])
            metrics["coherence_unjudged"] = count_metric(len(rated) - len(judged), len(rated))
        for trait in sorted({r.fields["trait"] for r in control}) if self.args.trait == "all" else ():
            metrics[f"control_{trait}"] = mean_metric([sign * r.fields["delta"] for r in control if r.fields["trait"] == trait])
        return metrics
