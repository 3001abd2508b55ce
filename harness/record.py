"""One sample's record: a line of samples.jsonl, and what `Task.aggregate` reads.

A record keeps everything needed to score the sample again with no model call
(`harness score`): every response of every round of the model under test and
every call of every model role, beside the verdict. Its layout is versioned by
`schema`; a reader meets older layouts only through `from_json`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.api import Generation, Prompt, Response, Sample, Score, response_to_json
from harness.secrets import redact

RECORD_SCHEMA = 3
"""1: the task's fields at the top level, only the first generation kept.
2: the task's fields under `fields`; `responses` and `role_responses` kept in full.
3: the sample's `input` kept, for reading a run without its task (site, exports)."""

RESPONSES_KEPT_SINCE = 2
"""The first schema that `harness score` can re-score from."""

_TOP_LEVEL = (
    "schema",
    "task",
    "id",
    "score",
    "output",
    "error",
    "answer",
    "explanation",
    "target",
    "input",
    "fields",
    "responses",
    "role_responses",
)


@dataclass
class SampleRecord:
    """The verdict on one sample (`score`, `answer`, `explanation`, the task's own
    `fields`) or the `error` that prevented one, with the responses it was reached from."""

    task: str
    id: str
    score: float
    error: str | None
    answer: Any = None
    explanation: str = ""
    target: Any = None
    output: str | None = None  # the first generation's text, for reading and for `replay:`
    input: str | list[dict] | None = None  # the sample's input: text, or chat turns {"role", "content"}
    fields: dict[str, Any] = field(default_factory=dict)
    responses: list[dict] = field(default_factory=list)
    role_responses: dict[str, list[dict]] = field(default_factory=dict)
    schema: int = RECORD_SCHEMA

    @classmethod
    def of(
        cls,
        task: str,
        sample: Sample,
        responses: list[Response],
        score: Score | None,
        error: str | None,
        role_responses: dict[str, list[dict]] | None = None,
    ) -> SampleRecord:
        texts = [r.text for r in responses if isinstance(r, Generation)]
        stored = [response_to_json(r) for r in responses]
        for d in stored:
            if d.get("error"):
                d["error"] = redact(d["error"])
        return cls(
            task=task,
            id=sample.id,
            score=float(score.value) if score else 0.0,
            error=redact(error) if error else error,
            answer=score.answer if score else None,
            explanation=score.explanation if score else "",
            target=sample.target,
            output=texts[0] if texts else None,
            input=prompt_to_json(sample.input),
            fields=dict(score.fields) if score else {},
            responses=stored,
            role_responses=role_responses or {},
        )

    def to_json(self) -> dict:
        return {
            "schema": self.schema,
            "task": self.task,
            "id": self.id,
            "score": self.score,
            "output": self.output,
            "error": self.error,
            "answer": self.answer,
            "explanation": self.explanation,
            "target": self.target,
            "input": self.input,
            "fields": self.fields,
            "responses": self.responses,
            "role_responses": self.role_responses,
        }

    @classmethod
    def from_json(cls, d: dict) -> SampleRecord:
        schema = int(d.get("schema", 1))
        fields = d.get("fields", {}) if schema >= 2 else {k: v for k, v in d.items() if k not in _TOP_LEVEL}
        return cls(
            task=d["task"],
            id=d["id"],
            score=float(d.get("score", 0.0)),
            error=d.get("error"),
            answer=d.get("answer"),
            explanation=d.get("explanation", ""),
            target=d.get("target"),
            output=d.get("output"),
            input=d.get("input"),
            fields=fields,
            responses=d.get("responses", []),
            role_responses=d.get("role_responses", {}),
            schema=schema,
        )


def prompt_to_json(prompt: Prompt) -> str | list[dict]:
    if isinstance(prompt, str):
        return prompt
    return [{"role": m.role, "content": m.content if isinstance(m.content, str) else list(m.content)} for m in prompt]


def content_text(content: str | list[dict]) -> str:
    """One stored chat turn's content as text; non-text parts as `[image]`."""
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") if p.get("type") == "text" else f"[{p.get('type')}]" for p in content)


def input_text(value: str | list[dict] | None) -> str:
    """A stored input as one readable text: chat turns as `role: content` paragraphs."""
    if value is None or isinstance(value, str):
        return value or ""
    return "\n\n".join(f"{turn.get('role', '?')}: {content_text(turn.get('content', ''))}" for turn in value)
