"""Optional LLM judge for answers the symbolic checker cannot decide (words,
unparseable text). Unlike the official judge it sees the question, runs at
temperature 0, and must answer with a JSON object; anything else is "unjudged"."""

from __future__ import annotations

from harness.api import GenerateRequest
from harness.judge import json_judge_request, parse_json_reply, reply_reason

JUDGE_SYSTEM = (
    "You grade final answers to university physics problems. Decide whether the candidate answer states the "
    "same result as the reference answer for this problem: algebraically equivalent expressions, numbers within "
    "1% (or to the reference's significant figures), equivalent units (a missing or wrong unit is wrong), and the "
    "same qualitative conclusion for verbal answers. Hedged or multiple conflicting answers are wrong. "
    'Reply with only a JSON object: {"equivalent": true or false, "reason": "<one sentence>"}.'
)
JUDGE_SCHEMA = {
    "type": "object",
    "properties": {"equivalent": {"type": "boolean"}, "reason": {"type": "string"}},
    "required": ["equivalent", "reason"],
    "additionalProperties": False,
}


def judge_request(question: str, reference: str, candidate: str) -> GenerateRequest:
    user = (
        f"Problem:\n{question}\n\n"
        f"Reference answer (one of the problem's final answers):\n{reference}\n\n"
        f"Candidate answer:\n{candidate}\n\n"
        "Is the candidate answer equivalent to the reference answer? Answer with the JSON object only."
    )
    return json_judge_request(JUDGE_SYSTEM, user, JUDGE_SCHEMA, "verdict")


def parse_judge_reply(text: str | None) -> tuple[bool | None, str]:
    """(verdict, reason) from the first JSON object in the reply with a boolean
    "equivalent"; (None, why) when there is none. Never a substring test for "true"."""
    obj, why = parse_json_reply(text, lambda o: isinstance(o.get("equivalent"), bool))
    if obj is None:
        return None, why
    return obj["equivalent"], reply_reason(obj)
