"""Which boxed formula answers which regime.

Models box their answers in several ways: one box holding a list per regime
(`\\boxed{[y_small, y_large]}`), one box per regime labelled in the text
("for large ε the roots are \\boxed{...} and for small ε \\boxed{...}"), or
a worked solution boxing every intermediate result. We read the final
boxes: a regime word just before a box labels it; otherwise the order the
question asks for (small before large) decides."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Union

from harness.checker.latex import split_top_level, top_level_scan
from harness.checker.reading import AnswerPart, BoxReading, box_rows, clean_part, read_answers

# Regimes whose answer is a list of values (roots) rather than one formula.
LIST_REGIMES = {"roots"}
# A regime named in words ("for small ε") or as a limit ("\\epsilon \\to 0^+", "x \\to \\infty", "\\epsilon \\ll 1").
_REGIME_WORDS = (
    ("very_large", re.compile(r"very\s+large|ε\s*≫|\\gg")),
    ("small", re.compile(r"(?i)small|\\to\s*0|\\ll\s*1|<<\s*1")),
    ("large", re.compile(r"(?i)large|\\to\s*\+?\s*\\infty|\\gg|>>\s*1")),
)
_LIST_OPEN = re.compile(r"^\s*(?:[A-Za-z]\s*=\s*)?(?:\\left\s*)?\[")


class AnswerError(ValueError):
    """No final answer could be located for a regime."""


@dataclass(frozen=True)
class SeveralFormulas:
    """A box offering several formulas where the regime asks for one, none of them
    singled out as final (not a chain of equalities, whose last line is the answer):
    a hedge, which a grader marks wrong."""

    formulas: tuple[str, ...]


RegimeAnswer = Union[str, list[str], SeveralFormulas]
_CONTINUATION = re.compile(r"^\s*&?\s*(?:=|\\approx|\\sim|\\simeq)")


def _final_line(box: str) -> str | None:
    """The last line of a derivation written as rows continuing with ``&=`` (``&\\approx``), else None."""
    rows = box_rows(box)
    if len(rows) > 1 and all(_CONTINUATION.match(r) for r in rows[1:]):
        return _CONTINUATION.sub("", rows[-1]).strip()
    return None


def _one_formula(box: str) -> str | SeveralFormulas:
    items = split_items(box)
    if len(items) == 1:
        return items[0]
    final = _final_line(box)
    final_items = split_items(final) if final else []
    return final_items[0] if len(final_items) == 1 else SeveralFormulas(tuple(items))


_MATRIX = re.compile(r"\\(?:begin|end)\s*\{(?:[bpv]?matrix|cases|array)\}(?:\s*\{[^{}]*\})?")


def _strip_brackets(item: str) -> str:
    """A list's items without its brackets: ``[...]``, ``\\left[...\\right]``,
    ``\\{...\\}``, ``{...}`` and matrix or cases rows (``\\\\`` then separates items)."""
    s = re.sub(r"^\s*[A-Za-z]\s*=\s*", "", item.strip())  # "x = [...]"
    if _MATRIX.search(s):
        s = _MATRIX.sub(" ", s).replace("\\\\", ",").replace("&", " ").strip()
    s = re.sub(r"^\\left\s*(\[|\\\{)", r"\1", s)
    s = re.sub(r"\\right\s*(\]|\\\})\s*$", r"\1", s)
    for open_, close in (("[", "]"), ("\\{", "\\}"), ("{", "}")):
        if s.startswith(open_) and s.endswith(close) and _encloses(s, open_):
            s = s[len(open_) : len(s) - len(close)]
            break
    return s.strip()


def _encloses(s: str, open_: str) -> bool:
    """The bracket opening `s` closes at its very end (``[a], [b]`` is two lists)."""
    depths = [d for _, d in top_level_scan(s)]
    inner = depths[len(open_) - 1 if open_ != "\\{" else 0 : -1]
    return not inner or min(inner) >= 1


_CONDITION = re.compile(r"\\(?:to|ll|gg|rightarrow)(?![A-Za-z])|\\text\s*\{\s*(?:for|as|when|where)\b")


def split_items(box: str) -> list[str]:
    """Top-level comma/semicolon items of a box, outer list brackets removed, each
    with its label and described words taken off; conditions ("x \\to \\infty",
    "\\epsilon \\ll 1") that stand as items of their own are dropped."""
    inner = _strip_brackets(box)
    inner = re.sub(r"\\(?:quad|qquad|text\{\s*and\s*\})", ",", inner)
    inner = re.sub(r"\\[\s,;:!]", " ", inner)  # spacing commands ("\\, dt") are no separators
    items = [clean_part(p)[1] for p in split_top_level(inner, ",;") if p]
    items = [i for i in items if not re.fullmatch(r"\s*\\(?:ldots|cdots|dots)\s*", i)]  # "[a, b, ...]": the list goes on
    kept = [i for i in items if i and not (_CONDITION.search(i) and not re.search(r"(?<![<>\\])=", i))]
    return [q for p in kept for q in _expand_plus_minus(p)]


def _expand_plus_minus(item: str) -> list[str]:
    """'\\pm a' stands for two roots: '+a' and '-a' (each further ± doubles again)."""
    m = re.search(r"\\(pm|mp)(?![A-Za-z])", item)
    if m is None:
        return [item]
    first, second = ("+", "-") if m.group(1) == "pm" else ("-", "+")
    return [x for sign in (first, second) for x in _expand_plus_minus(item[: m.start()] + sign + item[m.end() :])]


def _label(context: str, allowed: tuple[str, ...]) -> str | None:
    """The regime named last in `context` (the text just before a box)."""
    best, best_at = None, -1
    for name, pattern in _REGIME_WORDS:
        if name not in allowed:
            continue
        for m in pattern.finditer(context):
            at = m.start()
            if name == "large" and re.search(r"very\s+$", context[max(0, at - 8) : at]):
                continue
            if at > best_at:
                best, best_at = name, at
    return best


def _nested_lists(box: str) -> list[str]:
    """The inner lists of ``[[...], [...]]`` (``\\left[ \\left[...\\right], ... \\right]``), else []."""
    outer = _strip_brackets(box)
    if outer == box.strip():
        return []
    items = [i for i in split_top_level(outer, ",;") if i]
    return items if len(items) > 1 and all(_LIST_OPEN.match(i) for i in items) else []


def _regime_of_part(part: AnswerPart, allowed: tuple[str, ...]) -> str | None:
    return _label(part.words, allowed) if part.words else None


_STATED_CONDITION = re.compile(r"\\ll|\\gg|<<|>>|\\to(?![A-Za-z])|\\text\s*\{\s*(?:for|if|as|when)\b")


def _row_pieces(row: str) -> list[str]:
    """A row cut at its top-level ``&`` and label colons (not inside ``\\text{...: }``, not ``:=``)."""
    depth_at = dict(top_level_scan(row))
    cuts = [m for m in re.finditer(r"&|(?<![:\\]):(?!=)", row) if depth_at.get(m.start(), 0) == 0]
    starts = [0, *(m.end() for m in cuts)]
    ends = [*(m.start() for m in cuts), len(row)]
    return [row[a:b] for a, b in zip(starts, ends)]


def _bare(answer: str) -> str:
    """A row's answer without leading spacing or `=` (``&= [...]``, ``\\quad {[...]}``) and the braces of a box."""
    answer = re.sub(r"^(?:\s|\\q?quad(?![A-Za-z])|\\[,;:!])+", "", answer.strip())
    answer = re.sub(r"^(?:=|\\approx|\\sim)\s*", "", answer)  # "\\text{small roots} &= [...]"
    if answer.startswith("{") and answer.endswith("}") and _encloses(answer, "{"):
        answer = answer[1:-1].strip()
    return answer


def _labelled_rows(box: str, regimes: tuple[str, ...]) -> dict[str, str]:
    """Rows of one box that each name their regime ("\\epsilon \\to 0^+ &: ...",
    "... & \\text{for large } x"), the naming pieces taken off: regime -> the row's answer.
    A row that is only a label ("\\text{Small epsilon roots}") labels the row after it; where
    the answer itself names a regime (``y_\\text{small}(x), & x \\ll 1``), the condition is the label."""
    found: dict[str, str] = {}
    pending: str | None = None
    for row in box_rows(box):
        pieces = [p for p in _row_pieces(row) if p.strip()]
        named = [p for p in pieces if _label(p, regimes)]
        if len(named) > 1:
            named = [p for p in named if _STATED_CONDITION.search(p)] or named
        answer = " ".join(p for p in pieces if p not in named)
        answer = _bare(re.sub(r"\\boxed\s*", "", answer))
        label = _label(named[0], regimes) if len(named) == 1 else None
        if label and not answer:
            pending = label
            continue
        if label is None and not named and pending and answer:
            label, pending = pending, None
        if label and answer and label not in found:
            found[label] = answer
    return found if len(found) == len(regimes) else {}


def regime_answers(text: str, kind: str, regimes: tuple[str, ...]) -> dict[str, RegimeAnswer]:
    """Map each regime to its answer: one LaTeX formula, or a list for roots.
    Raises AnswerError when no box holds an answer for the regimes."""
    boxes = read_answers(text or "")
    if not boxes:
        raise AnswerError("no \\boxed{} answer")
    is_list = kind in LIST_REGIMES
    found = _from_last_box(boxes[-1], is_list, regimes)
    return found if found is not None else _from_box_per_regime(boxes, is_list, regimes)


def _from_last_box(box: BoxReading, is_list: bool, regimes: tuple[str, ...]) -> dict[str, RegimeAnswer] | None:
    """The last box alone holds every regime: rows labelled by regime, a list per
    regime, labelled parts, or one item per regime in the question's order."""
    last = box.content
    items = split_items(last)
    rows = _labelled_rows(last, regimes) if len(regimes) > 1 else {}
    if rows:
        answers = {r: split_items(row) for r, row in rows.items()}
        if is_list:
            return {r: answers[r] for r in regimes}
        if all(len(a) == 1 for a in answers.values()):
            return {r: answers[r][0] for r in regimes}
    if is_list:
        lists = _nested_lists(last) or [i for i in split_top_level(re.sub(r"\\(?:quad|qquad)", ",", last), ",;") if _LIST_OPEN.match(i)]
        if len(regimes) > 1 and len(lists) == len(regimes):
            return {r: split_items(lst) for r, lst in zip(regimes, lists)}
        return {regimes[0]: items} if len(regimes) == 1 else None
    labelled: dict[str, RegimeAnswer] = {}
    for part in box.readings.get("split", ()):
        regime = _regime_of_part(part, regimes)
        if regime is not None and regime not in labelled:
            labelled[regime] = part.latex
    if sorted(labelled) == sorted(regimes):
        return labelled
    if len(items) == len(regimes):
        return dict(zip(regimes, items))
    stated = [i for i in items if re.match(r"^\s*\\(?:epsilon|varepsilon)\s*(?:=|\\approx)", i)]
    if len(regimes) == 1 and len(stated) == 1:  # "\\epsilon = ..., y = ...": the formula for ε
        return {regimes[0]: stated[0]}
    if len(regimes) == 1:
        return {regimes[0]: _one_formula(last)}
    return None


def _from_box_per_regime(boxes: list[BoxReading], is_list: bool, regimes: tuple[str, ...]) -> dict[str, RegimeAnswer]:
    """One box per regime: the last len(regimes) boxes, labelled by the words before
    or inside them, else in the question's order. With fewer boxes than regimes,
    the labelled ones are graded and the other regimes have no answer."""
    n_last = len(split_items(boxes[-1].content))
    missing = AnswerError(f"expected answers for {len(regimes)} regimes ({', '.join(regimes)}), found {n_last} in the last box")
    if len(boxes) < len(regimes):
        named = {_label(b.context, regimes) or _regime_of_part(b.readings["whole"][0], regimes): b for b in boxes}
        named.pop(None, None)
        if is_list:
            raise missing
        partial: dict[str, RegimeAnswer] = {}
        for regime, box in named.items():
            answer = _one_formula(box.readings["whole"][0].latex)
            if isinstance(answer, str):
                partial[str(regime)] = answer
        if not partial:
            raise missing
        return partial
    chosen = boxes[-len(regimes) :]
    labels = [_label(b.context, regimes) or _regime_of_part(b.readings["whole"][0], regimes) for b in chosen]
    if sorted(filter(None, labels)) != sorted(regimes) or None in labels:
        labels = list(regimes)  # unlabelled or ambiguous: the order the question asks for
    out: dict[str, RegimeAnswer] = {}
    for label, box in zip(labels, chosen):
        out[str(label)] = split_items(box.content) if is_list else _one_formula(box.readings["whole"][0].latex)
    return out
