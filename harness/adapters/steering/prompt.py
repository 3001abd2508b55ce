"""`prompt`: the guidance in the visible transcript (the baseline MI is measured against)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from harness.adapters.steering.method import (
    SteeringMethod,
    guidance_as_system_text,
    guidance_token_ids,
    prepend_guidance,
    read_guidance,
)
from harness.api import ChatMessage, GuidanceSchedule, HarnessError, Prompt
from harness.registry import register_steering

REMINDER = "Updated guidance: {text}"


@register_steering("prompt")
class PromptSteering(SteeringMethod):
    """Guidance as a system message (chat prompts) or a leading paragraph (text).
    On a guidance shift, `shift=rewrite` replaces the system message (the whole
    transcript is recomputed), `shift=append` keeps it and inserts a visible
    reminder before the message where the shift happens."""

    name = "prompt"

    @dataclass(frozen=True)
    class Args:
        guidance: str = ""
        shift: Literal["rewrite", "append"] = "append"

    def __init__(self, adapter, args):
        super().__init__(adapter, args)
        self.guidance = read_guidance(args.guidance)

    def rewrite(self, prompt: Prompt, schedule: GuidanceSchedule | None) -> Prompt:
        if schedule is None:
            if not self.guidance:
                raise HarnessError("steering prompt needs --steer-arg guidance=TEXT (or @FILE)")
            return prepend_guidance(prompt, self.guidance)
        if isinstance(prompt, str):
            raise HarnessError("a guidance schedule needs a chat prompt")
        if self.args.shift == "rewrite":
            return prepend_guidance(prompt, schedule[-1][1])
        messages = list(prompt)
        for index, text in sorted(schedule[1:], reverse=True):
            messages.insert(index, ChatMessage("system", REMINDER.format(text=text)))
        return prepend_guidance(tuple(messages), schedule[0][1])

    def settings(self) -> dict:
        return {"guidance": self.guidance, "shift": self.args.shift}

    def kv_bytes_added_per_sequence(self) -> int:
        count = self.guidance_token_count()
        return count * self.adapter.kv_bytes_per_token() if count else 0

    def guidance_token_count(self) -> int | None:
        if not self.guidance:
            return None
        return len(guidance_token_ids(self.adapter, self.guidance))

    def transcript_tokens_added(self, schedule: list[tuple[int, str]]) -> int:
        if self.args.shift == "rewrite":
            return 0
        return sum(self.count_tokens(guidance_as_system_text(self.adapter, REMINDER.format(text=t))) for _, t in schedule[1:])
