"""Numeric grading: each regime's answer is evaluated at that regime's points
and compared with the numerical ground truth (truth.py documents the
tolerances). Runs on model text, so `grade_output` is called inside the
checker sandbox."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import mpmath
import numpy as np
from scipy.optimize import linear_sum_assignment

from harness.checker.latex import IndexedSumError, LatexParseError, VerbalAnswerError
from harness.checker.reading import is_program_text, read_answers
from harness.tasks.hardmath.answers import AnswerError, RegimeAnswer, SeveralFormulas, regime_answers
from harness.tasks.hardmath.expressions import SeveralValuesError, UnexpectedSymbolError, evaluate, parse
from harness.tasks.hardmath.truth import GroundTruth, RegimeTruth


@dataclass
class RegimeVerdict:
    """`status`: pass | fail | parse_error (the answer could not be read or evaluated)."""

    regime: str
    status: str
    answer: str | list[str] | None
    max_error: float | None
    detail: str
    values: list[str] | None = None  # [answer, truth] at the first point (scalar regimes)

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class GradeResult:
    """Per-regime verdicts, or `error` when no answer was found at all."""

    verdicts: list[RegimeVerdict]
    error: str | None = None

    @property
    def credit(self) -> float:
        if not self.verdicts:
            return 0.0
        return sum(v.status == "pass" for v in self.verdicts) / len(self.verdicts)


def _relative_error(candidate: mpmath.mpc, truth: mpmath.mpf, regime: RegimeTruth) -> tuple[float, bool]:
    scale = abs(truth - regime.baseline) if regime.baseline is not None else abs(truth)
    diff = abs(candidate - truth)
    ok = diff <= max(regime.rtol * scale, regime.atol)
    return float(diff / scale) if scale else float("inf") if diff else 0.0, bool(ok)


def _grade_scalar(answer: str, regime: RegimeTruth) -> RegimeVerdict:
    expr = parse(answer)
    worst, ok_all, first = 0.0, True, None
    for point, value in zip(regime.points, regime.values):
        candidate = evaluate(expr, point)
        err, ok = _relative_error(candidate, mpmath.mpf(value), regime)
        worst, ok_all = max(worst, err), ok_all and ok
        shown = candidate.real if candidate.imag == 0 else candidate
        first = first or [mpmath.nstr(shown, 8), mpmath.nstr(mpmath.mpf(value), 8)]
    status = "pass" if ok_all else "fail"
    where = ", ".join(f"{k}={v:.6g}" for k, v in regime.points[0].items()) or "the value"
    detail = f"max relative error {worst:.3g} (tolerance {regime.rtol:g}) at {len(regime.points)} point(s); at {where}: answer {first[0]}, truth {first[1]}"
    return RegimeVerdict(regime.name, status, answer, worst, detail, first)


def match_roots_one_to_one(candidates: list[complex], roots: list[complex]) -> float:
    """Largest relative error of the best one-to-one pairing (Hungarian on relative errors)."""
    cand = np.array(candidates, dtype=complex)
    true = np.array(roots, dtype=complex)
    cost = np.abs(cand[:, None] - true[None, :]) / np.abs(true)[None, :]
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].max())


def _grade_roots(answers: list[str], regime: RegimeTruth) -> RegimeVerdict:
    exprs = [parse(a) for a in answers]
    degree = len(regime.values[0])
    if len(exprs) != degree:
        return RegimeVerdict(regime.name, "fail", answers, None, f"{len(exprs)} roots given, the polynomial has {degree}")
    worst = 0.0
    for point, roots in zip(regime.points, regime.values):
        values = [complex(evaluate(e, point)) for e in exprs]
        worst = max(worst, match_roots_one_to_one(values, [complex(r, i) for r, i in roots]))
    status = "pass" if worst <= regime.rtol else "fail"
    return RegimeVerdict(
        regime.name,
        status,
        answers,
        worst,
        f"{degree} roots matched one-to-one, max relative error {worst:.3g} (tolerance {regime.rtol:g})",
    )


def grade_regime(answer: RegimeAnswer | None, regime: RegimeTruth) -> RegimeVerdict:
    if answer is None:
        return RegimeVerdict(regime.name, "fail", None, None, "no answer given for this regime")
    if isinstance(answer, SeveralFormulas):
        n = len(answer.formulas)
        return RegimeVerdict(
            regime.name, "fail", list(answer.formulas), None, f"{n} formulas where the regime asks for one, none of them final"
        )
    try:
        if isinstance(answer, list):
            return _grade_roots(answer, regime)
        return _grade_scalar(answer, regime)
    except UnexpectedSymbolError as e:
        return RegimeVerdict(regime.name, "fail", answer, None, str(e))
    except SeveralValuesError as e:  # a hedge where one formula belongs; in a list of roots, a list we misread
        return RegimeVerdict(regime.name, "parse_error" if isinstance(answer, list) else "fail", answer, None, str(e))
    except IndexedSumError as e:  # a series of unknown coefficients is no closed form
        return RegimeVerdict(regime.name, "fail", answer, None, f"the answer depends on unknown coefficients: {e}"[:300])
    except VerbalAnswerError as e:  # every HARDMath answer is a formula: a sentence in its place is wrong
        return RegimeVerdict(regime.name, "fail", answer, None, f"words where a formula belongs ({e})"[:300])
    except LatexParseError as e:
        if any(is_program_text(a) for a in (answer if isinstance(answer, list) else [answer])):
            return RegimeVerdict(regime.name, "fail", answer, None, "program code or an unfilled template where a formula belongs")
        return RegimeVerdict(regime.name, "parse_error", answer, None, f"{type(e).__name__}: {str(e)[:200]}")
    except (ValueError, TypeError, ZeroDivisionError, OverflowError) as e:
        return RegimeVerdict(regime.name, "parse_error", answer, None, f"{type(e).__name__}: {str(e)[:200]}")


def grade_output(kind: str, truth: GroundTruth, output: str) -> GradeResult:
    """Grade one model output against `truth` (called inside the sandbox)."""
    graded = truth.graded()
    if not graded:
        return GradeResult([], "no regime of this problem has a numerical ground truth")
    try:
        answers = regime_answers(output, kind, tuple(r.name for r in truth.regimes))
    except AnswerError as e:
        boxes = read_answers(output)
        if boxes and all(is_program_text(b.content) for b in boxes):
            return GradeResult([RegimeVerdict(r.name, "fail", None, None, "program code where a formula belongs") for r in graded])
        return GradeResult([], str(e))
    return GradeResult([grade_regime(answers.get(r.name), r) for r in graded])
