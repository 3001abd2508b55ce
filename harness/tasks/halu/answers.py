"""Reading a Yes/No verdict out of free text, shared by both halu tasks."""

from __future__ import annotations

import re

_LEADING = re.compile(r"^[\s\W_]*(yes|no|true|false)\b", re.IGNORECASE)
_ANYWHERE = re.compile(r"\b(yes|no)\b", re.IGNORECASE)
_MEANING = {"yes": True, "true": True, "no": False, "false": False}


def parse_yes_no(text: str | None) -> bool | None:
    """True for Yes, False for No, None when the text does not say which.

    The first word decides ("No, because ..." is No, "**Yes**" is Yes); failing
    that, a text that uses exactly one of the words ("The answer is yes.")
    counts; a text with both or neither is a parse failure, never a guess."""
    if not text:
        return None
    m = _LEADING.match(text)
    if m:
        return _MEANING[m.group(1).lower()]
    found = {w.lower() for w in _ANYWHERE.findall(text)}
    return _MEANING[found.pop()] if len(found) == 1 else None
