"""The text form of a sequence, for language models, and the answer parser.

`l 20 _ _ e 21 _ _ _ a 31 _ + l a =` is shown to a language model as

    Each letter is a variable and all arithmetic is modulo 59. Reply with the number only.
    l=20, e=21, a=31
    l+a=

(assignments in their order, PADs dropped, the prefix-notation core written
infix). `tokens_from_text` reads that form back for the `assign-add:` model,
putting the PADs first, since their positions are not in the text.
"""

from __future__ import annotations

import re
from typing import Sequence

from harness.tasks.assign_add.generator import EQUAL, FIRST_VAR, MAX_ASSIGNMENTS, MOD, PAD, PLUS, PREFIX_LEN, VAR_NAMES

INSTRUCTION = "Each letter is a variable and all arithmetic is modulo 59. Reply with the number only."

_OPERAND = r"([a-l]|\d{1,2})"
_QUERY = re.compile(rf"(?:^|[\s,]){_OPERAND}\s*\+\s*{_OPERAND}\s*=\s*$")
_ASSIGNMENT = re.compile(r"(?<![A-Za-z0-9])([a-l])\s*=\s*(\d{1,2})(?!\d)")
_INTEGER = re.compile(r"-?\d+", re.ASCII)


def _token_str(token: int) -> str:
    return VAR_NAMES[token - FIRST_VAR] if token >= FIRST_VAR else str(token)


def render_text(tokens: Sequence[int]) -> str:
    prefix = [t for t in tokens[:PREFIX_LEN] if t != PAD]
    pairs = ", ".join(f"{_token_str(v)}={n}" for v, n in zip(prefix[::2], prefix[1::2]))
    lhs, rhs = tokens[PREFIX_LEN + 1], tokens[PREFIX_LEN + 2]
    return f"{INSTRUCTION}\n{pairs}\n{_token_str(lhs)}+{_token_str(rhs)}="


def _operand_token(s: str) -> int:
    if s.isdigit():
        value = int(s)
        if value >= MOD:
            raise ValueError(f"number {value} is not below {MOD}")
        return value
    return FIRST_VAR + VAR_NAMES.index(s)


def tokens_from_text(text: str) -> list[int]:
    """Inverse of `render_text` (PADs placed first). Raises ValueError when the
    text is not in that form."""
    query = _QUERY.search(text)
    if query is None:
        raise ValueError("no 'x+y=' query at the end of the prompt")
    assignments = _ASSIGNMENT.findall(text[: query.start()])
    if not 1 <= len(assignments) <= MAX_ASSIGNMENTS:
        raise ValueError(f"{len(assignments)} assignments; the model takes 1 to {MAX_ASSIGNMENTS}")
    names = [name for name, _ in assignments]
    if len(set(names)) != len(names):
        raise ValueError("a variable is assigned twice")
    prefix = [tok for name, value in assignments for tok in (_operand_token(name), _operand_token(value))]
    core = [PLUS, _operand_token(query.group(1)), _operand_token(query.group(2)), EQUAL]
    return [PAD] * (PREFIX_LEN - len(prefix)) + prefix + core


MAX_ANSWER_DIGITS = 18


def parse_answer(text: str | None) -> int | None:
    """The first integer in a model's reply, or None when there is none (or it
    runs past 18 digits: no such reply is an answer, and int() of thousands of
    digits raises)."""
    if not text:
        return None
    match = _INTEGER.search(text)
    if match is None or len(match.group().lstrip("-")) > MAX_ANSWER_DIGITS:
        return None
    return int(match.group())
