"""Which boxed formula answers which regime.

Models box their answers in several ways: one box holding a list per regime
(`\\boxed{[y_small, y_large]}`), one box per regime labelled in the text
("for large ε the roots are \\boxed{...} and for small ε \\boxed{...}"), or
a worked solution boxing every intermediate result. We read the final
boxes: a regime word just before a box labels it; otherwise the order the
question asks for (small before large) decides."""
from __future__ import annotations

import re

from harness.checker.boxed import extract_boxed, final_section
from harness.checker.latex import split_top_level

# Regimes whose answer is a list of values (roots) rather than one formula.
LIST_REGIMES = {"roots"}
_REGIME_WORDS = (("very_large", re.compile(r"very\s+large|ε\s*≫|\\gg")), ("small", re.compile(r"small")), ("large", re.compile(r"large")))
_LIST_OPEN = re.compile(r"^\s*(?:[A-Za-z]\s*=\s*)?(?:\\left\s*)?\[")


class AnswerError(ValueError):
    """No final answer could be located for a regime."""


def _strip_brackets(item: str) -> str:
    s = re.sub(r"^\s*[A-Za-z]\s*=\s*", "", item.strip())  # "x = [...]"
    s = re.sub(r"^\\left\s*\[", "[", s)
    s = re.sub(r"\\right\s*\]\s*$", "]", s)
    if s.startswith("[") and s.endswith("]"):
        s = s[1:-1]
    return s.strip()


def split_items(box: str) -> list[str]:
    """Top-level comma/semicolon items of a box, outer list brackets removed."""
    inner = _strip_brackets(box)
    inner = re.sub(r"\\(?:quad|qquad|text\{\s*and\s*\})", ",", inner)
    inner = re.sub(r"\\\s", " ", inner)
    return [q for p in split_top_level(inner, ",;") if p for q in _expand_plus_minus(p)]


def _expand_plus_minus(item: str) -> list[str]:
    """'\\pm a' stands for two roots: '+a' and '-a' (each further ± doubles again)."""
    m = re.search(r"\\(pm|mp)(?![A-Za-z])", item)
    if m is None:
        return [item]
    first, second = ("+", "-") if m.group(1) == "pm" else ("-", "+")
    return [x for sign in (first, second) for x in _expand_plus_minus(item[: m.start()] + sign + item[m.end():])]


def _box_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, content) of each final box, found in order in `text`."""
    spans, pos = [], 0
    for content in extract_boxed(text):
        start = text.find(content, pos)
        if start < 0:
            start = pos
        end = start + len(content)
        spans.append((start, end, content))
        pos = end
    return spans


def _label(context: str, allowed: tuple[str, ...]) -> str | None:
    """The regime named last in `context` (the text just before a box)."""
    best, best_at = None, -1
    for name, pattern in _REGIME_WORDS:
        if name not in allowed:
            continue
        for m in pattern.finditer(context):
            at = m.start()
            if name == "large" and re.search(r"very\s+$", context[max(0, at - 8):at]):
                continue
            if at > best_at:
                best, best_at = name, at
    return best


def regime_answers(text: str, kind: str, regimes: tuple[str, ...]) -> dict[str, str | list[str]]:
    """Map each regime to its answer: one LaTeX formula, or a list for roots.
    Raises AnswerError when no box holds an answer for the regimes."""
    section = final_section(text or "")
    spans = _box_spans(section)
    if not spans:
        raise AnswerError("no \\boxed{} answer")
    is_list = kind in LIST_REGIMES
    # 1. The last box alone holds every regime.
    last = spans[-1][2]
    items = split_items(last)
    if is_list:
        lists = [i for i in split_top_level(re.sub(r"\\(?:quad|qquad)", ",", last), ",;") if _LIST_OPEN.match(i)]
        if len(regimes) > 1 and len(lists) == len(regimes):
            return {r: split_items(lst) for r, lst in zip(regimes, lists)}
        if len(regimes) == 1:
            return {regimes[0]: items}
    elif len(items) == len(regimes):
        return dict(zip(regimes, items))
    # 2. One box per regime: the last len(regimes) boxes, labelled by the words before them.
    if len(spans) < len(regimes):
        raise AnswerError(f"expected answers for {len(regimes)} regimes ({', '.join(regimes)}), found {len(items)} in the last box")
    chosen = spans[-len(regimes):]
    labels = []
    for k, (start, _, _) in enumerate(chosen):
        previous_end = spans[len(spans) - len(regimes) + k - 1][1] if len(spans) - len(regimes) + k > 0 else 0
        labels.append(_label(section[max(previous_end, start - 300):start], regimes))
    if sorted(filter(None, labels)) != sorted(regimes) or None in labels:
        labels = list(regimes)  # unlabelled or ambiguous: the order the question asks for
    out: dict[str, str | list[str]] = {}
    for label, (_, _, content) in zip(labels, chosen):
        box_items = split_items(content)
        if not is_list and len(box_items) != 1:
            raise AnswerError(f"the box for the {label} regime holds {len(box_items)} formulas")
        out[label] = box_items if is_list else box_items[0]
    return out
