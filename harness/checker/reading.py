"""From a model's response to candidate answer parts, as a careful grader reads it.

Real responses put every part of a problem in one box (``aligned`` rows,
``\\quad``, "and", ``(a)`` labels), describe answers in words inside the box,
box nothing and state a "Final Answer" instead, drop the backslash
(``$boxed{...}$``) or are cut off inside their last box. `read_answers` finds
each box (or final-answer statement) and offers its readings: the box whole,
split on its rows, labels and separators, and split on top-level commas too.
Which reading is used is decided by `match_parts`, the one maximum
one-to-one matching of parts to gold answers: a box is only ever split when
that matches more gold answers, so a single right answer is never broken into
wrong parts.

Pure text processing: nothing here parses mathematics or runs model text.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

from scipy.optimize import linear_sum_assignment

from harness.checker.boxed import brace_pairs, final_section
from harness.checker.latex import ASCII_ELLIPSIS, CASES_ENVIRONMENT, MATRIX_ENVIRONMENT, replace_unicode_math, top_level_scan
from harness.checker.units import is_unit

MAX_READ_CHARS = 200_000  # answers are read from the end of a response; this bounds every scan of hostile text
MAX_BOXES = 30
_CONTEXT_CHARS = 300

# ------------------------------------------------------------------ finding boxes

# `\boxed{`, `\fbox{`, and `boxed{` without its backslash (the HARDMath dataset's
# own spelling `$boxed{...}$`, which few-shot prompted models copy).
_BOX_OPEN = re.compile(r"(?:\\(?:boxed|fbox)|(?<![\\A-Za-z])boxed)\s*\{")
_EMPTY_BOX = re.compile(_BOX_OPEN.pattern + r"\s*\}")


@dataclass(frozen=True)
class AnswerPart:
    """One candidate answer: `latex` as it will be checked, its `label` (``a``,
    ``ii``, ``2``) if the response gave one, the words stripped off around it
    (`words`, e.g. "Magnetic field:", "small ε:" or "(for air)"), and the box it came from."""

    latex: str
    box: int
    label: str | None = None
    words: str = ""


@dataclass(frozen=True)
class BoxReading:
    """One box (or final-answer statement) and the ways to read it.

    `origin` says where it was found: "boxed", "boxed (no backslash)",
    "boxed (unclosed, response cut off)" or "final-answer section". `context`
    is the text just before it (where "for small ε" labels a box). `readings`
    maps a reading's name ("whole", "as written", "split", "split+commas") to its
    parts; the whole reading is always there."""

    index: int
    content: str
    origin: str
    context: str
    readings: dict[str, tuple[AnswerPart, ...]]

    @property
    def labelled(self) -> bool:
        return any(p.label for parts in self.readings.values() for p in parts)


def _find_boxes(text: str) -> list[tuple[int, int, str, str]]:
    """(start, end, content, origin) of every top-level box, in order."""
    found: list[tuple[int, int, str, str]] = []
    closes = brace_pairs(text)
    pos = 0
    while True:
        m = _BOX_OPEN.search(text, pos)
        if m is None:
            return found
        brace = m.end() - 1
        end = closes.get(brace)
        origin = "boxed" if m.group(0).startswith("\\") else "boxed (no backslash)"
        if end is None:
            # Cut off inside its box: what was written of it is the answer, when it is the last box.
            if _BOX_OPEN.search(text, m.end()) is None:
                content = _complete_part(text[brace + 1 :]).strip()
                if content:
                    found.append((m.start(), len(text), content, "boxed (unclosed, response cut off)"))
                return found
            pos = m.end()
            continue
        content = text[brace + 1 : end - 1].strip()
        if content:
            found.append((m.start(), end, content, origin))
        pos = end


def _complete_part(text: str) -> str:
    """What was written of a box cut off mid-formula, up to its last complete piece:
    ``B = \\frac{\\mu_0 I}{2\\pi r} \\hat{\\`` -> ``B = \\frac{\\mu_0 I}{2\\pi r}``."""
    open_at: list[int] = []
    i = 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in "{}":
            i += 2
            continue
        if text[i] == "{":
            open_at.append(i)
        elif text[i] == "}" and open_at:
            open_at.pop()
        i += 1
    if open_at:
        text = text[: open_at[0]]
    return re.sub(r"(?:\\[A-Za-z]+|[\s+\-*/=^_&])+$", "", text)


# ------------------------------------------------------------------ a final-answer section (no box)

_FINAL_HEADING = re.compile(
    r"(?im)^[\s#*>\-]*(?:\*\*)?\s*(?:final\s+answers?|answers?|final\s+results?|summary(?:\s+of\s+results)?)\b\s*(?:\*\*)?\s*[:.]?"
    r"|\b(?:the\s+)?(?:final\s+)?answers?\s+(?:is|are)\b\s*:?"
)
_MATH_OPEN = re.compile(r"\\\[|\$\$|\\\(|\\begin\{((?:equation|align|gather|multline|eqnarray)\*?)\}|\$")
_MATH_CLOSE = {"\\[": "\\]", "$$": "$$", "\\(": "\\)", "$": "$"}


def math_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, content) of every math segment: ``\\[...\\]``, ``$$...$$``,
    ``\\(...\\)``, ``$...$`` on one line, and bare ``equation``/``align``/``gather``
    environments. Linear in the text: an opener whose closer never comes stops
    the search for that closer (a regex scan would retry it from every opener)."""
    spans: list[tuple[int, int, str]] = []
    never_closed: set[str] = set()
    pos = 0
    while (m := _MATH_OPEN.search(text, pos)) is not None:
        close = "\\end{" + m.group(1) + "}" if m.group(1) else _MATH_CLOSE[m.group(0)]
        end = -1 if close in never_closed else text.find(close, m.end())
        if end == -1:
            never_closed.add(close)
            pos = m.end()
            continue
        if close == "$" and "\n" in text[m.end() : end]:
            pos = m.end()  # inline math stays on its line: this "$" closes nothing
            continue
        content = text[m.end() : end].strip()
        if content:
            spans.append((m.start(), end + len(close), content))
        pos = end + len(close)
    return spans


def _final_section_statements(section: str) -> list[tuple[int, int, str, str]]:
    """Math of the last final-answer section, when the response boxes nothing."""
    headings = list(_FINAL_HEADING.finditer(section))
    if not headings:
        return []
    start = headings[-1].end()
    tail = section[start:]
    found = []
    for begin, end, content in math_spans(tail):
        content = _EMPTY_BOX.sub("", content).strip()  # "$boxed{}\\frac{2}{x}$": the answer written after an empty box
        if not content.strip(".,;: "):
            continue  # "The final answer is: $\\boxed{}$." answers nothing
        label = _LINE_LABEL.match(tail[tail.rfind("\n", 0, begin) + 1 : begin])
        labelled = f"({(label.group(1) or label.group(2)).lower()}) " if label else ""  # "- Part (b): $t = 2$ s" answers (b)
        found.append((start + begin, start + end, labelled + content + _unit_after(tail[end:], content), "final-answer section"))
    if not found:
        line = tail.strip().splitlines()[0] if tail.strip() else ""
        statement = _plain_statement(line)
        if statement:
            found.append((start, start + len(line), statement, "final-answer section"))
    return found


# "### Part (b)", "- **(b)**", "Part B:", "(b)", "b)": a sub-question's label opening a line
_LINE_LABEL = re.compile(r"(?im)^[ \t]*(?:[-*>#]+[ \t]*)?(?:\*\*|__)?[ \t]*(?:part[ \t]*\(?([a-h])\)?(?![A-Za-z])|\(?([a-h])\))")
_UNIT_AFTER = re.compile(r"[ \t]*([^\s,;:$\\()|*]{1,15}?)[ \t]*(?:[.,;)|*]|\band\b|$)", re.M)
_NOT_UNITS = {"in", "as", "at", "to", "or", "by", "per"}  # English words that are also unit symbols (inch, attosecond)


def _unit_after(text: str, content: str) -> str:
    """`` \\text{m/s}`` when the math `content` is a bare number or equation that a
    unit follows in the prose ("$v = 5$ m/s"), else "": a final-answer section
    written without a box often keeps the unit outside the math."""
    m = _UNIT_AFTER.match(text)
    if m is None or m.group(1).lower() in _NOT_UNITS or re.search(r"\\(?:text|mathrm|rm)\b|[A-Za-z]\s*$", content):
        return ""
    return r" \text{" + m.group(1) + "}" if is_unit(m.group(1)) else ""


_PLAIN_LEAD = re.compile(r"(?:\bis\b|\bare\b|\bof\b|:|≈|=)\s*")
_PLAIN_UNIT = re.compile(r"(?<=[\d}])\s*((?:\\mu\s*|\\Omega\s*)?[A-Za-z°]?[A-Za-z°/^\-0-9]{0,12})\s*$")


def _plain_statement(line: str) -> str:
    """The value a plain-text final-answer line states: "The energy is 1.6×10⁻¹⁹ J."
    gives ``1.6 \\times 10^{-19} \\text{J}``; "so v = 3 m/s" keeps ``v = 3 \\text{m/s}``."""
    line = replace_unicode_math(re.sub(r"\*\*|__|`", "", line)).strip().rstrip(".")
    leads = [m for m in _PLAIN_LEAD.finditer(line) if re.search(r"\d", line[m.end() :])]
    if leads and not re.match(r"^\s*[-+\d\\]", line):
        cut = leads[-1]
        if cut.group(0).strip() in ("=", "≈"):
            name = re.search(r"([A-Za-z](?:_\{?\w+\}?)?)\s*$", line[: cut.start()])
            line = (name.group(1) if name else "") + " = " + line[cut.end() :]
        else:
            line = line[cut.end() :]
    if not re.search(r"\d", line):
        return ""
    unit = _PLAIN_UNIT.search(line)
    if unit and is_unit(unit.group(1)):
        line = line[: unit.start()] + r" \text{" + unit.group(1) + "}"
    return line.strip()


# ------------------------------------------------------------------ splitting one box

_ENVIRONMENT = re.compile(
    r"\\(?:begin|end)\s*\{(?:aligned|align\*?|alignat\*?|array|cases|gathered|gather\*?|split|equation\*?|eqnarray\*?|matrix|smallmatrix)\}"
    r"(?:\s*\{[^{}]*\})?"
)
_TEXT_COMMAND = r"\\(?:text|textbf|textit|mathrm|textrm|mbox)"
_LABEL_TOKEN = r"(?:[a-h]|i{1,3}|iv|vi{0,3}|[1-9])"
# "(a)", "a)", "Part (a):", "\text{(a)}", "\textbf{(a) }", "**(a)**" -- at the start of a piece.
_LABEL = re.compile(
    r"^\s*(?:\*\*)?\s*(?P<open>" + _TEXT_COMMAND + r"\s*\{\s*)?(?:(?:Part|part)\s*)?"
    r"(?:\(\s*(" + _LABEL_TOKEN + r")\s*\)|(" + _LABEL_TOKEN + r")\s*\))"
    r"(?:\s*[:.])?\s*(?P<close>\})?(?:\s*\*\*)?(?:\s*[:.](?![0-9]))?(?!\s*[\^_*/])\s*"
)
# Where a new label starts inside a row: after a separator or at a text command.
_LABEL_INSIDE = re.compile(
    r"(?:(?<=[\s,;&~])|(?<=\\quad)|(?<=\\qquad))(?=(?:" + _TEXT_COMMAND + r"\s*\{\s*)?(?:(?:Part|part)\s*)?\(\s*" + _LABEL_TOKEN + r"\s*\))"
)
_SEPARATORS = re.compile(r"\\q?quad(?![A-Za-z])|(?<!\\);|" + _TEXT_COMMAND + r"\s*\{\s*(?:,?\s*(?:and|or)\s*,?|,|;)\s*\}|\s(?:and)\s")


def _top_level_mask(text: str) -> list[bool]:
    """True where a character sits outside every bracket and brace (an opening
    bracket itself counts as outside its own group) and outside every matrix,
    whose ``&`` and ``\\\\`` are its columns and rows, not separators."""
    mask = [False] * len(text)
    for i, depth in top_level_scan(text):
        mask[i] = depth == 0 or (depth == 1 and text[i] in "{([")
    for m in MATRIX_ENVIRONMENT.finditer(text):
        mask[m.start() + 1 : m.end()] = [False] * (m.end() - m.start() - 1)
    return mask


def _kept_spans(text: str) -> list[tuple[int, int]]:
    """Where `text` has a matrix or a ``cases`` block, whose ``&`` marks are its own."""
    return sorted((m.start(), m.end()) for pattern in (MATRIX_ENVIRONMENT, CASES_ENVIRONMENT) for m in pattern.finditer(text))


def _without_alignment(text: str) -> str:
    """``&`` alignment marks removed, a matrix's columns and a ``cases`` block's conditions kept."""
    kept = _kept_spans(text)
    out, pos = [], 0
    for start, end in kept:
        out += [text[pos:start].replace("&", " "), text[start:end]]
        pos = end
    return "".join(out) + text[pos:].replace("&", " ")


def _split_top(text: str, pattern: re.Pattern) -> list[str]:
    mask = _top_level_mask(text)
    pieces, start = [], 0
    for m in pattern.finditer(text):
        if m.start() < len(mask) and mask[m.start()]:
            if m.end() == m.start() and m.start() == start:
                continue
            pieces.append(text[start : m.start()])
            start = m.end()
    pieces.append(text[start:])
    return [p for p in pieces if p.strip()]


def box_rows(text: str) -> list[str]:
    """The rows of a box: its environments' markers removed, split on top-level ``\\\\``."""
    body = _ENVIRONMENT.sub(" ", text)
    mask = _top_level_mask(body)
    rows, start, i = [], 0, 0
    while i < len(body) - 1:
        if body[i] == "\\" and body[i + 1] == "\\" and mask[i]:
            rows.append(body[start:i])
            i += 2
            start = i
            continue
        i += 2 if body[i] == "\\" else 1
    rows.append(body[start:])
    return [r for r in rows if r.strip()]


_LEADING_TEXT = re.compile(r"^\s*" + _TEXT_COMMAND + r"\s*\{([^{}]*)\}\s*(?::|=\s*(?=\S))?\s*")
# "\text{(for air)}", "\text{ in the lab frame}": a parenthesis or two words; one word may be a unit.
_TRAILING_TEXT = re.compile(
    r"\s*(?:,|\\,|\\;|\\quad|\\qquad|~|\s)*" + _TEXT_COMMAND + r"\s*\{\s*(\([^{}]*\)|[^{}]*[A-Za-z]{2,}\s+[A-Za-z]{2,}[^{}]*)\}\s*$"
)
# "y = f(x) \text{ for small } x": a condition after a candidate answer goes to its words. (A gold
# answer keeps its conditions: "S = 0 \text{ for } |00\rangle" and "S = 0 \text{ for } |1\rangle" differ.)
_CONDITION_TEXT = re.compile(r"\s*,?\s*" + _TEXT_COMMAND + r"\s*\{\s*\(?\s*(?:valid\s+)?(?:for|if|when|where)\b[^{}]*\}.*$")
_PLAIN_PREFIX = re.compile(r"^\s*([A-Za-z][A-Za-z ,'\-]{2,60}?)\s*:\s*(?=\S)")


_NAMED_VALUE = re.compile(r"^([^:\d]{1,40}?)\s*(?<![:\\]):(?!=)\s*(.+)$", re.S)
_HEADING_TEXT = re.compile(_TEXT_COMMAND + r"\s*\{[^{}]*:\s*\}")
_PARENTHESISED_TEXT = re.compile(_TEXT_COMMAND + r"\s*\{\s*\([^{}]*\)\s*\}")


def _is_description(words: str) -> bool:
    """Words around an answer, not a unit: a word of three letters or more, or a parenthesis."""
    stripped = words.strip()
    return bool(re.search(r"[A-Za-z]{3,}|^\(.*\)$|:$", stripped)) and not is_unit(stripped)


def clean_part(text: str) -> tuple[str | None, str, str]:
    """(label, latex, words): the label, described words and trailing punctuation taken off one part."""
    label = None
    words: list[str] = []
    s = _without_alignment(text).strip()
    for _ in range(3):
        s = re.sub(r"^(?:\s|~|\\[,;!]|\\q?quad(?![A-Za-z]))+", "", s)
        m = _LABEL.match(s)
        if m and s[m.end() :].strip():
            label = label or (m.group(2) or m.group(3))
            # "\\text{(a) Impossible}": the words after the label stay in their text group
            s = (m.group("open") if m.group("open") and not m.group("close") else "") + s[m.end() :]
            continue
        m = _LEADING_TEXT.match(s)
        if m and _is_description(m.group(1)) and s[m.end() :].strip():
            words.append(m.group(1).strip())
            s = s[m.end() :]
            continue
        m = _PLAIN_PREFIX.match(s)
        if m and len(m.group(1).split()) >= 2:
            words.append(m.group(1).strip())
            s = s[m.end() :]
            continue
        break
    m = _CONDITION_TEXT.search(s)
    if m and s[: m.start()].strip() and not any(start < m.start() < end for start, end in _kept_spans(s)):
        words.append(s[m.start() :].strip())
        s = s[: m.start()]
    while True:
        m = _TRAILING_TEXT.search(s)
        if m is None or not s[: m.start()].strip():
            break
        words.append(m.group(1).strip())
        s = s[: m.start()]
    s = ASCII_ELLIPSIS.sub(r"\\ldots ", s)  # "a + b + ...": not a sentence's last period
    s = re.sub(r"(?:\s|~|\\[,;!]|\\q?quad|[.,;])+$", "", s).strip()
    s = re.sub(r"^(?:\s|\\[,;!]|\\q?quad|[,;])+", "", s).strip()
    named = _NAMED_VALUE.match(s)
    if named and "\\\\" not in s and _top_level_mask(s)[named.end(1)]:
        # "E : 5" (an array row ``E &:& 5``): the name is the left-hand side
        s = named.group(1).strip() + " = " + named.group(2).strip()
    if _PARENTHESISED_TEXT.fullmatch(s) or _HEADING_TEXT.fullmatch(s):
        s = ""  # "\text{(for air)}" or "\text{Hydrogen:}" alone: a remark or a heading, no answer
    return label, s, " ".join(words)


def _parts_of(pieces: Sequence[str], box: int) -> tuple[AnswerPart, ...]:
    parts = []
    for piece in pieces:
        label, latex, words = clean_part(piece)
        if latex:
            parts.append(AnswerPart(latex, box, label, words))
    return tuple(parts)


def _split_labelled(row: str) -> list[str]:
    return _split_top(row, _LABEL_INSIDE) if _LABEL_INSIDE.search(row) else [row]


def _split_pieces(content: str) -> list[str]:
    """Rows, then labels, then separators (``\\quad``, ``;``, "and")."""
    pieces = []
    for row in box_rows(content):
        for labelled in _split_labelled(row):
            split = _split_top(labelled, _SEPARATORS)
            # a label alone before a separator belongs to the next piece: "(a) \quad x = 1"
            merged: list[str] = []
            for piece in split:
                if merged and _LABEL.fullmatch(merged[-1].strip() + " "):
                    merged[-1] = merged[-1] + " " + piece
                else:
                    merged.append(piece)
            pieces.extend(merged)
    return pieces


_COMMA = re.compile(r"(?<!\\),")


def _split_commas(pieces: Sequence[str]) -> list[str]:
    out = []
    for piece in pieces:
        out.extend(_split_top(piece, _COMMA))
    return out


def _readings(content: str, box: int) -> dict[str, tuple[AnswerPart, ...]]:
    readings: dict[str, tuple[AnswerPart, ...]] = {}
    label, whole, words = clean_part(content)
    readings["whole"] = (AnswerPart(whole or content, box, label, words),)
    if whole != content.strip():
        readings["as written"] = (AnswerPart(content.strip(), box),)  # nothing taken off (a gold may carry it too)
    pieces = _split_pieces(content)
    split = _parts_of(pieces, box)
    if len(split) > 1 or (split and split[0].latex != readings["whole"][0].latex):
        readings["split"] = split
    with_commas = _parts_of(_split_commas(pieces), box)
    if len(with_commas) > len(split):
        readings["split+commas"] = with_commas
    return readings


def read_answers(text: str, max_boxes: int = MAX_BOXES) -> list[BoxReading]:
    """Every final box of a response (the last `max_boxes`), or its final-answer
    statements when it boxes nothing, each with its readings."""
    section = final_section(text or "")[-MAX_READ_CHARS:]
    spans = _find_boxes(section) or _final_section_statements(section)
    spans = spans[-max_boxes:]
    boxes = []
    previous_end = 0
    for k, (start, end, content, origin) in enumerate(spans):
        context = section[max(previous_end, start - _CONTEXT_CHARS) : start]
        content = replace_unicode_math(content)
        boxes.append(BoxReading(k, content, origin, context, _readings(content, k)))
        previous_end = end
    return boxes


# ------------------------------------------------------------------ results stated outside the boxes

STATED = -1  # the `box` of a part stated in the response's prose, not in a box
MAX_STATEMENTS = 80
_EQUALS = re.compile(r"(?<![<>!:=\\])=(?!=)|\\(?:approx|simeq)(?![A-Za-z])")
_INEQUALITY = re.compile(r"[<>]|\\(?:[lg]eq?|[lg]eqslant|neq?|ll|gg|sim|propto|to|rightarrow|Rightarrow|implies)(?![A-Za-z])")
_LHS_DECORATION = re.compile(r"\\(?:left|right|mathbf|boldsymbol|vec|bm|mathrm|mathit|displaystyle)(?![A-Za-z])|[\s{}]")


def lhs_key(latex: str) -> str | None:
    """The left-hand side of an equation ``X = ...`` as a key to compare names by
    (spacing, braces, ``\\left``/``\\right`` and bold or vector markup dropped), or
    None when `latex` is not one equation with a left-hand side."""
    mask = _top_level_mask(latex)
    for m in _EQUALS.finditer(latex):
        if mask[m.start()]:
            key = _LHS_DECORATION.sub("", latex[: m.start()])
            return key or None
    return None


def _equation_sides(row: str) -> tuple[str, str] | None:
    """(left-hand side, last right-hand side) of a row ``X = a = b \\approx c``,
    the left side empty for a continuation row ``&= c``; None for a row that is
    no equation or states an inequality."""
    mask = _top_level_mask(row)
    cuts = [m for m in _EQUALS.finditer(row) if mask[m.start()]]
    if not cuts or any(mask[m.start()] for m in _INEQUALITY.finditer(row)):
        return None
    lhs, rhs = row[: cuts[0].start()].strip(), row[cuts[-1].end() :].strip()
    return (lhs, rhs) if rhs else None


def _equation_rows(sources: Sequence[str]) -> Iterator[tuple[str, str]]:
    """(left-hand side, last right-hand side) of every equation row of `sources`, in
    order; a row or a display that starts with "=" continues the equation before it."""
    lhs = ""
    for source in sources:
        for piece in _split_pieces(source):
            sides = _equation_sides(clean_part(piece)[1])
            lhs = (sides[0] or lhs) if sides else ""
            if sides and lhs:
                yield lhs, sides[1]


def part_sections(text: str) -> list[tuple[str, int, int]]:
    """(label, start, end) of the sections a response gives its sub-questions:
    lines opening with "### Part (b)", "**(b)**" or "(b)", the first of each
    label, as long as the labels run a, b, c, ...; each section ends where the
    next begins."""
    heads: list[tuple[str, int]] = []
    for m in _LINE_LABEL.finditer(text):
        label = (m.group(1) or m.group(2)).lower()
        if label == chr(ord("a") + len(heads)):
            heads.append((label, m.start()))
    ends = [start for _, start in heads[1:]] + [len(text)]
    return [(label, start, end) for (label, start), end in zip(heads, ends)]


def _last_statements(maths: Sequence[str], named_in_boxes: set[str]) -> list[str]:
    """The last statement of each quantity written as an equation in `maths`, in the
    order of those last statements, the last MAX_STATEMENTS of them."""
    last: dict[str, str] = {}
    for lhs, rhs in _equation_rows(maths):
        key = _LHS_DECORATION.sub("", lhs)
        if key and key not in named_in_boxes:
            last.pop(key, None)  # re-inserted: the dict keeps the order of last statements
            last[key] = f"{lhs} = {rhs}"
    return list(last.values())[-MAX_STATEMENTS:]


def stated_equations(text: str, boxed: Sequence[AnswerPart] = ()) -> list[AnswerPart]:
    """The results a response states in its prose, outside its boxes: for each
    quantity written as an equation in display or inline math (``\\[ U' = ... \\]``,
    derivation chains reduced to their last side, ``&=`` rows continuing the row
    above), its last statement; and, where the response answers sub-questions
    in sections of their own ("### Part (b)"), its last statement in each
    section, labelled with the section's label (part (b) derives ``R`` as a
    formula that part (c) then evaluates). Quantities a box names (`boxed`) are
    left out: the box is the response's final word on them. A careful grader
    reads these when the box leaves a part out; they are offered for gold
    answers no box answers."""
    section = final_section(text or "")[-MAX_READ_CHARS:]
    for start, end, _, _ in _find_boxes(section):
        section = section[:start] + " " * (end - start) + section[end:]
    named_in_boxes = {key for p in boxed if (key := lhs_key(p.latex))}
    spans = math_spans(section)
    whole = _last_statements([content for _, _, content in spans], named_in_boxes)
    parts = [AnswerPart(latex, STATED, None, "stated in the response") for latex in whole]
    for label, start, end in part_sections(section):
        in_part = _last_statements([content for begin, _, content in spans if start <= begin < end], named_in_boxes)
        parts.extend(AnswerPart(latex, STATED, label, f"stated in part ({label})") for latex in in_part if latex not in whole)
    return parts


_DEFINED_NAME = re.compile(r"\\?[A-Za-z]+(?:_(?:\{[^{}=]*\}|\\?[A-Za-z0-9]))?'*")


@dataclass(frozen=True)
class Definition:
    """A shorthand the response defines: `name` (``\\omega_0``) and its `equation`
    (``\\omega_0 = \\sqrt{\\frac{K}{m}}``)."""

    name: str
    equation: str


def response_definitions(text: str) -> tuple[Definition, ...]:
    """The shorthands a response defines in its math or its boxes ("where
    \\(\\omega_0 = \\sqrt{K/m}\\)"): equations whose left-hand side is one name, the
    last definition of each. A careful grader reads ``a \\cos(\\omega_0 t)`` with
    them; the checker substitutes them only for names the gold answer does not use."""
    section = final_section(text or "")[-MAX_READ_CHARS:]
    sources = [content for _, _, content in math_spans(section)] + [content for _, _, content, _ in _find_boxes(section)]
    found: dict[str, str] = {}
    for lhs, rhs in _equation_rows(sources):
        name = lhs.replace(" ", "")
        # "t = 0" is a condition, not a shorthand: a definition says what a name stands for
        if _DEFINED_NAME.fullmatch(name) and re.search(r"[A-Za-z]", rhs):
            found.pop(name, None)
            found[name] = f"{lhs} = {rhs}"
    return tuple(Definition(name, equation) for name, equation in found.items())


_PROGRAM_TEXT = re.compile(
    r"""['"]\s*\+\s*[\w'"]|\w\s*\+\s*['"]|\.join\(|\b(?:str|lambdify|latex|simplify|sympy|print)\s*\(|\{\{\s*\w*\s*\}\}|%[sdf]\b"""
    r"""|(?:^|[+\-=(]|\\approx)\s*\{\s*\}\s*(?:[+\-]|\\epsilon|$)|^\s*\\?boxed\s*\{\s*\}\s*$|^\s*['"]\s*,"""
)


def is_program_text(text: str) -> bool:
    """Program code or an unfilled template where a formula belongs (``' + str(I_approx) + '``,
    ``{{formula}}``, ``%s``, ``{} + {} \\epsilon^{2}``, an empty ``boxed{}``): a model that printed
    its template, not an answer. Such text is a
    decided wrong answer, not a formula the reader failed to read."""
    return bool(_PROGRAM_TEXT.search(text))


# ------------------------------------------------------------------ matching parts to gold answers


@dataclass(frozen=True)
class PartMatch:
    """Gold answer `gold` is answered by `part` (read as `reading` of its box)."""

    gold: int
    part: AnswerPart
    reading: str


@dataclass(frozen=True)
class MatchResult:
    matches: tuple[PartMatch, ...]
    readings: dict[int, str]  # box index -> the reading used
    parts: tuple[AnswerPart, ...]  # every part of the readings used (what the response is taken to answer)


_MAX_EXHAUSTIVE = 6


def reading_options(boxes: Sequence[BoxReading], n_gold: int) -> list[list[str]]:
    """The readings worth trying per box: splitting only when the gold has
    several parts or the box carries labels."""
    return [list(b.readings) if (n_gold > 1 or b.labelled) else [r for r in b.readings if r in ("whole", "as written")] for b in boxes]


def candidate_parts(boxes: Sequence[BoxReading], n_gold: int) -> list[AnswerPart]:
    """Every distinct part some reading may use (what the checker must compare)."""
    seen: dict[AnswerPart, None] = {}
    for box, options in zip(boxes, reading_options(boxes, n_gold)):
        for name in options:
            seen.update(dict.fromkeys(box.readings[name]))
    return list(seen)


def match_parts(
    boxes: Sequence[BoxReading],
    n_gold: int,
    equal: Callable[[int, AnswerPart], bool],
    undecided: Callable[[int, AnswerPart], bool] | None = None,
    gold_labels: Sequence[str | None] | None = None,
) -> MatchResult:
    """The maximum one-to-one matching of parts to gold answers over a choice of
    one reading per box. Ties prefer parts whose label agrees with the gold's
    label, then readings that leave fewer gold answers undecided (`undecided`:
    the checker could not decide a part against a gold answer), then later
    boxes, then fewer split boxes. Up to six boxes with several readings are
    tried exhaustively, more by coordinate ascent."""
    options = reading_options(boxes, n_gold)

    def solve(choice: Sequence[str]) -> tuple[tuple, MatchResult]:
        parts = [(name, part) for box, name in zip(boxes, choice) for part in box.readings[name]]
        used = tuple(part for _, part in parts)
        if not parts or not n_gold:
            return (0, 0, 0, 0, 0), MatchResult((), dict(enumerate(choice)), used)
        weight = [[0.0] * len(parts) for _ in range(n_gold)]
        for g in range(n_gold):
            for k, (_, part) in enumerate(parts):
                if equal(g, part):
                    agrees = bool(gold_labels and part.label and gold_labels[g] == part.label)
                    weight[g][k] = 1000.0 + 10.0 * agrees + part.box / (len(boxes) + 1)
        rows, cols = linear_sum_assignment(weight, maximize=True)
        matches = tuple(PartMatch(int(g), parts[k][1], parts[k][0]) for g, k in zip(rows, cols) if weight[g][k] > 0)
        answered = {m.gold for m in matches}
        agree = sum(bool(gold_labels and m.part.label and gold_labels[m.gold] == m.part.label) for m in matches)
        still_open = 0 if undecided is None else sum(any(undecided(g, part) for part in used) for g in range(n_gold) if g not in answered)
        splits = sum(name not in ("whole", "as written") for name in choice)
        later = sum(m.part.box for m in matches)
        return (len(matches), agree, -still_open, later, -splits), MatchResult(matches, dict(enumerate(choice)), used)

    multi = [k for k, o in enumerate(options) if len(o) > 1]
    if len(multi) <= _MAX_EXHAUSTIVE:
        best = None
        for combo in itertools.product(*(options[k] for k in multi)):
            choice = [o[0] for o in options]
            for k, name in zip(multi, combo):
                choice[k] = name
            key, result = solve(choice)
            if best is None or key > best[0]:
                best = (key, result)
        assert best is not None
        return best[1]
    choice = [o[-1] for o in options]
    best_key, best_result = solve(choice)
    for _ in range(2):
        for k in multi:
            for name in options[k]:
                trial = list(choice)
                trial[k] = name
                key, result = solve(trial)
                if key > best_key:
                    best_key, best_result, choice = key, result, trial
    return best_result
