"""LaTeX answers → SymPy → numbers, through the shared checker's parser.

HARDMath writes `\\operatorname{atan}` and `a_{1}\\left(...\\right)`; the
clean-up here is spelling only, the parsing itself is the checker's.
Everything in this module may run on model text, so callers run it inside
the checker's sandbox (time and memory limits)."""

from __future__ import annotations

import functools
import re

import mpmath
import sympy

from harness.checker.latex import LatexParseError, Relation, latex_to_sympy

_OPERATORNAMES = {"atan": r"\arctan", "asin": r"\arcsin", "acos": r"\arccos"}


class SeveralValuesError(LatexParseError):
    """The formula reads as several values (a list, a tuple) where a regime asks for one:
    a decided wrong answer, like a box holding several formulas."""


class UnexpectedSymbolError(ValueError):
    """The answer depends on a variable the quantity does not (``x`` in a formula for ε):
    a decided mismatch, not a reading failure."""


def clean_latex(latex: str) -> str:
    """HARDMath spellings the parser does not know, and text that is no part of the formula."""
    s = latex.replace("\\\\", "\\")
    s = re.sub(r"(?<=[A-Za-z])\\_(?=[A-Za-z0-9])", "_", s)  # "min\\_integrand", "t\\_0": names, as code spells them
    s = re.sub(r"^\s*\\?boxed\s*\{\s*\}", "", s)  # "boxed{}\\frac{...}": an empty box before the formula
    s = re.sub(r"\\(?:mathrm|text|rm|mathit)\s*\{\s*[iI]\s*\}", " i ", s)  # the imaginary unit
    s = re.sub(r"\\operatorname\{(a(?:tan|sin|cos))\}", lambda m: _OPERATORNAMES[m.group(1)], s)
    return s.strip().rstrip(".,;").strip()


def symbol_key(symbol: sympy.Symbol) -> str:
    """'a_{1}' / 'a_1' / '\\epsilon' → 'a_1' / 'epsilon': one spelling per variable."""
    return re.sub(r"[{}\\\s]", "", symbol.name)


@functools.lru_cache(maxsize=4096)
def parse(latex: str) -> sympy.Expr:
    """A SymPy expression for `latex` (raises the checker's LatexParseError).
    Cached: root lists repeat the same items, and SymPy trees are immutable."""
    parsed = latex_to_sympy(clean_latex(latex))
    if isinstance(parsed, Relation):  # "y = ...", "I(x) \\approx ...": the formula is the right side
        if parsed.op != "=":
            raise LatexParseError(f"an inequality ({parsed.op}), not a formula")
        parsed = parsed.rhs
    if not isinstance(parsed, sympy.Expr):
        raise SeveralValuesError("several values where one formula was expected")
    return parsed


_FUNCTIONS = {"Gamma": sympy.gamma, "erf": sympy.erf, "erfc": sympy.erfc, "Ai": sympy.airyai, "Bi": sympy.airybi}


def _known_functions(expr: sympy.Expr) -> sympy.Expr:
    """Undefined functions the parser leaves by name (Γ, erf, Airy) → SymPy's."""
    from sympy.core.function import AppliedUndef

    return expr.replace(
        lambda f: isinstance(f, AppliedUndef) and f.func.__name__ in _FUNCTIONS,
        lambda f: _FUNCTIONS[f.func.__name__](*f.args),
    )


def evaluate(expr: sympy.Expr, values: dict[str, float]) -> mpmath.mpc:
    """`expr` at `values` (keyed by `symbol_key`) to 30 digits, in mpmath so
    that e^{±1000} neither overflows nor underflows. Raises ValueError for
    a free symbol without a value or a non-finite result."""
    expr = _known_functions(expr)
    subs = {}
    for s in expr.free_symbols:
        key = symbol_key(s)
        if key in ("e", "E") and key not in values:  # Euler's number written as a letter
            subs[s] = sympy.E
            continue
        if key == "I" and key not in values:  # SymPy's spelling of the imaginary unit
            subs[s] = sympy.I
            continue
        if key not in values:
            raise UnexpectedSymbolError(
                f"the answer depends on '{s}', the quantity only on {', '.join(sorted(values)) or 'nothing (a number)'}"
            )
        subs[s] = sympy.Float(values[key], 30)
    v = expr.evalf(30, subs=subs)
    re_part, im_part = v.as_real_imag()
    if not (re_part.is_number and im_part.is_number):
        raise ValueError(f"does not evaluate to a number: {v}")
    result = mpmath.mpc(mpmath.mpf(sympy.Float(re_part, 30)), mpmath.mpf(sympy.Float(im_part, 30)))
    if not (mpmath.isfinite(result.real) and mpmath.isfinite(result.imag)):
        raise ValueError(f"not finite: {v}")
    return result
