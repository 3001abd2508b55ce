"""`halu_limit`: hallucination detection in the limit (Karbasi et al. 2025, arXiv 2504.17004).

One sample is one episode: a hidden target language K from a collection, a
generator G, a stream of examples and `horizon` detection queries "is q_t in
K?". The detector is any model: the `ref:` learners read the structured
request metadata, a language model reads the prompt of `limit_prompt`.
Non-interactive streams send all queries in one round; the adversarial
stream sends one per round through `followup`, choosing each example against
the detector's previous answer.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence

from harness.api import HarnessError, Response, Sample, Score, Task
from harness.metrics import Metric, count_metric, mean_metric, proportion_metric
from harness.record import SampleRecord
from harness.registry import register_task
from harness.tasks.halu.answers import parse_yes_no
from harness.tasks.halu.collection import Collection, get_collection
from harness.tasks.halu.curves import write_curve
from harness.tasks.halu.limit_prompt import detection_request
from harness.tasks.halu.streams import Episode, complete_adversary, play_adversary, stochastic_episode


@dataclass(frozen=True)
class LimitArgs:
    collection: Literal["multiples", "progressions", "finite", "gold", "regular"] = "gold"
    stream: Literal["text", "adversarial", "informant"] = "text"
    generator: Literal["faithful", "noisy", "superset"] = "superset"
    horizon: int = 100
    episodes: int = 20
    seed: int = 0
    window: int = 0  # final window for final_window_accuracy; 0 = a quarter of the horizon
    noise: float = 0.3  # generator=noisy: probability that a query comes from outside K
    mean_index: float = 8.0  # stochastic streams draw the i-th member with E[i] = mean_index

    def __post_init__(self):
        if not 1 <= self.horizon <= 5000:
            raise ValueError(f"horizon={self.horizon} must be between 1 and 5000")
        if self.episodes < 1:
            raise ValueError(f"episodes={self.episodes} must be at least 1")
        if not 0 <= self.window <= self.horizon:
            raise ValueError(f"window={self.window} must be between 0 (a quarter of the horizon) and horizon={self.horizon}")
        if not 0 < self.noise <= 1:
            raise ValueError(f"noise={self.noise} must be in (0, 1]")
        if self.mean_index <= 0:
            raise ValueError(f"mean_index={self.mean_index} must be positive")
        if self.stream == "adversarial" and self.generator != "superset":
            raise ValueError("stream=adversarial picks K inside the generator's language; use generator=superset")

    @property
    def final_window(self) -> int:
        return self.window or max(1, self.horizon // 4)


@register_task
class HaluLimit(Task):
    name = "halu_limit"
    headline = "final_window_accuracy"
    description = (
        "Hallucination detection in the limit: synthetic language collections, positive-only, adversarial "
        "or informant streams; final-window accuracy, mind changes, last error (arXiv 2504.17004)."
    )
    Args = LimitArgs

    @property
    def collection(self) -> Collection:
        return get_collection(self.args.collection)

    def samples(self):
        a = self.args
        for e in range(a.episodes):
            seed = f"{a.seed}:{a.collection}:{a.stream}:{a.generator}:{e}"
            rng = random.Random(seed + ":languages")
            if a.stream == "adversarial":
                target, gen = None, self.collection.sample_superset_pair(rng)[1]
            elif a.generator == "superset":
                target, gen = self.collection.sample_superset_pair(rng)
            else:
                target = gen = self.collection.sample_target(rng)
            yield Sample(
                id=f"episode-{e:04d}",
                input=f"{a.collection} / {a.stream} / {a.generator}, episode {e}",
                target=None if target is None else self.collection.language(target).name,
                metadata={"target_index": target, "generator_index": gen, "seed": seed},
            )

    # ------------------------------------------------------------ streams

    def _stream_rng(self, sample: Sample) -> random.Random:
        return random.Random(sample.metadata["seed"] + ":stream")

    def _episode(self, sample: Sample) -> Episode:
        a, c, m = self.args, self.collection, sample.metadata
        return stochastic_episode(
            a.stream,
            a.generator,
            c.language(m["target_index"]),
            c.language(m["generator_index"]),
            self._stream_rng(sample),
            a.horizon,
            a.noise,
            a.mean_index,
        )

    def _request(self, examples, query):
        c = self.collection
        return detection_request(c.name, c.domain.name, examples, query, informant=self.args.stream == "informant")

    def requests(self, sample: Sample):
        if self.args.stream == "adversarial":
            return self.followup(sample, [])
        ep = self._episode(sample)
        return [self._request(ep.examples[: t + 1], q) for t, q in enumerate(ep.queries)]

    def followup(self, sample: Sample, responses: Sequence[Response]):
        t = len(responses)
        if self.args.stream != "adversarial" or t >= self.args.horizon:
            return []
        state = play_adversary(self.collection, self._big(sample), _answers(responses), self._stream_rng(sample), self.args.mean_index)
        return [self._request(state.examples, state.queries[t])]

    def _big(self, sample: Sample):
        return self.collection.language(sample.metadata["generator_index"])

    # ------------------------------------------------------------ scoring

    def score(self, sample: Sample, responses: Sequence[Response]) -> Score:
        a = self.args
        answers = _answers(responses)
        if len(answers) != a.horizon:
            raise HarnessError(f"halu_limit expected {a.horizon} answers for {sample.id}, got {len(answers)}; rerun the sample")
        if a.stream == "adversarial":
            big = self._big(sample)
            state = play_adversary(self.collection, big, answers, self._stream_rng(sample), a.mean_index)
            ep = complete_adversary(state, big, answers, a.final_window)
        else:
            ep = self._episode(sample)
        correct = [ans is not None and ans == truth for ans, truth in zip(answers, ep.truth)]
        window = correct[-a.final_window :]
        errors = [t + 1 for t, ok in enumerate(correct) if not ok]
        mind_changes = _mind_changes(ep.queries, answers)
        unparsed = sum(ans is None for ans in answers)
        fwa = sum(window) / len(window)
        return Score(
            value=fwa,
            answer="".join("?" if x is None else "Y" if x else "N" for x in answers),
            explanation=(
                f"K = {ep.target}; G = {ep.generator}; {sum(window)}/{len(window)} correct in the final window, "
                f"{sum(correct)}/{len(correct)} overall; last error at step {errors[-1] if errors else 'none'}; "
                f"{mind_changes} mind changes; {unparsed} answers not Yes/No (counted wrong)"
                + ("; K chosen by the adversary's completion" if a.stream == "adversarial" else "")
            ),
            fields={
                "final_window_accuracy": fwa,
                "overall_accuracy": sum(correct) / len(correct),
                "mind_changes": mind_changes,
                "last_error_step": errors[-1] if errors else 0,
                "parse_failures": unparsed,
                "hidden_target": ep.target,
                "generator_language": ep.generator,
                "correct_by_step": [int(x) for x in correct],
            },
        )

    def aggregate(self, records: list[SampleRecord]) -> dict[str, Metric]:
        n_queries = sum(len(r.fields["correct_by_step"]) for r in records)
        return {
            "final_window_accuracy": mean_metric([r.fields["final_window_accuracy"] for r in records]),
            "converged": proportion_metric(sum(r.fields["final_window_accuracy"] == 1.0 for r in records), len(records)),
            "overall_accuracy": mean_metric([r.fields["overall_accuracy"] for r in records]),
            "mind_changes": mean_metric([r.fields["mind_changes"] for r in records]),
            "last_error_step": mean_metric([r.fields["last_error_step"] for r in records]),
            "parse_failures": count_metric(sum(r.fields["parse_failures"] for r in records), n_queries),
        }

    def write_artifacts(self, records: list[SampleRecord], run_dir: Path) -> None:
        if not records:
            return
        steps = len(records[0].fields["correct_by_step"])
        rows = []
        for t in range(steps):
            hits = [r.fields["correct_by_step"][t] for r in records if len(r.fields["correct_by_step"]) > t]
            m = proportion_metric(sum(hits), len(hits))
            rows.append((t + 1, m.value, m.ci95[0], m.ci95[1], len(hits)))
        a = self.args
        write_curve(
            run_dir / "halu_limit_accuracy_by_t",
            ("t", "accuracy", "ci95_low", "ci95_high", "episodes"),
            rows,
            title=f"halu_limit: {a.collection}, {a.stream} stream, {a.generator} generator",
            xlabel="step t",
            ylabel="detection accuracy at t",
        )


def _answers(responses: Sequence[Response]) -> list[bool | None]:
    return [parse_yes_no(getattr(r, "text", None)) for r in responses]


def _mind_changes(queries: Sequence[str], answers: Sequence[bool | None]) -> int:
    """Times the detector revised its answer about a string it had answered before."""
    last: dict[str, bool] = {}
    changes = 0
    for q, ans in zip(queries, answers):
        if ans is None:
            continue
        if q in last and last[q] != ans:
            changes += 1
        last[q] = ans
    return changes
