"""Is a candidate answer equivalent to the gold answer? A chain of small strategies.

Each strategy returns a `Verdict` or None (not applicable); the first verdict
wins, and its `method` records how it was reached. The checks err towards
"not equal": NaN, infinities and zoo never count as equal, a missing or
different unit is a mismatch, relations keep their left-hand sides. What
cannot be decided (words, unparseable text) is `equal=None`, for a judge.
"""

from __future__ import annotations

import dataclasses
import functools
import random
import re
import zlib
from dataclasses import dataclass
from typing import Sequence

import sympy

from harness.checker.boxed import unescaped_braces
from harness.checker.latex import Case, Cases, LatexParseError, Ratio, Relation, VerbalAnswerError, latex_to_sympy, normalize_latex
from harness.checker.matching import max_bipartite_matching
from harness.checker.reading import is_program_text
from harness.checker.units import CONSTANTS, UnitParseError, has_units, is_unit, parse_unit, to_si

DEFAULT_REL_TOL = 0.01
_NON_FINITE = (sympy.nan, sympy.zoo, sympy.oo, -sympy.oo)
_ZERO_ABS_TOL = 1e-12
_EXACT_REL_TOL = 1e-9


@dataclass(frozen=True)
class Verdict:
    """`equal` is True, False, or None when no rule could decide. `method` names
    the deciding strategy (exact, numeric, numeric_precision, symbolic,
    numeric_points, units, unit_mismatch, unit_missing, relation,
    relation_lhs_differs, constants, program_text, list, proportional, non_finite,
    parse_failure, verbal, undecided...); `detail` says why in words."""

    equal: bool | None
    method: str
    detail: str = ""

    def __post_init__(self) -> None:
        # SymPy comparisons yield BooleanTrue/BooleanFalse; callers test `is True`.
        if self.equal is not None:
            object.__setattr__(self, "equal", bool(self.equal))


@dataclass(frozen=True)
class _Settings:
    rel_tol: float
    n_points: int
    seed: int
    stated_tol: float = 0.0  # half a unit in the last digit the gold answer states, relative


_DECIMAL = re.compile(r"(?<![\w.])\d+\.(\d+)(?![\d.])|(?<![\w.])\d+(?![\d.])")
_POWER_OF_TEN = re.compile(r"(?:\\times|\\cdot)?\s*10\s*\^\s*(?:\{[^{}]*\}|-?\d)")


def stated_precision(gold_latex: str) -> float:
    """The relative precision a gold number states: ``0.3 \\times 10^{-2}`` is
    known to half a unit in its last digit (17%), ``3.59 \\times 10^4`` to 0.14%.
    0 when the final value is not one decimal number (integers, formulas,
    several numbers): those are compared at the relative tolerance only."""
    try:
        text = normalize_latex(gold_latex)
    except LatexParseError:
        return 0.0
    value = re.split(r"=|\\approx|\\simeq|\\sim(?![A-Za-z])", text)[-1]
    value = _POWER_OF_TEN.sub(" ", value)
    value = re.sub(r"\\(?:text|mathrm)\s*\{[^{}]*\}", " ", value)
    numbers = list(_DECIMAL.finditer(value))
    if len(numbers) != 1 or not numbers[0].group(1):
        return 0.0
    if re.search(r"[A-Za-z]", re.sub(r"\\[A-Za-z]+", "", value)):
        return 0.0  # a formula with a decimal coefficient
    mantissa = float(numbers[0].group(0))
    if mantissa == 0:
        return 0.0
    return 0.5 * 10 ** -len(numbers[0].group(1)) / mantissa


# ------------------------------------------------------------------ values


def _is_non_finite(expr) -> bool:
    """NaN, zoo or an infinite value; an infinite bound of an integral or sum is fine."""
    if not isinstance(expr, sympy.Basic):
        return False
    bounded = expr.atoms(sympy.Integral, sympy.Sum, sympy.Product, sympy.Limit)
    if bounded:
        expr = expr.xreplace({b: sympy.Dummy() for b in bounded})
    return any(expr.has(v) for v in _NON_FINITE)


def _close(a: sympy.Expr, b: sympy.Expr, rel_tol: float) -> bool:
    """Relative closeness of two evaluated numbers (complex allowed)."""
    scale = max(abs(a), abs(b))
    if scale == 0:
        return True
    if abs(a) == 0 or abs(b) == 0:
        return bool(scale <= _ZERO_ABS_TOL)
    return bool(abs(a - b) <= rel_tol * scale)


def _evaluate(expr: sympy.Expr) -> sympy.Expr | None:
    """A finite number, or None when `expr` does not evaluate to one."""
    value = sympy.N(expr, 20)
    if not value.is_number or _is_non_finite(value):
        return None
    real, imag = value.as_real_imag()
    if not (real.is_Number and imag.is_Number):
        return None
    return real + sympy.I * imag if imag != 0 else real


def _points(symbols: list[sympy.Symbol], settings: _Settings, salt: str) -> list[dict]:
    """Random positive values for the free symbols, log-uniform over 0.05..20:
    positive keeps square roots and logs real; the wide range separates power
    laws (A^{2/3} vs A^{1/3}) that agree near 1. Seeded by the expression text
    so a verdict is reproducible."""
    rng = random.Random(settings.seed * 1_000_003 + zlib.crc32(salt.encode()))
    return [{s: sympy.Float(10 ** rng.uniform(-1.3, 1.3), 20) for s in symbols} for _ in range(settings.n_points)]


def _tolerance(gold, cand, settings: _Settings) -> float:
    """The relative tolerance is for rounded numbers. Two exact expressions
    (no decimals on either side) that are equal agree to many digits, so they
    get a tight tolerance: a wrong term that is small at the sampled points
    cannot hide inside 1%."""
    if gold.atoms(sympy.Float) or cand.atoms(sympy.Float):
        return settings.rel_tol
    return _EXACT_REL_TOL


def _compare_at_points(gold, cand, settings: _Settings) -> bool | None:
    """True if equal at every random point, False if clearly different at one,
    None if the expressions did not evaluate to numbers."""
    symbols = sorted(gold.free_symbols | cand.free_symbols, key=lambda s: s.name)
    tol = _tolerance(gold, cand, settings)
    evaluated = 0
    for point in _points(symbols, settings, str(gold)):
        g, c = _evaluate(gold.xreplace(point)), _evaluate(cand.xreplace(point))
        if g is None or c is None:
            continue
        evaluated += 1
        if not _close(g, c, tol):
            return False
    return True if evaluated else None


def _compare_expressions(gold: sympy.Expr, cand: sympy.Expr, settings: _Settings) -> Verdict:
    if not gold.free_symbols and not cand.free_symbols:
        g, c = _evaluate(gold), _evaluate(cand)
        if g is None or c is None:
            return Verdict(None, "undecided", "a value did not evaluate to a finite number")
        # a bare number is a rounded result even when written as an integer ("145 MeV")
        if _close(g, c, settings.rel_tol):
            return Verdict(True, "numeric", f"{sympy.N(c, 6)} vs {sympy.N(g, 6)} (rel_tol {settings.rel_tol:g})")
        if settings.stated_tol > settings.rel_tol and abs(c - g) < settings.stated_tol * abs(g):
            return Verdict(
                True,
                "numeric_precision",
                f"{sympy.N(c, 6)} vs {sympy.N(g, 6)}: equal at the gold's stated precision (±{settings.stated_tol:.2g})",
            )
        return Verdict(False, "numeric", f"{sympy.N(c, 6)} vs {sympy.N(g, 6)} (rel_tol {settings.rel_tol:g})")
    if sympy.expand(gold - cand) == 0:
        return Verdict(True, "symbolic", "difference expands to 0")
    at_points = _compare_at_points(gold, cand, settings)
    if at_points is not None:
        missing = sorted(str(s) for s in cand.free_symbols - gold.free_symbols)
        extra = sorted(str(s) for s in gold.free_symbols - cand.free_symbols)
        detail = f"{settings.n_points} random points"
        if not at_points and (missing or extra):
            detail += f"; symbols only in candidate: {missing}, only in gold: {extra}"
        return Verdict(at_points, "numeric_points", detail)
    if sympy.simplify(gold - cand) == 0:
        return Verdict(True, "symbolic", "difference simplifies to 0")
    return Verdict(False, "symbolic", "could not show the difference is 0")


def _compare_sets(gold: sympy.FiniteSet, cand: sympy.FiniteSet, settings: _Settings) -> Verdict:
    g, c = list(gold.args), list(cand.args)
    if len(g) != len(c):
        return Verdict(False, "list_length", f"{len(c)} values vs {len(g)}")
    allowed = [[_compare_values(a, b, settings).equal is True for b in c] for a in g]
    matched = len(max_bipartite_matching(allowed))
    return Verdict(matched == len(g), "set", f"{matched}/{len(g)} values matched")


def _compare_values(gold, cand, settings: _Settings) -> Verdict:
    """Two parsed values; when they differ and every symbol left is a named
    physical constant (``\\frac{hc}{\\lambda}`` with λ given, against a number),
    again with the constants' CODATA values."""
    verdict = _compare_plain_values(gold, cand, settings)
    if verdict.equal is True or not isinstance(gold, sympy.Expr) or not isinstance(cand, sympy.Expr):
        return verdict
    symbols = gold.free_symbols | cand.free_symbols
    if not symbols or gold.free_symbols == cand.free_symbols or any(s.name not in CONSTANTS for s in symbols):
        return verdict
    values = {s: CONSTANTS[s.name][0] for s in symbols}
    inner = _compare_plain_values(gold.xreplace(values), cand.xreplace(values), settings)
    if inner.equal is not True:
        return verdict
    used = ", ".join(f"{s.name} = {CONSTANTS[s.name][1]}" for s in sorted(symbols, key=lambda s: s.name))
    return Verdict(True, "constants", f"with named constants ({used}); {inner.method}: {inner.detail}")


def _compare_matrices(gold, cand, settings: _Settings) -> Verdict:
    """Two matrices or vectors, entry by entry in order (a matrix is not a set); a row
    vector and a column vector with the same entries are the same vector."""
    if not (isinstance(gold, sympy.MatrixBase) and isinstance(cand, sympy.MatrixBase)):
        other = cand if isinstance(gold, sympy.MatrixBase) else gold
        if getattr(other, "free_symbols", None):  # "\sigma_x", "\mathbb{1}": names that may stand for matrices
            return Verdict(None, "undecided", "a matrix against an expression whose names may stand for matrices")
        return Verdict(False, "matrix", "one side is a matrix or vector, the other a number")
    note = ""
    if gold.shape != cand.shape:
        if 1 not in gold.shape or 1 not in cand.shape or len(gold) != len(cand):
            return Verdict(False, "matrix", f"shape {cand.shape} vs {gold.shape}")
        note = "; a row vector against a column vector"
    verdicts = [_compare_values(g, c, settings) for g, c in zip(gold, cand)]  # entries row by row
    equal = sum(v.equal is True for v in verdicts)
    if equal == len(verdicts):
        return Verdict(True, "matrix", f"all {equal} entries equal{note}")
    if any(v.equal is False for v in verdicts):
        return Verdict(False, "matrix", f"{equal}/{len(verdicts)} entries equal{note}")
    return Verdict(None, "undecided", f"{equal}/{len(verdicts)} entries equal, the rest undecided{note}")


def _same_condition(gold: Case, cand: Case, settings: _Settings) -> bool | None:
    """Do two ``cases`` rows hold under the same condition? Boundaries are not told apart
    (``r \\leq R`` is ``r < R``); a condition only one side states, or that cannot be
    read, leaves it open (unless written the same)."""
    if not gold.condition_text and not cand.condition_text:
        return True
    if gold.condition is None or cand.condition is None:
        same_text = normalize_latex(gold.condition_text) == normalize_latex(cand.condition_text)
        return True if same_text else None

    def strict(c):
        return Relation("<", c.parts) if isinstance(c, Relation) and c.op == "<=" else c

    return _compare_parsed(strict(gold.condition), strict(cand.condition), settings).equal


def _compare_cases(gold, cand, settings: _Settings) -> Verdict:
    """A ``cases`` answer: every row's value and condition matched one-to-one. Against a single
    value that equals one row's value it is undecided (the other rows may be answered
    elsewhere in the response), against any other value wrong."""
    if not (isinstance(gold, Cases) and isinstance(cand, Cases)):
        cases, single = (gold, cand) if isinstance(gold, Cases) else (cand, gold)
        if any(_compare_parsed(b.value, single, settings).equal is True for b in cases.branches):
            return Verdict(None, "undecided", "one value of a cases answer: its other cases may be answered elsewhere")
        return Verdict(False, "cases", "a cases answer against a single value that is none of its values")
    g, c = gold.branches, cand.branches
    if len(g) != len(c):
        return Verdict(False, "list_length", f"{len(c)} cases vs {len(g)}")
    pairs = [[(_compare_parsed(a.value, b.value, settings).equal, _same_condition(a, b, settings)) for b in c] for a in g]
    equal = len(max_bipartite_matching([[v is True and k is True for v, k in row] for row in pairs]))
    if equal == len(g):
        return Verdict(True, "cases", f"all {equal} cases matched, values and conditions")
    possible = len(max_bipartite_matching([[v is not False and k is not False for v, k in row] for row in pairs]))
    if possible == len(g):
        return Verdict(None, "undecided", f"{equal}/{len(g)} cases matched; the rest undecided")
    return Verdict(False, "cases", f"{equal}/{len(g)} cases matched")


def _compare_plain_values(gold, cand, settings: _Settings) -> Verdict:
    """Two parsed values (expressions, possibly with units, ± sets, matrices, or cases)."""
    if isinstance(gold, Cases) or isinstance(cand, Cases):
        return _compare_cases(gold, cand, settings)
    if _is_non_finite(gold) or _is_non_finite(cand):
        return Verdict(False, "non_finite", "NaN, infinity or zoo never counts as equal")
    if isinstance(gold, sympy.MatrixBase) or isinstance(cand, sympy.MatrixBase):
        return _compare_matrices(gold, cand, settings)
    if isinstance(gold, sympy.FiniteSet) or isinstance(cand, sympy.FiniteSet):
        if isinstance(gold, sympy.FiniteSet) and isinstance(cand, sympy.FiniteSet):
            return _compare_sets(gold, cand, settings)
        return Verdict(False, "set", "one side is a set of values (±), the other is not")
    if not isinstance(gold, sympy.Expr) or not isinstance(cand, sympy.Expr):
        return Verdict(None, "undecided", f"cannot compare {type(gold).__name__} with {type(cand).__name__}")
    gold_units, cand_units = has_units(gold), has_units(cand)
    if not gold_units and not cand_units:
        return _compare_expressions(gold, cand, settings)
    try:
        g_mag, g_unit = to_si(gold) if gold_units else (gold, sympy.Integer(1))
        c_mag, c_unit = to_si(cand) if cand_units else (cand, sympy.Integer(1))
    except UnitParseError as e:
        return Verdict(False, "unit_mismatch", str(e))
    if not gold_units and c_unit != 1:
        stripped = cand.xreplace({q: sympy.Integer(1) for q in cand.atoms(sympy.physics.units.Quantity)})
        inner = _compare_expressions(gold, stripped, settings)
        return Verdict(inner.equal, inner.method, inner.detail + "; candidate unit ignored (gold has none)")
    if g_unit != 1 and not cand_units:
        return Verdict(False, "unit_missing", "the candidate has no unit; the gold answer has one")
    if g_mag != 0 and c_mag != 0 and sympy.powsimp(g_unit / c_unit, force=True) != 1:
        return Verdict(False, "unit_mismatch", f"{c_unit} vs {g_unit}".replace("__si_", ""))
    inner = _compare_expressions(g_mag, c_mag, settings)
    return Verdict(inner.equal, "units", f"in SI units; {inner.method}: {inner.detail}")


# ------------------------------------------------------------------ relations and lists


def _proportional(gold: sympy.Expr, cand: sympy.Expr, settings: _Settings) -> bool | None:
    """Is gold/cand the same nonzero constant at every random point?"""
    symbols = sorted(gold.free_symbols | cand.free_symbols, key=lambda s: s.name)
    ratios = []
    for point in _points(symbols, settings, str(gold)):
        g, c = _evaluate(gold.xreplace(point)), _evaluate(cand.xreplace(point))
        if g is None or c is None or g == 0 or c == 0:
            continue
        ratios.append(g / c)
    if not ratios:
        return None
    tol = _tolerance(gold, cand, settings)
    return all(_close(r, ratios[0], tol) for r in ratios)


def _match_any_side(gold: Relation, value, settings: _Settings) -> Verdict:
    """`value` against the right-hand sides of a gold chain ``a = b = c``, last first."""
    last = Verdict(False, "relation", "no side matched")
    for side in reversed(gold.parts[1:]):
        last = _compare_values(side, value, settings)
        if last.equal:
            break
    return last


def _free_symbols(rel: Relation) -> set:
    return set().union(*(p.free_symbols for p in rel.parts))


def _base_letter(name: str) -> str:
    """The letter a quantity's name is built on: ``E`` for ``E_{K^-}``, ``\\Delta E_{2p}`` and ``\\hat E``."""
    return re.sub(r"^(?:Delta|[a-z]+\()", "", name)[:1]


def _another_name(gold: Relation, cand: Relation, same_letter: bool = False) -> bool:
    """Two left-hand sides that may name one quantity. Never names that differ only in an
    index number (``v_1`` and ``v_2`` are two quantities). A value and its unit, which must
    then agree in number and dimension, under any other name (``u`` for ``E/V``, ``T_\\mu``
    for ``E_{\\mu,kinetic}``, ``f_M`` for ``f_m``). Otherwise both single names, not names
    that differ only in case (``\\omega`` and ``\\Omega``), and, when the value is a bare
    number (which two quantities may share by chance), names on the same letter."""
    g, c = gold.lhs, cand.lhs
    names = isinstance(g, sympy.Symbol) and isinstance(c, sympy.Symbol)
    if names and re.sub(r"\d", "", g.name) == re.sub(r"\d", "", c.name):
        return False
    if has_units(gold.rhs) and has_units(cand.rhs):
        return True
    if not names or re.sub(r"\d", "", g.name).lower() == re.sub(r"\d", "", c.name).lower():
        return False
    numeric = not any(isinstance(p, sympy.Basic) and p.free_symbols for p in gold.parts[1:])
    return (not numeric and not same_letter) or _base_letter(g.name) == _base_letter(c.name)


def _named_with_arguments(gold_lhs, cand_lhs) -> bool:
    """``x(t)`` or ``\\mathbf{B}(r)`` for the gold's ``x`` or ``\\mathbf{B}``: the same
    quantity written with the variables it depends on (symbols, not a value such as ``x(0)``)."""
    if not (isinstance(gold_lhs, sympy.Symbol) and isinstance(cand_lhs, sympy.Symbol)):
        return False
    m = re.fullmatch(r"(.+)\(([A-Za-z_][\w']*(?:,\s*[A-Za-z_][\w']*)*)\)", cand_lhs.name)
    return m is not None and m.group(1) == gold_lhs.name


def _match_right_hand_sides(gold: Relation, cand: Relation, settings: _Settings) -> Verdict | None:
    """The first verdict showing a right-hand side of `cand` equal to one of `gold`, or None."""
    for cand_side in reversed(cand.parts[1:]):
        verdict = _match_any_side(gold, cand_side, settings)
        if verdict.equal is True:
            return verdict
    return None


def _compare_equations(gold: Relation, cand: Relation, settings: _Settings) -> Verdict:
    """Equations whose left-hand sides differ: the same right-hand side under
    another name (``E_{K^-}`` for ``E_K``); equivalent when one is a constant
    multiple of the other (``E = p^2/2m`` and ``2E = p^2/m``), or when solving
    the candidate for the gold's left-hand symbol gives the gold's right side
    (``2mE = p^2``)."""
    g_lhs, c_lhs = gold.lhs, cand.lhs
    same_sides = _match_right_hand_sides(gold, cand, settings) if _another_name(gold, cand) else None
    if same_sides is not None:
        # the same value under another name (E_{K^-} for E_K, \lambda' for \lambda_f)
        return Verdict(
            True,
            "relation_lhs_differs",
            f"left-hand side differs ({c_lhs} vs {g_lhs}); right-hand sides: {same_sides.method}: {same_sides.detail}",
        )
    if isinstance(gold.rhs, (sympy.MatrixBase, Cases)) or isinstance(cand.rhs, (sympy.MatrixBase, Cases)):
        # a matrix or cases under another name (H for \hat{H}), or against names that may stand for matrices
        inner = _compare_values(gold.rhs, cand.rhs, settings)
        return Verdict(inner.equal, inner.method, f"left-hand side differs ({c_lhs} vs {g_lhs}); right-hand sides: {inner.detail}")
    if has_units(gold.rhs) or has_units(cand.rhs):
        return Verdict(False, "relation", "left-hand sides differ; right-hand sides differ")
    if (
        isinstance(g_lhs, sympy.Symbol)
        and isinstance(c_lhs, sympy.Symbol)
        and g_lhs not in _free_symbols(cand)
        and c_lhs not in _free_symbols(gold)
    ):
        return Verdict(
            False, "relation", f"the equations define different quantities ({c_lhs} vs {g_lhs}) and their right-hand sides differ"
        )
    g_diff, c_diff = gold.lhs - gold.rhs, cand.lhs - cand.rhs
    if _proportional(g_diff, c_diff, settings):
        return Verdict(True, "relation", "left-hand sides differ; the equations are constant multiples")
    target = gold.lhs
    if isinstance(target, sympy.Symbol) and target in c_diff.free_symbols and target not in gold.rhs.free_symbols:
        for solution in sympy.solve(c_diff, target):
            if _compare_values(gold.rhs, solution, settings).equal:
                return Verdict(True, "relation", f"candidate solved for {target} matches")
    return Verdict(False, "relation", "left-hand sides differ; the equations are not equivalent")


def _compare_relations(gold: Relation, cand: Relation, settings: _Settings) -> Verdict:
    if gold.op != cand.op:
        return Verdict(False, "relation", f"operator {cand.op} vs {gold.op}")
    if gold.op == "propto":
        same = _proportional(gold.rhs, cand.rhs, settings)
        lhs = _compare_values(gold.lhs, cand.lhs, settings)
        # a law names its quantity: N for \overline{N} is the same one, E for N is not
        renamed = lhs.equal is not True and _another_name(gold, cand, same_letter=True)
        detail = "right-hand sides differ by a constant factor" if same else "not proportional"
        if same and renamed:
            detail += f"; left-hand side differs ({cand.lhs} vs {gold.lhs})"
        return Verdict(bool(same) and (lhs.equal is True or renamed), "proportional", detail)
    lhs = _compare_values(gold.lhs, cand.lhs, settings)
    with_arguments = bool(gold.op == "=" and not lhs.equal and _named_with_arguments(gold.lhs, cand.lhs))
    if gold.op == "=" and (lhs.equal or with_arguments):
        # every side the candidate states must equal some side of the gold chain
        last = Verdict(False, "relation", "no side matched")
        for cand_side in cand.parts[1:]:
            last = _match_any_side(gold, cand_side, settings)
            if not last.equal:
                break
        named = f"same left-hand side ({cand.lhs} for {gold.lhs})" if with_arguments else "same left-hand side"
        return Verdict(last.equal, last.method, f"{named}; right-hand sides: " + last.detail)
    if gold.op == "=":
        return _compare_equations(gold, cand, settings)
    rhs = _compare_values(gold.rhs, cand.rhs, settings)
    ok = bool(lhs.equal) and bool(rhs.equal)
    return Verdict(ok, "relation", f"inequality sides: lhs {lhs.method}, rhs {rhs.method}")


def _compare_ratios(gold: Ratio, cand: tuple, settings: _Settings) -> Verdict:
    """``9:1:2`` against ``18:2:4`` (equal) or ``1:2:9`` (not): in order, up to a common factor."""
    if len(gold) != len(cand):
        return Verdict(False, "list_length", f"{len(cand)} terms vs {len(gold)} in the gold ratio")
    if any(not isinstance(x, sympy.Expr) for x in (*gold, *cand)):
        return Verdict(None, "undecided", "a ratio of relations or lists")
    k = next((i for i, g in enumerate(gold) if g != 0), None)
    if k is None or cand[k] == 0:
        return Verdict(False if k is not None else None, "ratio", "no common scale (a zero term)")
    for g, c in zip(gold, cand):
        verdict = _compare_values(g / gold[k], c / cand[k], settings)
        if verdict.equal is not True:
            return Verdict(verdict.equal, "ratio", f"term {g} : {gold[k]} differs ({verdict.method})")
    return Verdict(True, "ratio", f"all {len(gold)} terms in proportion")


def _list_as(value, items: tuple) -> tuple[sympy.Basic, str] | None:
    """A list read as the kind of value the other side is, with what was read: the values
    ``\\omega_+ = a, \\omega_- = b`` as the set a ``\\pm`` gives (``a \\pm b``), or the entries
    ``(1, i)`` as a vector's, in order. None when the list is not such a value."""
    values = [i.rhs if isinstance(i, Relation) and i.op == "=" else i for i in items]
    if not all(isinstance(v, sympy.Expr) for v in values):
        return None
    if isinstance(value, sympy.FiniteSet) and len(set(values)) == len(values) == len(value):
        return sympy.FiniteSet(*values), "the ± values against the values listed"
    if isinstance(value, sympy.MatrixBase) and 1 in value.shape and len(values) == len(value) and values == list(items):
        return sympy.ImmutableMatrix(values), "a vector against a tuple, in order"
    return None


def _compare_parsed(gold, cand, settings: _Settings) -> Verdict:
    if isinstance(gold, Ratio) and isinstance(cand, tuple):
        return _compare_ratios(gold, cand, settings)
    for one, other in ((gold, cand), (cand, gold)):
        read = _list_as(_value_of(one), other) if isinstance(other, tuple) else None
        if read is not None:
            g, c = (_value_of(gold), read[0]) if one is gold else (read[0], _value_of(cand))
            verdict = _compare_plain_values(g, c, settings)
            return Verdict(verdict.equal, verdict.method, f"{read[1]}; {verdict.detail}")
    if isinstance(gold, tuple) or isinstance(cand, tuple):
        g = gold if isinstance(gold, tuple) else (gold,)
        c = cand if isinstance(cand, tuple) else (cand,)
        if len(g) != len(c):
            return Verdict(False, "list_length", f"{len(c)} items vs {len(g)} in the gold answer")
        verdicts = [[_compare_parsed(a, b, settings) for b in c] for a in g]
        matched = len(max_bipartite_matching([[v.equal is True for v in row] for row in verdicts]))
        if matched == len(g):
            return Verdict(True, "list", f"all {len(g)} items matched one-to-one")
        if any(v.equal is None for row in verdicts for v in row):
            return Verdict(None, "undecided", f"{matched}/{len(g)} items matched; some items undecided")
        return Verdict(False, "list", f"{matched}/{len(g)} items matched")
    if isinstance(gold, Relation) and isinstance(cand, Relation):
        return _compare_relations(gold, cand, settings)
    if isinstance(gold, Relation):
        if gold.op != "=":
            return Verdict(False, "relation", f"gold is a relation ({gold.op}), candidate a value")
        last = _match_any_side(gold, cand, settings)
        return Verdict(last.equal, last.method, "candidate compared with the gold right-hand side; " + last.detail)
    if isinstance(cand, Relation):
        if cand.op != "=":
            return Verdict(False, "relation", f"candidate is a relation ({cand.op}), gold a value")
        inner = _compare_values(gold, cand.rhs, settings)
        return Verdict(inner.equal, inner.method, "candidate right-hand side compared; " + inner.detail)
    return _compare_values(gold, cand, settings)


# ------------------------------------------------------------------ entry point


_UNIT_TEXT = re.compile(r"\\(?:text|mathrm|rm)\s*\{([^{}]*)\}")


def _without_unit_text(latex: str) -> str:
    """The gold answer with every unit written as text removed (``12.2 \\text{ m/s}`` -> ``12.2``)."""
    return _UNIT_TEXT.sub(lambda m: " " if is_unit(m.group(1)) else m.group(0), latex)


_BARE_UNIT_TAIL = re.compile(
    r"(?<=[\d}\s,;~])((?:\\mu\s*|\\Omega\s*|[A-Za-zÅμΩ°])(?:[A-Za-zÅμΩ°/ ]|\^\{?-?\d+\}?|\\cdot\s*|\\,|\\mu\s*|\.(?=[A-Za-z]))*)\s*$"
)


def _bare_unit_read(latex: str) -> tuple[str, str] | None:
    """(the candidate with its unit put in text, the unit) when a number ends in a unit
    written as math (``v = 5 m/s``, ``T = 300K``, ``3 \\times 10^8\\,m/s``), which reads
    as a product of symbols; None when the tail is no unit or no number comes before it."""
    m = _BARE_UNIT_TAIL.search(latex)
    if m is None:
        return None
    value = re.sub(r"(?:\\[,;: ]|~|\s)+$", "", latex[: m.start(1)])
    if not re.search(r"\d$", value) and not re.search(r"10\s*\^\s*\{[^{}]*\}$", value):
        return None
    unit = re.sub(r"\\cdot\s*|\\,", " ", m.group(1)).strip()
    return (f"{value} \\text{{{unit}}}", unit) if is_unit(unit) else None


def _symbols_as_units(parsed) -> tuple[object, str] | None:
    """(`parsed` with the symbols of its value read as the units they spell, their names):
    ``K`` as kelvin in ``\\frac{3\\,K}{2^{1/3}}``; None when one of them spells no unit, or
    when no number comes with them (the answer ``b`` is no barn)."""
    symbols = _value_symbols(parsed)
    values = parsed.parts[1:] if isinstance(parsed, Relation) else (parsed,)
    if not symbols or not all(is_unit(s.name) for s in symbols):
        return None
    if not all(isinstance(v, sympy.Expr) and v.as_coeff_Mul()[0] != 1 for v in values):
        return None
    return _substituted(parsed, {s: parse_unit(s.name) for s in symbols}), ", ".join(sorted(s.name for s in symbols))


def _unit_typed_as_math(gold, cand, gold_latex: str, candidate_latex: str, settings: _Settings) -> Verdict | None:
    """``v = 5 m/s`` typed in math reads as 5 times the symbols m and s: when exactly one
    side has a unit, the other side's letters after its number are read as its unit
    (`_bare_unit_read`), or else its symbols, when each spells a unit (`_symbols_as_units`;
    an acceptance only), as a careful grader reads them; a decided verdict of that reading, or None."""
    gold_units, cand_units = (any(has_units(v) for v in (p.parts[1:] if isinstance(p, Relation) else (p,))) for p in (gold, cand))
    if gold_units == cand_units:
        return None
    side, latex, parsed = ("gold", gold_latex, gold) if cand_units else ("candidate", candidate_latex, cand)  # gold: "10^{-14} J/m^3"
    reading = None
    if (bare := _bare_unit_read(latex)) is not None:
        read, failed = parse_or_verdict(bare[0], side)
        reading = (read, bare[1]) if failed is None else None
    from_symbols = reading is None
    if reading is None:
        reading = _symbols_as_units(parsed)
        if reading is None:
            return None
    read, typed = reading
    inner = _compare_parsed(gold, read, settings) if side == "candidate" else _compare_parsed(read, cand, settings)
    if inner.equal is None or (inner.equal is False and from_symbols):
        return None  # still unequal with its symbols read as units: they may be quantities, so the first verdict stands
    return Verdict(inner.equal, inner.method, f"{inner.detail}; the {side}'s '{typed}' read as its unit")


def check_exact(gold_latex: str, candidate_latex: str) -> Verdict | None:
    """Identical after normalising the spelling (spaces, \\dfrac, \\left...)."""
    try:
        if normalize_latex(gold_latex) == normalize_latex(candidate_latex):
            return Verdict(True, "exact", "same normalised LaTeX")
    except LatexParseError:
        pass
    return None


@functools.lru_cache(maxsize=4096)
def _parse_cached(latex: str) -> tuple[object, str | None, str]:
    """(parsed, failure method, message). Cached per process: a gold answer is
    compared with every box of its problem, and parsing dominates a check."""
    try:
        return latex_to_sympy(latex), None, ""
    except VerbalAnswerError as e:
        return None, "verbal", str(e)
    except LatexParseError as e:
        return None, "parse_failure", str(e)
    except RecursionError:
        return None, "parse_failure", "nested too deeply"
    except MemoryError:
        raise
    except Exception as e:  # a parser bug on odd input is a parse failure, not a crash
        return None, "parse_failure", f"{type(e).__name__}: {str(e)[:120]}"


def parse_or_verdict(latex: str, side: str):
    parsed, failure, message = _parse_cached(latex)
    if failure is not None:
        return None, Verdict(None, failure, f"{side}: {message}")
    return parsed, None


_GOLD_HEADING = re.compile(r"^\s*\\(?:text|textbf|mathrm)\s*\{\s*([^{}]{1,60}?)\s*:\s*\}\s*(?=\S)")


def _gold_repairs(gold_latex: str) -> list[tuple[str, str]]:
    """Readings of a gold answer the parser cannot read as written, each with the
    note its verdicts carry: its unclosed braces closed, a heading (``\\text{H: }``,
    ``\\text{Eigenvalues: }``) set aside, as a careful grader reads it."""
    repairs = []
    closed = _closed_braces(gold_latex)
    if closed is not None:
        repairs.append((closed, "the gold answer's unclosed braces closed at its end"))
    heading = _GOLD_HEADING.match(gold_latex)
    # "\text{direction of magnetic field: } z" states a direction in words: a lone name stays a verbal answer
    if heading and not re.fullmatch(r"\s*\\?[A-Za-z]+\s*", gold_latex[heading.end() :]):
        repairs.append((gold_latex[heading.end() :], f"the gold answer's heading {heading.group(1)!r} set aside"))
    return repairs


def _closed_braces(gold_latex: str) -> str | None:
    """A gold answer whose braces the data set leaves open (``\\frac{L}{\\sqrt{2m[E_0 + G]``),
    closed at its end, or None when its braces balance or close too often. Only gold
    answers are repaired: they are the benchmark's data, a candidate's braces are its own."""
    depth = 0
    for _, ch in unescaped_braces(gold_latex):
        depth += 1 if ch == "{" else -1
        if depth < 0:
            return None
    return gold_latex + "}" * depth if depth else None


_ORDER_OF_MAGNITUDE = re.compile(
    r"\\sim\s*(?:1\s*\\times\s*)?10\s*\^\s*(?:\{\s*-?\d+\s*\}|-?\d)"
    r"(?:\s*(?:\\(?:text|mathrm)\s*\{[^{}]*\}|[A-Za-z]+|/)(?:\s*\^\s*(?:\{\s*-?\d+\s*\}|-?\d))?)*\s*"
)  # "\sim 10^{27}", "\sim 10^{9} \text{ G}", "\sim 10^{27} \text{ m}^{-3}": a power of ten and perhaps a unit


def _symbols_of(parsed) -> set:
    if isinstance(parsed, tuple):
        return set().union(*(_symbols_of(p) for p in parsed))
    if isinstance(parsed, Relation):
        return _free_symbols(parsed)
    return set(getattr(parsed, "free_symbols", ()))


def _value_symbols(parsed) -> set:
    """The symbols a value depends on (a relation's left-hand side is its name, not its value)."""
    return _symbols_of(parsed.parts[1:]) if isinstance(parsed, Relation) else _symbols_of(parsed)


def _substituted(parsed, values: dict):
    """`parsed` with `values` put in, a relation's left-hand side (the name it defines) kept."""
    if isinstance(parsed, Relation):
        return Relation(parsed.op, (parsed.parts[0], *(p.xreplace(values) for p in parsed.parts[1:])))
    if isinstance(parsed, tuple):
        return type(parsed)(_substituted(p, values) for p in parsed)
    return parsed.xreplace(values)


def _magnitude_only(gold, cand, settings: _Settings) -> bool:
    """Does the candidate equal the gold with its unit vectors (``\\hat{\\theta}``) left out?
    ``B = \\frac{\\mu_0 I}{2\\pi r}`` for ``\\frac{\\mu_0 I}{2\\pi r} \\hat{\\theta}``: right when the
    response says "azimuthal" in words, which only a judge can read."""
    directions = {s for s in _symbols_of(gold) if s.name.startswith("hat(")} - _symbols_of(cand)
    if not directions:
        return False
    return _compare_parsed(_substituted(gold, dict.fromkeys(directions, sympy.Integer(1))), cand, settings).equal is True


def _definition_values(gold, cand, definitions: Sequence[str]) -> tuple[dict, list[str]]:
    """The shorthands of the response (``\\omega_0 = \\sqrt{K/m}``) for names the candidate
    uses and the gold answer does not: ({name: value}, the equations used)."""
    extra = _symbols_of(cand) - _symbols_of(gold)
    values, used = {}, []
    for equation in definitions:
        parsed, failed = parse_or_verdict(equation, "definition")
        if failed is None and isinstance(parsed, Relation) and parsed.op == "=" and len(parsed.parts) == 2:
            name, value = parsed.parts
            if name in extra and isinstance(value, sympy.Expr) and name not in value.free_symbols:
                values[name] = value
                used.append(equation)
    return values, used


def _value_of(parsed):
    """What a relation ``x = v`` states (v), or the value itself."""
    return parsed.rhs if isinstance(parsed, Relation) and parsed.op == "=" and len(parsed.parts) == 2 else parsed


def _name_of(parsed):
    """The quantity a relation defines (its left-hand side), or None."""
    return parsed.lhs if isinstance(parsed, Relation) else None


def _name_stem(symbol: sympy.Symbol) -> str:
    """The letter part of a name; ``\\ell`` is a way to write ``l`` (a pendulum's length)."""
    stem = symbol.name.split("_")[0]
    return "l" if stem == "ell" else stem


def _respelled_names(gold, cand) -> dict:
    """Symbols of the candidate's value that are one of the gold's with a subscript added or
    left off (``m_e`` for ``m``, ``V`` for ``V_0``) or written ``\\ell`` for ``l``: {candidate symbol: gold symbol} for the
    pairs where each is the only symbol on its stem in its answer, so nothing else can be
    meant. Two subscripts are two quantities (``v_1`` and ``v_2``, ``E_{e^+}`` and
    ``E_{e^-}``, ``T_C`` and ``T_2``). And ``\\hbar`` for the gold's ``h`` (as ``h/2\\pi``), or
    ``h`` for its ``\\hbar``, when the candidate has only the one and the gold only the other."""
    gold_symbols, cand_symbols = _symbols_of(gold), _symbols_of(cand)
    renames = {}
    for c in _value_symbols(cand) - gold_symbols:
        same_cand = [s for s in cand_symbols if _name_stem(s) == _name_stem(c)]
        same_gold = [s for s in gold_symbols if _name_stem(s) == _name_stem(c)]
        if len(same_cand) == 1 and len(same_gold) == 1 and same_gold[0] not in cand_symbols | {_name_of(gold)}:
            if _name_stem(c) in (c.name, same_gold[0].name):  # one of the two is the bare stem
                renames[c] = same_gold[0]
    planck = {_H: _HBAR * 2 * sympy.pi, _HBAR: _H / (2 * sympy.pi)}
    for c, value in planck.items():
        (other,) = value.free_symbols
        if c in _value_symbols(cand) and other not in cand_symbols and other in gold_symbols and c not in gold_symbols:
            renames[c] = value  # h and \hbar: one constant, two spellings
    return renames


_H, _HBAR = sympy.Symbol("h"), sympy.Symbol("hbar")


def _as_the_response_means(gold, cand, definitions: Sequence[str], rename: bool, settings: _Settings) -> Verdict | None:
    """The candidate read with the response's own shorthands, then (when `rename`) with its
    names in the gold's spelling (`_respelled_names`); a verdict only when that makes it equal."""
    values, used = _definition_values(gold, cand, definitions)
    shorthands = f"; with the response's own {'; '.join(used)}" if used else ""
    expanded = cand
    if values:
        expanded = _substituted(cand, values)
        verdict = _compare_parsed(gold, expanded, settings)
        if verdict.equal is True:
            return Verdict(True, verdict.method, verdict.detail + shorthands)
    names = _respelled_names(gold, expanded) if rename else {}
    if not names:
        return None
    try:
        verdict = _compare_parsed(gold, _substituted(expanded, names), settings)
    except MemoryError:
        raise
    except Exception:  # the reading as written stands
        return None
    if verdict.equal is not True:
        return None
    spelled = ", ".join(f"{c} as {g}" for c, g in sorted(names.items(), key=lambda kv: kv[0].name))
    return Verdict(True, verdict.method, f"{verdict.detail}{shorthands}; the candidate's names read in the gold's spelling: {spelled}")


def verify(
    gold_latex: str,
    candidate_latex: str,
    rel_tol: float = DEFAULT_REL_TOL,
    definitions: Sequence[str] = (),
    n_points: int = 5,
    seed: int = 0,
) -> Verdict:
    """Compare one candidate answer with one gold answer (both LaTeX without $);
    `definitions` are equations ``name = value`` the response states, used for
    names only the candidate has. Pure and possibly slow: run it through
    CheckerPool for untrusted input."""
    exact = check_exact(gold_latex, candidate_latex)
    if exact is not None:
        return exact
    gold, failed = parse_or_verdict(gold_latex, "gold")
    repair = ""
    for repaired, note in _gold_repairs(gold_latex) if failed is not None else []:
        read, not_read = parse_or_verdict(repaired, "gold")
        if not_read is None:
            gold, failed, repair = read, None, note
            break
    if failed is not None:
        return failed
    cand, failed = parse_or_verdict(candidate_latex, "candidate")
    if failed is not None:
        if is_program_text(candidate_latex):
            return Verdict(False, "program_text", "the candidate is program code, not a formula")
        return failed
    settings = _Settings(rel_tol=rel_tol, n_points=n_points, seed=seed, stated_tol=stated_precision(gold_latex))
    try:
        verdict = _compare_parsed(gold, cand, settings)
        if verdict.equal is not True and (typed := _unit_typed_as_math(gold, cand, gold_latex, candidate_latex, settings)) is not None:
            return typed
        if verdict.method == "unit_missing":
            # "12.25" for "12.2 m/s": a bare number is read in the gold's own unit, as a careful grader reads it
            bare_gold, failed = parse_or_verdict(_without_unit_text(gold_latex), "gold")
            if failed is None:
                inner = _compare_parsed(bare_gold, cand, settings)
                if inner.equal is True:
                    return Verdict(True, inner.method, inner.detail + "; the candidate has no unit: read in the gold's unit")
        if verdict.equal is False or (verdict.equal is None and definitions):
            verdict = _as_the_response_means(gold, cand, definitions, verdict.equal is False, settings) or verdict
        if verdict.equal is False and _magnitude_only(gold, cand, settings):
            return Verdict(
                None, "undecided", "the candidate is the gold's magnitude without its unit vector: the direction may be stated in words"
            )
        if verdict.equal is False and _ORDER_OF_MAGNITUDE.fullmatch(normalize_latex(candidate_latex)) and not _value_symbols(gold):
            # "\sim 10^{27}" claims an order of magnitude: right when the gold rounds to that power of ten
            loose = dataclasses.replace(settings, rel_tol=1 - 10**-0.5, stated_tol=0.0)
            inner = _compare_parsed(gold, cand, loose)
            if inner.equal is True:
                return Verdict(True, "order_of_magnitude", "an order-of-magnitude estimate; the gold is within a factor of √10 of it")
        if repair:
            verdict = Verdict(verdict.equal, verdict.method, f"{verdict.detail}; {repair}")
        return verdict
    except RecursionError:
        return Verdict(None, "parse_failure", "expression nested too deeply")
    except MemoryError:
        raise
    except Exception as e:  # any SymPy failure on odd input leaves the pair undecided, never equal
        return Verdict(None, "undecided", f"comparison failed: {type(e).__name__}: {str(e)[:120]}")
