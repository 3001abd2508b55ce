"""Credentials never reach a file or a log: the forms a secret takes in text,
found and replaced before anything is stored or printed."""

from __future__ import annotations

import re
from typing import Any, Iterable

_AUTH_VALUE = re.compile(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9+/=._~-]{6,}")
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@")
_MIN_PIECE = 8  # a cut-off echo of a secret is still a secret from this many characters on


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`text` without URL userinfo, Authorization header values (Bearer, Basic), each of
    `secrets` (4 characters or more), and any piece of 8 or more characters that starts
    one (a message cut short in the middle of an echoed key)."""
    text = _URL_USERINFO.sub(r"\1***@", text)
    text = _AUTH_VALUE.sub(r"\1 ***", text)
    for secret in secrets:
        if not secret or len(secret) < 4:
            continue
        text = text.replace(secret, "***")
        if len(secret) < _MIN_PIECE:
            continue
        start = text.find(secret[:_MIN_PIECE])
        while start != -1:
            end = start + _MIN_PIECE
            while end < len(text) and end - start < len(secret) and text[end] == secret[end - start]:
                end += 1
            text = text[:start] + "***" + text[end:]
            start = text.find(secret[:_MIN_PIECE], start + 3)
    return text


def redact_values(obj: Any) -> Any:
    """The same structure with every string redacted (URL userinfo, auth header values)."""
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, dict):
        return {k: redact_values(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(redact_values(v) for v in obj)
    return obj
