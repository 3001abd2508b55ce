"""Read the mathematical content of a HARDMath question (coefficients, powers,
integration limits, integrand, ODE right-hand side) into typed specs, so that
the ground truth is computed from the problem itself and never from its key.

The questions come from our packaged data or our own generator, both in the
templates of the HARDMath generators; a question that does not fit raises
SpecError and the problem is reported as ungradable."""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness.tasks.hardmath.loader import Problem


class SpecError(ValueError):
    """The question text does not match its type's template."""


@dataclass(frozen=True)
class NondimSymbolic:
    """a1 x^n1 + a2 x^n2 + a3 → ε y^n1 + y^n2 + 1; `names` are the coefficient symbols."""

    n1: int
    n2: int
    names: tuple[str, str, str]


@dataclass(frozen=True)
class NondimNumeric:
    """c1 x^n1 + c2 x^n2 + c3 → ε y^n1 ± y^n2 ± 1."""

    n1: int
    n2: int
    c1: float
    c2: float
    c3: float


@dataclass(frozen=True)
class Roots:
    """P(x) = ε x^n1 + s2 x^n2 + s3 with s2, s3 = ±1."""

    n1: int
    n2: int
    s2: int
    s3: int


@dataclass(frozen=True)
class Traditional:
    """I(ε) = ∫_0^upper dx / (ε + Σ c x^d), terms sorted by power."""

    upper: float
    terms: tuple[tuple[float, float], ...]  # (coefficient, power)


@dataclass(frozen=True)
class Laplace:
    """I(x) = ∫_a^b g(t) exp(sign · x · f(t)) dt with g, f in LaTeX."""

    a: float
    b: float
    g_latex: str
    f_latex: str
    sign: int


@dataclass(frozen=True)
class Ode:
    """y''' = rhs(x, y, y', y'') with y(0), y'(0), y''(0); `rhs_latex` uses
    u for y' and v for y''. `regimes` are those the question asks for."""

    rhs_latex: str
    initial: tuple[float, float, float]
    regimes: tuple[str, ...]


Spec = NondimSymbolic | NondimNumeric | Roots | Traditional | Laplace | Ode

_NUM = r"\d+(?:\.\d+)?"
_TERM = re.compile(rf"([+-])?\s*({_NUM})?\s*(x(?:\s*\^\s*\{{?\s*({_NUM})\s*\}}?)?)?")


def parse_polynomial(text: str) -> dict[float, float]:
    """'- 4 x^{7} + x^{5} + 1' → {7: -4, 5: 1, 0: 1}. Raises SpecError on anything else."""
    s = text.strip().rstrip(".,").strip()
    terms: dict[float, float] = {}
    pos = 0
    while pos < len(s):
        m = _TERM.match(s, pos)
        if not m or m.end() == pos or (m.group(2) is None and m.group(3) is None):
            raise SpecError(f"cannot read polynomial term at '{s[pos : pos + 20]}'")
        sign = -1.0 if m.group(1) == "-" else 1.0
        coef = float(m.group(2)) if m.group(2) else 1.0
        power = 0.0 if m.group(3) is None else float(m.group(4) or 1)
        terms[power] = terms.get(power, 0.0) + sign * coef
        pos = m.end()
        while pos < len(s) and s[pos] in " \\,":
            pos += 1
    return terms


def _find(pattern: str, text: str, what: str, flags: int = 0) -> re.Match:
    m = re.search(pattern, text, flags)
    if not m:
        raise SpecError(f"no {what} in question")
    return m


def _nondim_symbolic(q: str) -> NondimSymbolic:
    sym = r"([A-Za-z](?:_\{?\d\}?)?)"
    m = _find(rf"{sym}\s*([xt])\^\{{(\d+)\}}\s*\+\s*{sym}\s*\2(?:\^\{{(\d+)\}})?\s*\+\s*{sym}\s*[.,\\]", q, "symbolic polynomial")
    names = tuple(re.sub(r"[{}]", "", m.group(i)) for i in (1, 4, 6))
    return NondimSymbolic(int(m.group(3)), int(m.group(5) or 1), names)  # type: ignore[arg-type]


def _nondim_numeric(q: str) -> NondimNumeric:
    m = _find(r"=\s*(.*?)\.?\s*\\\]", q, "polynomial P(x) = ...", re.S)
    terms = parse_polynomial(m.group(1))
    powers = sorted((p for p in terms if p > 0), reverse=True)
    if len(powers) != 2 or 0 not in terms:
        raise SpecError("expected a three-term polynomial c1 x^n1 + c2 x^n2 + c3")
    n1, n2 = powers
    return NondimNumeric(int(n1), int(n2), terms[n1], terms[n2], terms[0])


def _roots(q: str) -> Roots:
    m = _find(r"\\epsilon\s*x\^\{(\d+)\}\s*([+-])\s*x(?:\^\{(\d+)\})?\s*([+-])\s*1", q, "polynomial ε x^n1 ± x^n2 ± 1")
    return Roots(int(m.group(1)), int(m.group(3) or 1), 1 if m.group(2) == "+" else -1, 1 if m.group(4) == "+" else -1)


def _traditional(q: str) -> Traditional:
    m = _find(r"\\int_0\^\{?\s*(" + _NUM + r")\s*\}?\s*\\frac\{1\}\{\\epsilon\s*\+\s*(.*?)\}\s*\\?,?\s*dx", q, "integral of 1/(ε + P(x))")
    terms = parse_polynomial(m.group(2))
    if not terms or any(p <= 0 or c <= 0 for p, c in terms.items()):
        raise SpecError("expected P(x) with positive coefficients and powers")
    return Traditional(float(m.group(1)), tuple(sorted(((c, p) for p, c in terms.items()), key=lambda t: t[1])))


def _balanced(text: str, start: int) -> int:
    """Index just after the parenthesis group opening at text[start] == '('."""
    depth = 0
    for i in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return i + 1
    raise SpecError("unbalanced parentheses")


def _laplace(q: str) -> Laplace:
    m = _find(rf"\\int_\{{(-?{_NUM})\}}\^\{{(-?{_NUM})\}}\s*\(", q, "integral ∫_a^b (g) e^(±x f) dt")
    g_end = _balanced(q, m.end() - 1)
    e = re.compile(r"\s*e\^\{\s*([+-])\s*x\s*\(").match(q, g_end)
    if not e:
        raise SpecError("no exponential factor e^{± x (f)} after g(t)")
    f_start = e.end() - 1
    f_end = _balanced(q, f_start)
    return Laplace(float(m.group(1)), float(m.group(2)), q[m.end() : g_end - 1], q[f_start + 1 : f_end - 1], 1 if e.group(1) == "+" else -1)


def _ode(q: str) -> Ode:
    m = _find(r"y'''\s*=\s*(.*?),?\s*\$\$", q, "equation y''' = ...", re.S)
    rhs = m.group(1).replace("y''", "v").replace("y'", "u")
    initial = []
    for prime in ("", "'", "''"):
        im = _find(rf"y{prime}\(0\)\s*&?=\s*(-?{_NUM})", q, f"initial condition y{prime}(0)")
        initial.append(float(im.group(1)))
    asks_small = re.search(r"small\s*\$?\s*x", q) is not None
    regimes = ("small", "large") if asks_small else ("large",)
    return Ode(rhs, tuple(initial), regimes)  # type: ignore[arg-type]


_PARSERS = {
    "nondim_symbolic": _nondim_symbolic,
    "nondim_numeric": _nondim_numeric,
    "roots": _roots,
    "integral_traditional": _traditional,
    "integral_laplace": _laplace,
    "ode": _ode,
}


def parse_spec(problem: Problem) -> Spec:
    """The spec of `problem`; raises SpecError when its question does not fit the template."""
    return _PARSERS[problem.kind](problem.question.replace("\\\\", "\\"))
