"""Task `guidance_shift`: the guidance changes mid-conversation (the trait,
then its opposite); is the model aligned with the guidance in force?

Each conversation replays `turns_before` answered persona questions, then asks
a held-out one. `pre` samples ask it under the first guidance; `post` samples
after the shift. The guidance schedule travels in each request
(a request's `guidance_schedule`: (message_index, text) pairs) and the steering method
delivers it its own way: prompting rewrites the system message or appends a
visible reminder, MI swaps banks without touching the transcript. An
unsteered adapter ignores it, which gives the no-guidance baseline.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal, Sequence

from harness.api import ChatMessage, HarnessError, LoglikelihoodRequest, Response, Sample, Score, SteeringTarget, Task
from harness.metrics import Metric, mean_metric
from harness.record import SampleRecord
from harness.registry import register_task
from harness.tasks.persona.data import TRAITS, guidance_text, split_items
from harness.tasks.persona.scoring import YES_NO
from harness.tasks.persona.task import ANSWER_INSTRUCTION, yes_no_p_match


def _opposite(answer: str) -> str:
    return "No" if answer == "Yes" else "Yes"


@register_task
class GuidanceShiftTask(Task):
    name = "guidance_shift"
    headline = "post_shift_alignment"
    description = "Updateable guidance: alignment with the current guidance before and after a mid-conversation shift"
    requires = frozenset({"loglikelihood"})

    @dataclass(frozen=True)
    class Args:
        trait: Literal[TRAITS] = "agreeableness"  # type: ignore[valid-type]
        first: Literal["toward", "away"] = "toward"
        turns_before: int = 2
        n: int = 50
        split_seed: int = 0
        answer_space: bool = False

        def __post_init__(self):
            if self.turns_before < 1 or self.n < 1:
                raise HarnessError("guidance_shift needs turns_before >= 1 and n >= 1")

    def steering_target(self, n: int) -> SteeringTarget:
        """Guidance comes with each request as a schedule, so there is no single guidance
        text and no contrastive pairs (a CAA vector cannot follow a schedule)."""
        a = self.args
        return SteeringTarget(
            guidance=None,
            control_metric="post_shift_alignment",
            drift_metric="pre_shift_alignment",
            probe_questions=tuple(it.question + ANSWER_INSTRUCTION for it in split_items(a.trait, "train", a.split_seed)[:n]),
            meta={"task": self.name, "trait": a.trait, "split_seed": a.split_seed},
        )

    def guidances(self) -> tuple[str, str]:
        second = "away" if self.args.first == "toward" else "toward"
        return guidance_text(self.args.trait, self.args.first), guidance_text(self.args.trait, second)

    def samples(self):
        a = self.args
        items = split_items(a.trait, "test", a.split_seed)
        history_pool = split_items(a.trait, "train", a.split_seed)
        rng = random.Random(f"shift:{a.trait}:{a.split_seed}")
        first, second = self.guidances()
        for phase in ("pre", "post"):
            for item in items[: a.n]:
                history = rng.sample(history_pool, a.turns_before)
                messages: list[ChatMessage] = []
                for h in history:
                    answer = h.matching if a.first == "toward" else _opposite(h.matching)
                    messages += [ChatMessage("user", h.question + ANSWER_INSTRUCTION), ChatMessage("assistant", answer)]
                schedule = [[0, first]]
                if phase == "post":
                    schedule.append([len(messages), second])
                messages.append(ChatMessage("user", item.question + ANSWER_INSTRUCTION))
                in_force_toward = (a.first == "toward") == (phase == "pre")
                aligned = item.matching if in_force_toward else _opposite(item.matching)
                meta = {"phase": phase, "statement_index": item.index, "aligned": aligned, "guidance_schedule": schedule}
                yield Sample(f"{phase}/{item.index}", tuple(messages), aligned, meta)

    def requests(self, sample: Sample):
        prefix = " " if self.args.answer_space else ""
        schedule = tuple((int(i), str(text)) for i, text in sample.metadata["guidance_schedule"])
        return [
            LoglikelihoodRequest(sample.input, prefix + a, steered=steered, guidance_schedule=schedule if steered else None)
            for steered in (True, False)
            for a in YES_NO
        ]

    def score(self, sample: Sample, responses: Sequence[Response]) -> Score:
        aligned = sample.metadata["aligned"]
        steered, unsteered = yes_no_p_match(responses, aligned)
        fields = {
            "phase": sample.metadata["phase"],
            "p_aligned": steered,
            "p_aligned_unsteered": unsteered,
            "turns_in_transcript": len(sample.input),
        }
        explanation = f"{sample.metadata['phase']}-shift: p({aligned}) = {steered:.4f} with guidance, {unsteered:.4f} without"
        return Score(steered, aligned, explanation, fields)

    def aggregate(self, records: list[SampleRecord]) -> dict[str, Metric]:
        out = {}
        for phase in ("pre", "post"):
            rows = [r for r in records if r.fields["phase"] == phase]
            out[f"{phase}_shift_alignment"] = mean_metric([r.fields["p_aligned"] for r in rows])
            out[f"{phase}_shift_alignment_unsteered"] = mean_metric([r.fields["p_aligned_unsteered"] for r in rows])
            out[f"{phase}_shift_gain"] = mean_metric([r.fields["p_aligned"] - r.fields["p_aligned_unsteered"] for r in rows])
        return out
