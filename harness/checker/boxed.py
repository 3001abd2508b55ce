"""Find the final answers in a model's output: every \\boxed{...} / \\fbox{...}.

A brace-counting scanner, not a regex, so nesting of any depth is kept whole
(the official PHYSICS regex truncates after two levels).
"""

from __future__ import annotations

import re
from typing import Iterator

_BOX_COMMAND = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_THINK_CLOSE = "</think>"


def final_section(text: str) -> str:
    """The text after the last ``</think>`` when it holds anything, else the whole text.

    Reasoning models box intermediate results while thinking; only the final
    section states the answer. A response cut off inside its reasoning has no
    final section, so it is kept whole rather than scored as empty.
    """
    head, sep, tail = text.rpartition(_THINK_CLOSE)
    if sep and tail.strip():
        return tail
    return text


def unescaped_braces(text: str, start: int = 0) -> Iterator[tuple[int, str]]:
    """(index, "{" or "}") of every brace from `start` on; escaped ones (``\\{``, ``\\}``) do not count."""
    i, n = start, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch in "{}":
            yield i, ch
        i += 1


def braced_group_end(text: str, open_at: int) -> int | None:
    """Index just past the brace group opening at `open_at`, or None if unbalanced."""
    depth = 0
    for i, ch in unescaped_braces(text, open_at):
        depth += 1 if ch == "{" else -1
        if depth == 0:
            return i + 1
    return None


def brace_pairs(text: str) -> dict[int, int]:
    """For every ``{`` that closes, the index just past its ``}``, found in one pass.
    Looking boxes up here keeps reading linear in the text: a response of thousands
    of unclosed boxes costs one scan, not one per box."""
    pairs: dict[int, int] = {}
    opened: list[int] = []
    for i, ch in unescaped_braces(text):
        if ch == "{":
            opened.append(i)
        elif opened:
            pairs[opened.pop()] = i + 1
    return pairs


def extract_boxed(text: str) -> list[str]:
    """Contents of every top-level \\boxed{...} and \\fbox{...} in order (stripped,
    empty ones dropped). ``\\boxed 5`` (one token, no braces) is read too; a box
    inside a box belongs to the outer one; an unclosed box is skipped."""
    found: list[str] = []
    closes = brace_pairs(text)
    pos = 0
    while True:
        m = _BOX_COMMAND.search(text, pos)
        if m is None:
            return found
        i = m.end()
        while i < len(text) and text[i] in " \t":
            i += 1
        if i < len(text) and text[i] == "{":
            end = closes.get(i)
            if end is None:
                pos = m.end()
                continue
            content = text[i + 1 : end - 1].strip()
            pos = end
        else:
            token = re.match(r"[^\s$\\]+", text[i:])
            if token is None or i == m.end():
                pos = m.end()
                continue
            content = token.group(0)
            pos = i + token.end()
        if content:
            found.append(content)
