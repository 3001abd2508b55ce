"""Shared machinery for tasks that ask a model to judge: a temperature-0 request
that must answer with one JSON object (structured output where the judge
supports it), and a parser that takes the first object the task accepts.
Anything else is "unjudged" with a reason, for the task to count; a verdict is
never read off a substring of free text."""

from __future__ import annotations

import json
from typing import Callable

from harness.api import ChatMessage, GenerateRequest, ResponseFormat


def json_judge_request(system: str, user: str, schema: dict, schema_name: str, max_tokens: int = 256) -> GenerateRequest:
    """A deterministic judge request whose reply must match `schema`."""
    return GenerateRequest(
        prompt=(ChatMessage("system", system), ChatMessage("user", user)),
        max_tokens=max_tokens,
        temperature=0.0,
        seed=0,
        response_format=ResponseFormat(schema_name, json.dumps(schema, sort_keys=True)),
    )


def parse_json_reply(text: str | None, accept: Callable[[dict], bool]) -> tuple[dict | None, str]:
    """(object, "") for the first JSON object in `text` that `accept` takes;
    (None, why) when there is none."""
    if not text:
        return None, "empty judge reply"
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            obj, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            start = text.find("{", start + 1)
            continue
        if isinstance(obj, dict) and accept(obj):
            return obj, ""
        start = text.find("{", start + 1)
    return None, f"judge reply has no JSON verdict: {text[:120]!r}"


def reply_reason(obj: dict) -> str:
    """The judge's one-sentence reason, bounded so a verbose judge cannot bloat records."""
    return str(obj.get("reason", ""))[:300]
