"""LaTeX answer -> SymPy, through latex2sympy2_extended's ANTLR parser.

Model text is data: it is rewritten as a string and handed to a grammar-based
parser, never to Python's own evaluation. Before parsing, every physics symbol
(``m_1``, ``E_{\\gamma}``, ``\\dot{S}_{\\text{water}}``, ``\\varepsilon_0``) is
replaced by an opaque placeholder, so subscripts, primes, decorations and
letter case survive exactly (``m_1`` != ``m_2``, ``R`` != ``r``), and every
``\\text{unit}`` becomes a sympy.physics.units quantity. Relations and lists
are split here, at top level, so ``x \\approx 3`` keeps its left-hand side.

Pure function of its input; callers run it in harness.checker.sandbox for
untrusted text (a pathological input may be slow, never unsafe).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Union

import sympy
from latex2sympy2_extended import latex2sympy
from latex2sympy2_extended.latex2sympy2 import ConversionConfig

from harness.checker.boxed import braced_group_end
from harness.checker.units import UnitParseError, is_unit, parse_unit, siunitx_unit

MAX_LATEX_CHARS = 5000

_CONVERSION = ConversionConfig(
    interpret_as_mixed_fractions=False,
    interpret_simple_eq_as_assignment=False,
    interpret_contains_as_eq=False,
    lowercase_symbols=False,
)


class LatexParseError(ValueError):
    """The text is not a mathematical answer this parser can read."""


class VerbalAnswerError(LatexParseError):
    """The answer is (partly) words, e.g. ``\\text{Strongly absorbed by } O_3``: a judge's job."""


class IndexedSumError(LatexParseError):
    """A sum over names its index numbers (``\\sum_{n} a_n x^n``): the terms are unknown to a
    symbol ``a_n``, so the value cannot be computed (a judge's job; for a task that wants a
    closed form, an answer that depends on unknown coefficients)."""


@dataclass(frozen=True)
class Relation:
    """``lhs op rhs`` (``parts`` holds every side of a chain ``a = b = c``).
    `op` is one of "=", "<", "<=", "!=", "propto" (">" and ">=" are flipped to
    "<" and "<="); ``\\approx``, ``\\simeq`` and ``\\sim`` read as "="."""

    op: str
    parts: tuple

    @property
    def lhs(self):
        return self.parts[0]

    @property
    def rhs(self):
        return self.parts[-1]


class Ratio(tuple):
    """``9 : 1 : 2``: values in order, meaningful up to a common factor."""


@dataclass(frozen=True)
class Case:
    """One row of a ``cases`` block: its value and the condition it holds under (`condition`
    parsed, None when the row states none or it cannot be read; `condition_text` as written)."""

    value: object
    condition: object
    condition_text: str


@dataclass(frozen=True)
class Cases:
    """``E = \\begin{cases} 0, & r < R \\\\ \\frac{Q}{4\\pi\\epsilon_0 r^2}, & r > R \\end{cases}``:
    a value per condition, in order."""

    branches: tuple[Case, ...]

    @property
    def free_symbols(self) -> set:
        return set().union(*(getattr(b.value, "free_symbols", set()) for b in self.branches))

    def xreplace(self, values: dict) -> Cases:
        def put(x):
            return x.xreplace(values) if hasattr(x, "xreplace") else x

        return Cases(tuple(Case(put(b.value), put(b.condition), b.condition_text) for b in self.branches))


Parsed = Union[sympy.Expr, Relation, tuple, Cases]

# ------------------------------------------------------------------ normalisation

_UNICODE = {
    "×": r"\times ",
    "·": r"\cdot ",
    "−": "-",
    "–": "-",
    "≈": r"\approx ",
    "≤": r"\le ",
    "≥": r"\ge ",
    "≠": r"\ne ",
    "∞": r"\infty ",
    "π": r"\pi ",
    "°": r"^{\circ}",
    "∝": r"\propto ",
    "√": r"\sqrt ",
    "ħ": r"\hbar ",
    "α": r"\alpha ",
    "β": r"\beta ",
    "γ": r"\gamma ",
    "δ": r"\delta ",
    "ε": r"\epsilon ",
    "θ": r"\theta ",
    "λ": r"\lambda ",
    "μ": r"\mu ",
    "µ": r"\mu ",
    "ν": r"\nu ",
    "ρ": r"\rho ",
    "σ": r"\sigma ",
    "τ": r"\tau ",
    "φ": r"\phi ",
    "ω": r"\omega ",
    "Ω": r"\Omega ",
    "Δ": r"\Delta ",
    "\u2009": " ",
    "\u00a0": " ",
    "\u202f": " ",
    "’": "'",
    "∼": r"\sim ",
}
_SUPERSCRIPTS = dict(zip("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+"))
_SUBSCRIPTS = dict(zip("₀₁₂₃₄₅₆₇₈₉", "0123456789"))
_SUPERSCRIPT_RUN = re.compile("[" + "".join(_SUPERSCRIPTS) + "]+")
_SUBSCRIPT_RUN = re.compile("[" + "".join(_SUBSCRIPTS) + "]+")


def replace_unicode_math(text: str) -> str:
    """Plain-text math spelled as LaTeX: ``1.6×10⁻¹⁹``, ``ħω``, ``E₀``, ``√2``."""
    text = _SUPERSCRIPT_RUN.sub(lambda m: "^{" + "".join(_SUPERSCRIPTS[c] for c in m.group(0)) + "}", text)
    text = _SUBSCRIPT_RUN.sub(lambda m: "_{" + "".join(_SUBSCRIPTS[c] for c in m.group(0)) + "}", text)
    for char, replacement in _UNICODE.items():
        text = text.replace(char, replacement)
    return text


ASCII_ELLIPSIS = re.compile(r"(?<![\d.])(?:\.\.\.|…)")
"""`a + b + ...`, `1, 2, ...`: the ellipsis spelled as text, read as `\\ldots` (a decimal `0.333...` is left alone)."""
_SERIES_TAIL = re.compile(
    r"\s*[+-]\s*(?:(?:\\mathcal\s*\{\s*O\s*\}|O)\s*\((?:[^()]|\([^()]*\))*\)|\\(?:cdots|ldots|dots))(?=\s*(?:$|[,;=]|\\\\|\\q?quad))"
)
_SPACES = re.compile(
    r"\\[,;:!> ]|\\(?:enspace|thinspace|medspace|thickspace|displaystyle|textstyle|limits"
    r"|tiny|scriptsize|footnotesize|small|normalsize|large|Large|LARGE|huge|Huge)(?![A-Za-z])|~"
)  # spacing, style and font-size commands
_DELIMITER_SIZES = re.compile(r"\\(?:left|right|bigl|bigr|Bigl|Bigr|biggl|biggr|Biggl|Biggr|big|Big|bigg|Bigg)(?![A-Za-z])\s*")
_FRAC_VARIANTS = re.compile(r"\\[dtc]frac(?![A-Za-z])")
_ENV = re.compile(r"\\(?:begin|end)\{(?:aligned|align\*?|gathered|split|equation\*?|array|eqnarray\*?)\}(?:\{[^{}]*\})?")
_BARE_FUNCTIONS = re.compile(r"(?<![\\A-Za-z])(sinh|cosh|tanh|arcsin|arccos|arctan|sin|cos|tan|cot|sec|csc|exp|ln|log)(?![A-Za-z])")
_SCIENTIFIC = re.compile(r"(\d(?:\.\d*)?)[eE]([+-]?\d+)(?![A-Za-z\d])")


def _unwrap_command(text: str, command: str) -> str:
    """Replace every ``\\command{X}`` by ``X`` (balanced braces)."""
    out = []
    pos = 0
    pattern = re.compile(re.escape(command) + r"\s*\{")
    while True:
        m = pattern.search(text, pos)
        if m is None:
            out.append(text[pos:])
            return "".join(out)
        end = braced_group_end(text, m.end() - 1)
        if end is None:
            raise LatexParseError(f"unbalanced braces after {command}")
        out.append(text[pos : m.start()])
        out.append(text[m.end() : end - 1])
        pos = end


_SIUNITX = re.compile(r"\\(SI|qty|si|unit|num|ang)\s*(?:\[[^\[\]{}]*\])?\s*(?=\{)")


def _siunitx_spelling(text: str) -> str:
    """siunitx quantities in plain LaTeX: ``\\SI{3.0e8}{\\meter\\per\\second}`` (and
    ``\\qty``) as ``3.0e8 \\, \\text{m s^{-1}}``, ``\\si{...}``/``\\unit{...}`` as the
    unit alone, ``\\num{...}`` as the number, ``\\ang{30}`` as ``30^\\circ``. A unit
    command it does not know stays as written, for the parser to refuse."""
    out, pos = [], 0
    for m in _SIUNITX.finditer(text):
        if m.start() < pos:
            continue
        command, groups, end = m.group(1), [], m.end()
        for _ in range(2 if command in ("SI", "qty") else 1):
            end += len(text[end:]) - len(text[end:].lstrip())
            close = braced_group_end(text, end) if text.startswith("{", end) else None
            if close is None:
                break
            groups.append(text[end + 1 : close - 1])
            end = close
        if len(groups) != (2 if command in ("SI", "qty") else 1):
            continue
        try:
            unit = "" if command in ("num", "ang") else siunitx_unit(groups[-1])
        except UnitParseError:
            continue
        spelled = {"num": groups[0], "ang": f"{groups[0]}^{{\\circ}}", "si": f"\\text{{{unit}}}", "unit": f"\\text{{{unit}}}"}
        out.append(text[pos : m.start()] + spelled.get(command, f"{groups[0]} \\, \\text{{{unit}}}"))
        pos = end
    return "".join(out) + text[pos:]


_SPELLED_GREEK = re.compile(
    r"(?<![\\A-Za-z])(alpha|beta|gamma|delta|epsilon|varepsilon|zeta|eta|theta|kappa|lambda|sigma|tau|phi|chi|psi|omega|rho|hbar)(?![A-Za-z])"
)
_CALL_PARENS = re.compile(r"\^\s*\(|(?<![A-Za-z])\\?sqrt\s*\(")


def _plain_spelling(text: str) -> str:
    """Math typed as in a program (``-epsilon^(3/8)``, ``1/sqrt(epsilon)``, ``x**2``),
    spelled as LaTeX, so that ``sqrt`` is never read as the product s*q*r*t."""
    text = _SPELLED_GREEK.sub(r"\\\1 ", text.replace("**", "^"))
    out, pos = [], 0
    for m in _CALL_PARENS.finditer(text):
        if m.start() < pos:
            continue
        depth, end = 0, None
        for k in range(m.end() - 1, len(text)):
            depth += {"(": 1, ")": -1}.get(text[k], 0)
            if depth == 0:
                end = k
                break
        if end is None:
            break
        head = "^" if text[m.start()] == "^" else r"\sqrt"
        out.append(text[pos : m.start()] + head + "{" + text[m.end() : end] + "}")
        pos = end + 1
    return "".join(out) + text[pos:]


# ``\begin{pmatrix} a & b \\ c & d \end{pmatrix}`` (also bmatrix and Bmatrix): an ordered
# matrix or vector. Its columns and rows are spelled as commands here so that the rewriting of rows and
# list separators below leaves them alone; `_run_parser` spells them back for the parser.
MATRIX_ENVIRONMENT = re.compile(r"\\begin\s*\{([pbB]matrix)\}(.*?)\\end\s*\{\1\}", re.S)
_MATRIX_MARKS = {r"\MatrixOpen": r"\begin{pmatrix}", r"\MatrixClose": r"\end{pmatrix}", r"\MatrixColumn": "&", r"\MatrixRow": r"\\"}


def _protect_matrices(text: str) -> str:
    def protect(m: re.Match) -> str:
        body = m.group(2).replace("\\\\", r" \MatrixRow ").replace("&", r" \MatrixColumn ")
        return r" \MatrixOpen " + body + r" \MatrixClose "

    return MATRIX_ENVIRONMENT.sub(protect, text)


# ``\begin{cases} v_1, & c_1 \\ v_2, & c_2 \end{cases}``: kept as one braced group ``\Cases{v_1 \CaseIf c_1
# \CaseRow v_2 \CaseIf c_2}``, so that no relation or separator inside it splits the answer around it.
CASES_ENVIRONMENT = re.compile(r"\\begin\s*\{cases\}(.*?)\\end\s*\{cases\}", re.S)
_CASES_BLOCK = re.compile(r"\\Cases\{(.*)\}", re.S)


def _protect_cases(text: str) -> str:
    def protect(m: re.Match) -> str:
        rows = [row.replace("&", r" \CaseIf ", 1).replace("&", " ") for row in m.group(1).split("\\\\") if row.strip()]
        return r"\Cases{" + r" \CaseRow ".join(rows) + "}"

    return CASES_ENVIRONMENT.sub(protect, text)


def _restore_matrices(text: str) -> str:
    for mark, spelled in _MATRIX_MARKS.items():
        text = text.replace(mark, spelled)
    return text


_GROUP_SEPARATOR = r"(?:\\[,;:! ]|\{\\,\}|~)"
_GROUPED_NUMBER = re.compile(rf"(?<![\d.^_])\d+(?:{_GROUP_SEPARATOR}\d+)*(?:\.\d+(?:{_GROUP_SEPARATOR}\d+)*)?(?![\d.])")


def _joined_digit_groups(m: re.Match) -> str:
    """``1\\,200\\,000`` and ``6.022\\,140\\,76`` as one number: digits grouped in threes
    (a fractional part's last group may be shorter); anything else is left as written."""
    whole, _, fraction = m.group(0).partition(".")
    integer_groups = re.split(_GROUP_SEPARATOR, whole)
    fraction_groups = re.split(_GROUP_SEPARATOR, fraction) if fraction else []
    grouped = len(integer_groups) > 1 or len(fraction_groups) > 1
    if not grouped or any(len(g) != 3 for g in integer_groups[1:] + fraction_groups[:-1]):
        return m.group(0)
    if len(integer_groups[0]) > 3 or (fraction_groups and len(fraction_groups[-1]) > 3):
        return m.group(0)
    return "".join(integer_groups) + ("." + "".join(fraction_groups) if fraction else "")


def normalize_latex(latex: str) -> str:
    """A canonical spelling of a LaTeX answer: the same answer typed in the
    usual different ways (``\\dfrac``, ``\\left(``, thin spaces, ``$``, a
    trailing period) gives the same string. Used for the exact-match check and
    as the first step of parsing."""
    if len(latex) > MAX_LATEX_CHARS:
        raise LatexParseError(f"answer longer than {MAX_LATEX_CHARS} characters")
    text = _siunitx_spelling(_plain_spelling(replace_unicode_math(latex)))
    text = ASCII_ELLIPSIS.sub(r"\\ldots ", text)
    text = text.replace("$", "").replace(r"\[", " ").replace(r"\]", " ").replace(r"\(", " ").replace(r"\)", " ")
    text = _unwrap_command(text, r"\boxed")
    text = _protect_cases(_protect_matrices(_ENV.sub(" ", text)))
    text = text.replace(r"\\", " ; ").replace("&", " ")
    text = _DELIMITER_SIZES.sub("", text)
    text = re.sub(r"(?<!\\)\.(?=\s*(?:[)\]}]|\\\}|$))", "", text) if re.search(r"\D\.\s*$", text) else text
    text = text.replace(r"\{", "\x01").replace(r"\}", "\x02")
    text = re.sub(r"(?<=[(\[{\x01\x02)\]}|])\.|\.(?=[(\[{)\]}|])", "", text)  # \left. and \right. leftovers
    text = text.replace("\x01", r"\{").replace("\x02", r"\}")
    text = _FRAC_VARIANTS.sub(r"\\frac", text)
    text = re.sub(r"\\frac\s*(\d)\s*(\d)", r"\\frac{\1}{\2}", text)
    text = re.sub(r"\\frac\s*(\d)\s*(?=\{)", r"\\frac{\1}", text)
    text = re.sub(r"\\sqrt\s*(\d|\\[A-Za-z]+)", r"\\sqrt{\1}", text)
    text = re.sub(r"\^\s*(\\frac\s*\{[^{}]*\}\s*\{[^{}]*\})", r"^{\1}", text)  # x^\frac{1}{4}
    text = _SERIES_TAIL.sub("", text)  # "1 + x + O(x^2)", "a + b + \\ldots": the stated terms are the answer
    text = re.sub(r"\\(?:qquad|quad)(?![A-Za-z])", " ; ", text)
    text = _GROUPED_NUMBER.sub(_joined_digit_groups, text)
    text = _SPACES.sub(" ", text)
    text = text.replace("{,}", "")
    text = re.sub(r"\\text\s*\{\s*\}", " ", text)
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"(?:\s*[;,.])+$", "", text).strip()
    text = re.sub(r"^(?:;\s*)+|(?:\s*;)+$", "", text).strip()
    text = re.sub(r"(?:\s*;\s*)*,(?:\s*;\s*)*", ", ", text)
    text = re.sub(r"(?:\s*;\s*){2,}", " ; ", text)
    return text


# ------------------------------------------------------------------ splitting

_OPENERS = {"{": "}", "(": ")", "[": "]"}
_RELATIONS = [
    (r"\leqslant", "<="),
    (r"\geqslant", ">="),
    (r"\leq", "<="),
    (r"\geq", ">="),
    (r"\le", "<="),
    (r"\ge", ">="),
    (r"\neq", "!="),
    (r"\ne", "!="),
    (r"\approx", "="),
    (r"\simeq", "="),
    (r"\cong", "="),
    (r"\equiv", "="),
    (r"\sim", "="),
    (r"\propto", "propto"),
    (r"\lesssim", "<="),
    (r"\gtrsim", ">="),
    (r"\lessapprox", "<="),
    (r"\gtrapprox", ">="),
    (r"\ll", "<"),
    (r"\gg", ">"),
    (r"\lt", "<"),
    (r"\gt", ">"),
    ("<=", "<="),
    (">=", ">="),
    ("=", "="),
    ("<", "<"),
    (">", ">"),
]
_ARROWS = re.compile(r"\\(?:to|rightarrow|Rightarrow|longrightarrow|leftrightarrow|implies|iff|mapsto)(?![A-Za-z])")


def top_level_scan(text: str):
    """Yield (index, depth) for every character, tracking (), [], {} and \\{ \\}."""
    depth = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in "{}":
            depth += 1 if text[i + 1] == "{" else -1
            i += 2
            continue
        if ch in "{([":
            depth += 1
        elif ch in "})]":
            depth -= 1
        yield i, depth
        i += 1


def split_top_level(text: str, separators: str) -> list[str]:
    """Split on single characters in `separators` that are outside any bracket."""
    pieces, start = [], 0
    for i, depth in top_level_scan(text):
        if depth == 0 and text[i] in separators:
            pieces.append(text[start:i])
            start = i + 1
    pieces.append(text[start:])
    return [p.strip() for p in pieces]


def _split_relation(text: str) -> tuple[list[str], list[str]]:
    """Sides and operators of a top-level relation chain."""
    sides, ops, start = [], [], 0
    depth_at = dict(top_level_scan(text))
    i = 0
    while i < len(text):
        if depth_at.get(i, 1) == 0:
            for token, op in _RELATIONS:
                if text.startswith(token, i) and not (token[0] == "\\" and text[i + len(token) : i + len(token) + 1].isalpha()):
                    sides.append(text[start:i].strip())
                    ops.append(op)
                    i += len(token)
                    start = i
                    break
            else:
                i += 1
                continue
            continue
        i += 1
    sides.append(text[start:].strip())
    return sides, ops


# ------------------------------------------------------------------ symbols and units

_GREEK = (
    "alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi omicron "
    "varpi rho varrho sigma varsigma tau upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Pi "
    "Sigma Upsilon Phi Psi Omega hbar ell partial nabla"
).split()
_CANONICAL_GREEK = {"varepsilon": "epsilon", "vartheta": "theta", "varphi": "phi", "varrho": "rho", "varsigma": "sigma", "varpi": "pi"}
_DECORATIONS = {
    "vec": "vec",
    "mathbf": "vec",
    "boldsymbol": "vec",
    "bm": "vec",
    "overrightarrow": "vec",
    "hat": "hat",
    "widehat": "hat",
    "bar": "bar",
    "overline": "bar",
    "tilde": "tilde",
    "widetilde": "tilde",
    "dot": "dot",
    "ddot": "ddot",
    "dddot": "dddot",
    "mathcal": "cal",
    "mathscr": "cal",
    "mathbb": "bb",
    "mathfrak": "frak",
    "underline": "underline",
    "breve": "breve",
    "check": "check",
    "mathit": "",
}
_NESTED_DECORATION = re.compile(r"\s*\\([A-Za-z]+)\s*(?:\{(.*)\}|(\\?[A-Za-z]+))\s*", re.S)
_UNIT_VECTOR = re.compile(r"(?:vec|hat)\(e\)_([A-Za-z]+)|(?:vec|hat)\(e_([A-Za-z]+)\)")
_TEXT_COMMANDS = ("text", "mathrm", "textrm", "rm", "textit", "textbf", "mathsf", "textnormal", "operatorname", "mbox")
_COMMAND = re.compile(r"\\([A-Za-z]+)")
_NAME_SUPERSCRIPT = re.compile(
    r"\^\s*(?:\{\s*(\\prime(?:\s*\\prime)*|\*|\\ast|\\star|\([^{}()]*\)|[+-]|\\dagger)\s*\}|(\\prime|\*|\\ast|\\dagger|[+-](?![\w{\\(])))"
)
# ``f(0)``, ``\psi(x)``, ``\psi_1(r_2)``, ``E(\mathbf{r})``: a number or one symbol in parentheses after a name.
_SINGLE_ARGUMENT = re.compile(
    r"\s*(?:-?\d+(?:\.\d+)?|(?:\\[A-Za-z]+\s*\{\s*[A-Za-z]\s*\}|\\[A-Za-z]+|[A-Za-z])(?:_(?:\{[^{}]*\}|\\?[A-Za-z0-9]))?'*)\s*"
)
_DELTA_OF = re.compile(r"\s*(\\(?:" + "|".join(g for g in _GREEK if g not in ("partial", "nabla")) + r")(?![A-Za-z])|[A-Za-z](?![A-Za-z]))")
_VERBAL_SEPARATORS = re.compile(r"\\text\s*\{\s*(?:and|or|,|;)\s*\}")


def _canonical_subscript(raw: str) -> str:
    text = raw
    for command in _TEXT_COMMANDS:
        text = _unwrap_command(text, "\\" + command)
    text = re.sub(r"\\(" + "|".join(_CANONICAL_GREEK) + r")(?![A-Za-z])", lambda m: _CANONICAL_GREEK[m.group(1)], text)
    text = text.replace(r"\prime", "'")
    text = re.sub(r"[\s{}\\]", "", text)
    return text


class _AtomScanner:
    """Rewrites LaTeX so that the parser sees only structure: symbols become
    ``\\text{Q<n>}`` and units ``\\text{U<n>}``, recorded in `values`."""

    def __init__(self, imaginary_i: bool = True) -> None:
        self.imaginary_i = imaginary_i  # False where i is a summation index (``\\sum_{i=1}^{A}``)
        self.values: dict[str, sympy.Basic] = {}
        self._names: dict[str, str] = {}
        self._pending_power = ""
        self._group_start = 0

    def _placeholder(self, prefix: str, value: sympy.Basic, key: str) -> str:
        if key not in self._names:
            name = f"{prefix}{len(self.values)}"
            self._names[key] = name
            self.values[name] = value
        return r"\text{" + self._names[key] + "}"

    def symbol(self, name: str) -> str:
        unit_vector = _UNIT_VECTOR.fullmatch(name)
        if unit_vector:  # \mathbf{e}_r, \mathbf{e_r}, \hat{e}_r: the unit vector \hat{r}
            name = f"hat({unit_vector.group(1) or unit_vector.group(2)})"
        return self._placeholder("Q", sympy.Symbol(name), "sym:" + name)

    @staticmethod
    def _product_marker(text: str, i: int) -> str:
        """``\\omega(n+1)`` and ``\\psi(x)`` are read as products, never as calls of
        an unknown function, identically on both sides of a comparison."""
        return r" \cdot " if text[i:].lstrip().startswith("(") else ""

    @staticmethod
    def _call_arguments(text: str, i: int) -> tuple[str, int] | None:
        """``(x, t)``, ``(s_y = 1/2)``, ``(0)`` or ``(x)`` right after a name: the name
        labels a function value (``\\psi(x, t)``, ``I(0)``, ``\\psi_1(r_2)``), kept
        whole as one symbol. Read as a product, ``I(0)`` would be 0 and
        ``\\psi_1(r_1)\\psi_2(r_2) - \\psi_1(r_2)\\psi_2(r_1)`` would vanish.
        Anything longer (``\\omega(n + 1/2)``) is a product."""
        j = i
        while j < len(text) and text[j] == " ":
            j += 1
        if j >= len(text) or text[j] != "(":
            return None
        depth = 0
        for k in range(j, len(text)):
            if text[k] in "({[":
                depth += 1
            elif text[k] in ")}]":
                depth -= 1
                if depth == 0:
                    inside = text[j + 1 : k]
                    if re.search(r"[,=<>]|\\(?:le|ge|leq|geq)(?![A-Za-z])", inside) or _SINGLE_ARGUMENT.fullmatch(inside):
                        return "(" + _canonical_subscript(inside) + ")", k + 1
                    return None
        return None

    def _named(self, name: str, text: str, i: int) -> tuple[str, int]:
        """Placeholder for symbol `name` whose LaTeX ends at i, plus where scanning resumes."""
        call = self._call_arguments(text, i)
        if call is not None:
            return self.symbol(name + call[0]) + self._take_pending_power(), call[1]
        return self.symbol(name) + self._take_pending_power() + self._product_marker(text, i), i

    def unit(self, text: str) -> str:
        return self._placeholder("U", parse_unit(text), "unit:" + text)

    def _braced_or_token(self, text: str, i: int) -> tuple[str, int]:
        """The argument starting at i: a brace group's content, a command, or one character."""
        while i < len(text) and text[i] == " ":
            i += 1
        if i >= len(text):
            raise LatexParseError("missing argument at end of input")
        if text[i] == "{":
            end = braced_group_end(text, i)
            if end is None:
                raise LatexParseError("unbalanced braces")
            return text[i + 1 : end - 1], end
        m = _COMMAND.match(text, i)
        if m:
            return m.group(0), m.end()
        return text[i], i + 1

    def _name_suffix(self, text: str, i: int) -> tuple[str, int]:
        """Primes, a subscript and name-like superscripts (``^*``, ``^{(2)}``, ``^+``) after a base."""
        suffix = ""
        subscript_seen = False
        while i < len(text):
            if text[i] == "'":
                suffix += "'"
                i += 1
                continue
            if text[i] == "_" and not subscript_seen:
                raw, i = self._braced_or_token(text, i + 1)
                if raw in {"\\" + c for c in _TEXT_COMMANDS} or raw.lstrip("\\") in _DECORATIONS:
                    arg, i = self._braced_or_token(text, i)
                    raw = raw + "{" + arg + "}"
                suffix += "_" + _canonical_subscript(raw)
                subscript_seen = True
                continue
            m = _NAME_SUPERSCRIPT.match(text, i)
            if m:
                tag = (m.group(1) or m.group(2)).replace(r"\prime", "'").replace(r"\ast", "*").replace(" ", "")
                suffix += "^" + tag if "'" not in tag else tag
                i = m.end()
                continue
            if text[i] == "^" and not subscript_seen:
                # V^2_\infty: a power written before the subscript; keep the name whole.
                power, j = self._braced_or_token(text, i + 1)
                if text[j : j + 1] == "_":
                    sub_suffix, k = self._name_suffix(text, j)
                    self._pending_power = "^{" + power + "}"
                    return suffix + sub_suffix, k
            break
        return suffix, i

    def _take_pending_power(self) -> str:
        power, self._pending_power = self._pending_power, ""
        return power

    def rewrite(self, text: str) -> str:
        out: list[str] = []
        i = 0
        n = len(text)
        while i < n:
            ch = text[i]
            m = _COMMAND.match(text, i)
            if m:
                command = m.group(1)
                if command in _TEXT_COMMANDS:
                    self._group_start = m.start()
                    content, j = self._braced_or_token(text, m.end())
                    out.append(self._text_group(content, text, j))
                    i = self._after_unit_exponent
                    continue
                if command in _DECORATIONS:
                    content, j = self._braced_or_token(text, m.end())
                    family = _DECORATIONS[command]
                    nested = _NESTED_DECORATION.fullmatch(content)
                    if family in ("vec", "hat") and nested and _DECORATIONS.get(nested.group(1)) in ("vec", "hat"):
                        # \hat{\mathbf{z}}, \mathbf{\hat{z}}: a unit vector, however the two are nested
                        family = "hat" if "hat" in (family, _DECORATIONS[nested.group(1)]) else "vec"
                        content = nested.group(2) or nested.group(3)
                    inner = _canonical_subscript(content)
                    if re.fullmatch(r"\d+", inner):
                        out.append(inner)
                        i = j
                        continue
                    base = f"{family}({inner})" if family else inner
                    suffix, i = self._name_suffix(text, j)
                    emitted, i = self._named(base + suffix, text, i)
                    out.append(emitted)
                    continue
                quantity = _DELTA_OF.match(text, m.end()) if command == "Delta" else None
                if quantity:
                    # "\\Delta E_{2p}", "\\Delta \\lambda": one quantity, the change of E or λ, not Δ times E
                    base = _CANONICAL_GREEK.get(quantity.group(1).lstrip("\\"), quantity.group(1).lstrip("\\"))
                    suffix, i = self._name_suffix(text, quantity.end())
                    emitted, i = self._named("Delta" + base + suffix, text, i)
                    out.append(emitted)
                    continue
                if command in _GREEK or (command == "pi" and re.match(r"\s*(?:_|\^\s*\{?\s*[0+-]\s*\}?)", text[m.end() :])):
                    suffix, i = self._name_suffix(text, m.end())
                    emitted, i = self._named(_CANONICAL_GREEK.get(command, command) + suffix, text, i)
                    out.append(emitted)
                    continue
                if command == "langle":
                    end = text.find(r"\rangle", m.end())
                    if end == -1:
                        raise LatexParseError("\\langle without \\rangle")
                    inner = _canonical_subscript(text[m.end() : end])
                    suffix, i = self._name_suffix(text, end + len(r"\rangle"))
                    emitted, i = self._named("<" + inner + ">" + suffix, text, i)
                    out.append(emitted)
                    continue
                out.append(m.group(0))
                i = m.end()
                continue
            if ch.isalpha() and ch.isascii():
                suffix, j = self._name_suffix(text, i + 1)
                if ch == "e" and not suffix and text[j : j + 1] == "^":
                    out.append(" e")  # e^{x} is the exponential
                elif ch == "i" and not suffix and self.imaginary_i:
                    out.append(" i")
                else:
                    emitted, j = self._named(ch + suffix, text, j)
                    out.append(emitted)
                i = j
                continue
            if ch == "(":
                group = self._subscripted_group(text, i)
                if group is not None:
                    out.append(group[0])
                    i = group[1]
                    continue
            out.append(ch)
            i += 1
        return "".join(out)

    def _subscripted_group(self, text: str, i: int) -> tuple[str, int] | None:
        """``(p_\\mu)_{\\max}``, ``(\\frac{R}{d})_{\\min}``: a parenthesised expression with a
        subscript names one quantity (the placeholder, and where scanning resumes)."""
        depth = 0
        for k in range(i, min(len(text), i + 200)):
            depth += {"(": 1, ")": -1}.get(text[k], 0)
            if depth == 0:
                if not re.match(r"\s*_", text[k + 1 :]) or re.search(r"[=<>,]", text[i:k]):
                    return None
                suffix, j = self._name_suffix(text, k + 1 + text[k + 1 :].index("_"))
                return self._named("(" + _canonical_subscript(text[i + 1 : k]) + ")" + suffix, text, j)
        return None

    def _text_group(self, content: str, text: str, after: int) -> str:
        """A ``\\text{...}`` outside a subscript: a unit, a lone letter, or words."""
        self._after_unit_exponent = after
        stripped = content.strip()
        if stripped in ("d", "e", "i"):
            return " " + stripped + " "
        if re.fullmatch(r"(?i)const(?:ant)?\.?", stripped):
            return self.symbol("const")  # "p V^\\gamma = \\text{const}": one named constant, however spelled
        exponent = re.match(r"\s*\^\s*(\{[^{}]*\}|-?\d)", text[after:])
        unit_text = stripped
        if exponent:
            unit_text = stripped + "^" + exponent.group(1)
        try:
            placeholder = self.unit(unit_text)
            if exponent:
                self._after_unit_exponent = after + exponent.end()
            return placeholder
        except UnitParseError:
            pass
        try:
            return self.unit(stripped)
        except UnitParseError:
            pass
        if re.fullmatch(r"[A-Za-z]{2,20}", stripped) and re.search(r"[\d}]\s*$", text[: self._group_start]):
            # "289 \text{rulings}": a counted noun, kept as a label that must match
            return self.symbol("text(" + stripped + ")")
        raise VerbalAnswerError(f"text that is not a unit: {stripped[:60]!r}")


# "\text{MeV}/c", "\mathrm{GeV}/c^2": the speed of light belongs to the unit, as in "\text{MeV/c}".
# "\text{MeV}/c^2", "\text{GeV/}c^2": an energy unit over a power of c, written half in text
_UNIT_OVER_C = re.compile(
    r"\\(?:text|mathrm|rm)\s*\{\s*([A-Za-zμ]{1,4})\s*(?:\}\s*/|/\s*\})\s*c(?:\s*\^\s*\{?\s*(\d)\s*\}?)?(?![A-Za-z_{])"
)
_IMAGINARY = sympy.Symbol("i")


_CLAUSE_WORD = r"(?:for|if|when|at|where)\b"  # what opens a condition or a definition: "\text{for } r < a"
_INDEX_I = re.compile(r"\\(?:sum|prod)\s*_\s*\{?\s*i\s*=")
_PLUS_MINUS = re.compile(r"\\(pm|mp)(?![A-Za-z])")
# "(3096.9 \pm 0.1)": a measured value and its uncertainty, not two answers
_UNCERTAINTY_TERM = r"\\pm\s*\d*\.?\d+(?=\s*(?:\)|\\right\s*\)|\\times|\\cdot|\\text|\\mathrm|$))"
_UNCERTAINTY = re.compile(r"(?<=\d)\s*" + _UNCERTAINTY_TERM)


def _parse_expression(text: str) -> sympy.Basic:
    """One value. A ``\\pm`` inside it (``\\frac{3 \\pm \\sqrt{3}}{2}\\omega_0^2``, which the
    parser reads only at the top) gives the set of both values, upper signs together and
    ``\\mp`` opposite, as the notation means."""
    try:
        return _parse_one_expression(text)
    except VerbalAnswerError:
        raise
    except LatexParseError:
        if not _PLUS_MINUS.search(text):
            raise
        if _UNCERTAINTY.search(text):
            # "(3096.9 \pm 0.1) \text{ MeV}": a measurement; its value is the central one
            return _parse_one_expression(_UNCERTAINTY.sub("", text))
    upper = _PLUS_MINUS.sub(lambda m: "+" if m.group(1) == "pm" else "-", text)
    lower = _PLUS_MINUS.sub(lambda m: "-" if m.group(1) == "pm" else "+", text)
    return sympy.FiniteSet(_parse_one_expression(upper), _parse_one_expression(lower))


def _parse_one_expression(text: str) -> sympy.Basic:
    if not text:
        raise LatexParseError("empty expression")
    if ":" in text:
        raise LatexParseError("a ':' inside an expression (ratio or mapping) is not supported")
    if _ARROWS.search(text):
        raise VerbalAnswerError("arrow notation (reaction or implication)")
    text = text.replace(r"\%", r"\cdot \frac{1}{100}")
    text = _UNIT_OVER_C.sub(lambda m: r"\text{" + m.group(1) + "/c" + ("^" + m.group(2) if m.group(2) else "") + "}", text)
    text = re.sub(r"\^\s*\{?\s*\\circ\s*\}?", r"\\text{deg}", text)
    text = re.sub(r"\\(?:overset|mathring)\s*(?:\{\s*\\circ\s*\})?\s*\{\s*A\s*\}|\\AA(?![A-Za-z])", r"\\text{Å}", text)
    text = re.sub(r"\\mu\s*\\(?:text|mathrm)\s*\{\s*([A-Za-z]+)\s*\}", r"\\text{μ\1}", text)
    text = _DERIVATIVE.sub(_derivative_name, text)
    text = _LEFT_SCRIPTED.sub(_left_scripted_name, text)
    if _PROSE.search(_TEXT_GROUPS.sub(" ", text)):
        raise VerbalAnswerError("words outside \\text (a sentence, not a formula)")
    text = _BARE_FUNCTIONS.sub(r"\\\1", text)
    text = _SCIENTIFIC.sub(r"\1 \\cdot 10^{\2}", text)
    scanner = _AtomScanner(imaginary_i=not _INDEX_I.search(text))
    rewritten = scanner.rewrite(text)
    # A trailing unit applies to the whole value: "5000 - 5x \text{N}" is (5000 - 5x) N.
    trailing = _TRAILING_UNITS.search(rewritten)
    if (
        trailing
        and trailing.start() > 0
        and rewritten[: trailing.start()].strip()
        and not rewritten[: trailing.start()].rstrip().endswith("/")
    ):
        value = _run_parser(rewritten[: trailing.start()], text)
        if not isinstance(value, sympy.Expr):  # "(3096.9 \pm 0.1) \text{ MeV}": the parser's list of both values
            raise LatexParseError(f"not one value before the unit: {type(value).__name__}")
        expr = value * _run_parser(trailing.group(0).replace(r"\cdot", " "), text)
    else:
        expr = _run_parser(rewritten, text)
    if not isinstance(expr, sympy.Expr) and not isinstance(expr, (sympy.FiniteSet, sympy.MatrixBase)):
        raise LatexParseError(f"not a value: {type(expr).__name__}")
    replacements = {sympy.Symbol(k): v for k, v in scanner.values.items()}
    replacements[_IMAGINARY] = sympy.I
    expr = expr.xreplace(replacements)
    _refuse_indexed_sums(expr)
    return expr


def _refuse_indexed_sums(expr: sympy.Basic) -> None:
    """``\\sum_{i=1}^{4} m_i^2`` sums names indexed by i, which a symbol ``m_i`` cannot
    express (it would read as 4 m_i^2): such an answer is left to the judge, never compared."""
    for bounded in expr.atoms(sympy.Sum, sympy.Product):
        for index in bounded.variables:
            tag = re.compile(r"[_^]\(?" + re.escape(index.name) + r"(?![A-Za-z0-9])")
            named = [s.name for s in bounded.function.free_symbols if isinstance(s, sympy.Symbol) and tag.search(s.name)]
            if named:
                raise IndexedSumError(f"a sum over names indexed by {index.name} ({min(named)}) cannot be read")


# ``\frac{dW}{dz}``, ``\frac{\partial^2 \psi}{\partial x^2}``, ``(\frac{\partial p}{\partial V})_T``: a derivative is one
# name, never the quotient d*W/(d*z) = W/z that a product reading would make of it.
_D = r"(?:\\partial|\\mathrm\s*\{\s*d\s*\}|d)"
_DERIVATIVE = re.compile(
    r"(\(\s*)?\\frac\s*\{\s*" + _D + r"\s*(?:\^\s*\{?\s*(\d)\s*\}?)?\s*([A-Za-z\\][^{}]*?(?:\{[^{}]*\}[^{}]*?)*)\s*\}"
    r"\s*\{\s*" + _D + r"\s*([A-Za-z\\][^{}]*?(?:\{[^{}]*\}[^{}]*?)*)\s*\}(?(1)\s*\)\s*_\s*(\{[^{}]*\}|\\?[A-Za-z]))"
)


# ``^3P_2``, ``{}^1S_0``, ``^{235}\\text{U}``, ``^{14}_7\\text{N}``: a term symbol or a nuclide, one name
# (a superscript with nothing before it is no power). The lower-left atomic number is left out.
_LEFT_SCRIPTED = re.compile(
    r"(?<![\w{})\]])(?:\{\s*\})?\^\s*\{?\s*(\d+)\s*\}?\s*(?:_\s*\{?\s*\d+\s*\}?\s*)?"
    r"(?:\\(?:text|mathrm)\s*\{\s*([A-Z][a-z]?)\s*\}|([A-Z][a-z]?)(?![A-Za-z]))(?:\s*_\s*\{?\s*(\d+(?:/\d+)?)\s*\}?)?"
)


def _left_scripted_name(m: re.Match) -> str:
    return r"\mathit{" + "^" + m.group(1) + (m.group(2) or m.group(3)) + ("_" + m.group(4) if m.group(4) else "") + "}"


def _derivative_name(m: re.Match) -> str:
    order = m.group(2) or ""
    held = "_" + m.group(5) if m.group(5) else ""
    return r"\mathit{D" + order + "(" + m.group(3) + "/" + m.group(4) + ")" + held + "}"


# Two words of three letters or more in a row, outside \text: prose ("E \cdot B are invariant under ..."),
# which must not be read as a product of one-letter symbols. Function names are spelled with a backslash here.
_PROSE = re.compile(
    r"(?<![\\A-Za-z])(?!(?:sinh|cosh|tanh|arcsin|arccos|arctan|sin|cos|tan|cot|sec|csc|exp|ln|log)\b)"
    r"[A-Za-z]{3,}\s+(?!(?:sinh|cosh|tanh|sin|cos|tan|exp|ln|log)\b)[A-Za-z]{3,}(?![A-Za-z])"
)
_TEXT_GROUPS = re.compile(r"\\(?:text|mathrm|textrm|textit|textbf|mathbf|mbox|operatorname|mathit|mathcal)\s*\{[^{}]*\}")
_UNIT_POWER = r"\\text\{U\d+\}(?:\s*\^\s*(?:\{[^{}]*\}|-?\d))?"
# "\text{m}^2/\text{s}": units multiplied or divided, after the value
_TRAILING_UNITS = re.compile(r"\s*" + _UNIT_POWER + r"(?:\s*(?:\\cdot|/)?\s*" + _UNIT_POWER + r")*\s*$")


def _run_parser(rewritten: str, original: str):
    try:
        parsed = latex2sympy(_restore_matrices(rewritten), normalization_config=None, conversion_config=_CONVERSION)
    except RecursionError:
        raise LatexParseError("expression nested too deeply") from None
    except Exception as e:  # the parser signals every syntax problem with a bare Exception
        raise LatexParseError(f"cannot parse {original[:80]!r}: {str(e).splitlines()[0][:80]}") from None
    if isinstance(parsed, (sympy.MatrixBase, sympy.MatrixExpr)):
        try:  # a factor before a matrix (1/sqrt(2) times a vector) is multiplied in
            return sympy.ImmutableMatrix(parsed if isinstance(parsed, sympy.MatrixBase) else parsed.as_explicit())
        except Exception:
            raise LatexParseError(f"cannot read the matrix in {original[:80]!r}") from None
    return parsed


_CONDITION_WORDS = re.compile(r"^\s*(?:\\text\s*\{\s*" + _CLAUSE_WORD + r"\s*\}|" + _CLAUSE_WORD + r")\s*")


def _condition(text: str) -> tuple[Parsed | None, str]:
    """What a ``cases`` row's condition says (``(r < R)``, ``\\text{for } r > a``, ``|x| \\le a``): its parse,
    None when there is none or it cannot be read, and its text."""
    text = _CONDITION_WORDS.sub("", re.sub(r"[\s,;.]+$", "", text)).strip()
    if text.startswith("(") and text.endswith(")") and all(depth >= 0 for _, depth in top_level_scan(text[1:-1])):
        text = text[1:-1].strip()
    try:
        return (_parse_item(text) if text else None), text
    except LatexParseError:
        return None, text


def _parse_cases(body: str) -> Cases:
    branches = []
    for row in body.split(r"\CaseRow"):
        value, _, condition = row.partition(r"\CaseIf")
        value = re.sub(r"[\s,;.]+$", "", value).strip()
        if value:
            branches.append(Case(_parse_item(value), *_condition(condition)))
    if not branches:
        raise LatexParseError("a cases block without values")
    return Cases(tuple(branches))


def _parse_item(text: str) -> Parsed:
    """One list item: a relation (chain), a bracketed tuple, a ``cases`` block, or an expression."""
    block = _CASES_BLOCK.fullmatch(text.strip())
    if block:
        return _parse_cases(block.group(1))
    if re.fullmatch(r"\\text\s*\{[^{}]*\}", text) and not _is_unit_text(text) and not _CONSTANT_TEXT.fullmatch(text):
        raise VerbalAnswerError(f"verbal answer: {text[:60]!r}")
    sides, ops = _split_relation(text)
    if ops:
        if len(ops) == 1 and ops[0] == "=" and not sides[0] and sides[1]:
            return _parse_item(sides[1])  # "\\approx 5", "\\sim 10^{27}": the value alone
        if any(not s for s in sides):
            raise LatexParseError("relation with an empty side")
        flipped = [o.replace(">", "<") for o in ops]
        if len(set(flipped)) > 1:
            raise LatexParseError(f"mixed relation chain {ops}")
        parts = [_left_hand_side(sides[0], ops)]
        parts += [_parse_item(s) for s in sides[1:]]
        first = parts[0]
        if ops == ["="] and isinstance(first, tuple) and all(isinstance(p, tuple) and len(p) == len(first) for p in parts[1:]):
            return parts[1]  # "\sigma_1 : \sigma_2 : \sigma_3 = 9 : 1 : 2", "(a, b) = (1, 2)": the values stated
        if any(isinstance(p, (Relation, tuple)) for p in parts):
            raise LatexParseError("nested relation")
        if ops[0] in (">", ">="):
            parts.reverse()
        return Relation(flipped[0], tuple(parts))
    ratio = split_top_level(text, ":")
    if len(ratio) > 1:
        return Ratio(_parse_item(p) for p in ratio)
    if len(text) > 1 and text[0] in "([" and text[-1] in ")]" and len(split_top_level(text[1:-1], ",")) > 1:
        inner_depths = [d for _, d in top_level_scan(text)][:-1]
        if min(inner_depths) >= 1:
            return tuple(_parse_item(p) for p in split_top_level(text[1:-1], ","))
    return _parse_expression(text)


# Not a name: a sum or integral, a heading ("\text{Eigenvalues:} \lambda_1"), a clause ("\text{where } x").
_NOT_A_NAME = re.compile(r"\\(?:int|oint|iint|sum|prod|lim)(?![A-Za-z])|:|\\text\s*\{\s*(?:" + _CLAUSE_WORD + r"|with\b|and\b)")


def _left_hand_side(text: str, ops: list[str]) -> Parsed:
    """The first side of a relation. ``\\text{phase shift} = \\pi + ...``: a quantity named in words
    is still a name; ``P(+) = \\frac{1}{2}(1 + \\sin 2\\omega t)``: a left-hand side the parser cannot
    read names the quantity the right-hand side states, so it becomes one opaque name (what the
    answer says is its right-hand side; the name only tells equations apart)."""
    named = _TEXT_NAME.fullmatch(text)
    if named:
        return sympy.Symbol("text:" + "_".join(named.group(1).split()))
    try:
        return _parse_item(text)
    except LatexParseError:
        compact = re.sub(r"\s+", "", text)
        top_level_operator = any(depth == 0 and text[i] in "+-" and i > 0 for i, depth in top_level_scan(text))
        if ops != ["="] or len(compact) > 30 or top_level_operator or _NOT_A_NAME.search(text):
            raise
        return sympy.Symbol(compact)


def _is_unit_text(text: str) -> bool:
    return is_unit(re.sub(r"^\\text\s*\{|\}$", "", text))


_TEXT_NAME = re.compile(r"\\text\s*\{\s*([A-Za-z][A-Za-z ]{0,40}?)\s*\}")
_CONSTANT_TEXT = re.compile(r"\\text\s*\{\s*(?i:const(?:ant)?\.?)\s*\}")
_DEFINITION_CLAUSE = re.compile(r"\\text\s*\{\s*where\b|where\b")
_ELLIPSIS = re.compile(r"\s*\\(?:ldots|cdots|dots)\s*")  # "n = 1, 2, 3, \\ldots": the list goes on


def latex_to_sympy(latex: str) -> Parsed:
    """Parse one final answer. Returns a SymPy expression (units as
    sympy.physics.units quantities), a `Relation`, or a tuple of those for a
    list of values (``a = 1, b = 2``). Raises LatexParseError (VerbalAnswerError
    for words) on anything it cannot read."""
    text = normalize_latex(latex)
    text = _VERBAL_SEPARATORS.sub(" ; ", text)
    if not text:
        raise LatexParseError("empty answer")
    items = [p for p in split_top_level(text, ",;") if p and not _ELLIPSIS.fullmatch(p)]
    # "P_1 = \frac{4x}{(1+x)^4}, \text{where } x = \lambda e^{-\epsilon/kT}": the clause defines a name the answer uses
    items = [p for p in items if not _DEFINITION_CLAUSE.match(p)] or items
    if not items:
        raise LatexParseError("empty answer")
    parsed = tuple(_parse_item(p) for p in items)
    return parsed[0] if len(parsed) == 1 else parsed
