"""What every steering method provides to the wrapper, and the pieces they share.

A method is built once for a loaded hf adapter; the wrapper asks it to
rewrite prompts (prompting) and/or to be `active()` around each model call
(KV banks, activation hooks). Requests that carry a `guidance_schedule`
((message_index, text) pairs, used by `guidance_shift`) get the guidance in
force delivered the method's own way.
"""

from __future__ import annotations

import dataclasses
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar, Iterator

from harness.api import ChatMessage, GuidanceSchedule, HarnessError, Prompt

REQUIRED_ADAPTER_INTERFACE = (
    "model",
    "tokenizer",
    "render",
    "decoder_layers",
    "add_layer_hook",
    "set_attention_implementation",
    "kv_bytes_per_token",
)


def check_local_model(adapter: Any) -> None:
    missing = [name for name in REQUIRED_ADAPTER_INTERFACE if not hasattr(adapter, name)]
    if missing:
        raise HarnessError(
            f"steering needs a local hf: model (model '{getattr(adapter, 'name', adapter)}' has no {missing[0]}); use --model hf:PATH"
        )


def read_guidance(value: str, what: str = "guidance") -> str:
    """Guidance text, or `@path` to read it from a file."""
    if value.startswith("@"):
        path = Path(value[1:])
        if not path.is_file():
            raise HarnessError(f"{what} file {path} does not exist; pass text or @FILE")
        value = path.read_text(encoding="utf-8")
    return value.strip()


def guidance_as_system_text(adapter: Any, guidance: str) -> str:
    """The text the guidance adds at the start of a prompted conversation: what
    rendering (system guidance, user turn) adds over rendering the user turn alone."""
    probe = (ChatMessage("user", "Hello."),)
    alone = adapter.render(probe)
    full = adapter.render(prepend_guidance(probe, guidance))
    if full.endswith(alone):
        return full[: len(full) - len(alone)]
    raise HarnessError(
        "this chat template does not render a system message as a prefix of the conversation; use --steer prompt or build the bank from a plain-text guidance"
    )


def guidance_token_ids(adapter: Any, guidance: str) -> list[int]:
    """Token ids of the guidance as it opens a prompt (with BOS when plain prompts get one)."""
    specials = not getattr(adapter, "uses_chat_template", False)
    return adapter.tokenizer(guidance_as_system_text(adapter, guidance), add_special_tokens=specials)["input_ids"]


def prepend_guidance(prompt: Prompt, guidance: str) -> Prompt:
    """Prompting: the guidance as a system message (chat) or a leading paragraph (text)."""
    if isinstance(prompt, str):
        return guidance + "\n\n" + prompt
    return (ChatMessage("system", guidance),) + tuple(prompt)


class SteeringMethod:
    name: ClassVar[str] = ""
    Args: ClassVar[type]

    def __init__(self, adapter: Any, args: Any):
        check_local_model(adapter)
        self.adapter = adapter
        self.args = args

    def rewrite(self, prompt: Prompt, schedule: GuidanceSchedule | None) -> Prompt:
        return prompt

    @contextmanager
    def active(self, schedule: GuidanceSchedule | None = None) -> Iterator[None]:
        yield

    def settings(self) -> dict:
        return {k: v for k, v in dataclasses.asdict(self.args).items()}

    def content_hash(self) -> str:
        """A hash of what the method injects beyond its settings (bank or vector contents)."""
        return ""

    def kv_bytes_added_per_sequence(self) -> int:
        return 0

    def guidance_token_count(self) -> int | None:
        """Tokens content-matched prompting would put in the transcript (None: no text)."""
        return None

    def transcript_tokens_added(self, schedule: list[tuple[int, str]]) -> int:
        """Tokens the method writes into the visible transcript to deliver a
        guidance schedule's shifts (0: the transcript is never touched)."""
        return 0

    def count_tokens(self, text: str) -> int:
        return len(self.adapter.tokenizer(text, add_special_tokens=False)["input_ids"])
