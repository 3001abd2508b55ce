"""Fresh HARDMath problems in the dataset's own templates, each kept only when
its answer key matches the numerical ground truth in every gradable regime.

Wider than the paper's generators: powers up to 20 (the paper: 10), three
coefficient-name styles for symbolic nondimensionalization, up to five terms
and non-integer coefficients for traditional integrals, and the exact
asymptotic constant π/(d sin(π/d)) that the paper's height-times-width keys
leave out. Deterministic for a given seed."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from harness.api import HarnessError
from harness.tasks.hardmath.loader import Problem, normalise_question, problem_kind
from harness.tasks.hardmath.scoring import grade_output
from harness.tasks.hardmath.specs import Laplace, NondimNumeric, parse_spec
from harness.tasks.hardmath.truth import argmax_on_interval, compute_truth, laplace_functions, laplace_leading_order, nondim_numeric_value

GENERATED_KINDS = ("nondim_symbolic", "nondim_numeric", "roots", "integral_traditional", "integral_laplace")
MAX_POWER = 20
_NAME_STYLES = (("a_{1}", "a_{2}", "a_{3}"), ("a", "b", "c"), ("p", "q", "r"))


@dataclass(frozen=True)
class Draft:
    question: str
    solution: str
    question_type: str
    answer_type: str
    answer_val: str


def _fmt(x: float, digits: int = 12) -> str:
    return f"{x:.{digits}g}"


def _poly_latex(terms: list[tuple[float, int]]) -> str:
    """[(−4, 7), (1, 5), (1, 0)] → '- 4 x^{7} + x^{5} + 1' (highest power first)."""
    out = []
    for c, d in sorted(terms, key=lambda t: -t[1]):
        sign = "-" if c < 0 else "+"
        mag = abs(c)
        coef = "" if (mag == 1 and d > 0) else f"{mag:g}"
        var = "" if d == 0 else ("x" if d == 1 else f"x^{{{d}}}")
        out.append(f"{sign} {coef} {var}".replace("  ", " ").strip())
    s = " ".join(out)
    return s[2:] if s.startswith("+ ") else s


def draft_nondim_symbolic(rng: random.Random) -> Draft:
    n1 = rng.randint(2, MAX_POWER)
    n2 = rng.randint(1, n1 - 1)
    a1, a2, a3 = rng.choice(_NAME_STYLES)
    x2 = "x" if n2 == 1 else f"x^{{{n2}}}"
    y2 = "y" if n2 == 1 else f"y^{{{n2}}}"
    plain = [n.replace("{", "").replace("}", "") for n in (a1, a2, a3)]
    q = (
        f"Nondimensionalize the polynomial\\[{a1} x^{{{n1}}} + {a2} {x2} + {a3}\\]into one of the form $\\epsilon y^{{{n1}}} + {y2} + 1.$"
        f"Express $\\epsilon$ as a function of ${plain[0]}$, ${plain[1]}$, and ${plain[2]}.$"
    )
    g = math.gcd(n1, n2)
    answer = f"\\frac{{{a1} \\left(\\frac{{{a3}}}{{{a2}}}\\right)^{{\\frac{{{n1 // g}}}{{{n2 // g}}}}}}}{{{a3}}}"
    sol = f"Substitute $x = y ({plain[2]}/{plain[1]})^{{1/{n2}}}$ and divide by ${plain[2]}$: $\\boxed{{\\epsilon = {answer}}}$."
    return Draft(q, sol, "nondimensionalization_symbolic", "math_expression", answer)


def draft_nondim_numeric(rng: random.Random) -> Draft:
    n1 = rng.randint(2, MAX_POWER)
    n2 = rng.randint(1, n1 - 1)
    c1, c2, c3 = (rng.choice([k for k in range(-10, 11) if k]) for _ in range(3))
    spec = NondimNumeric(n1, n2, c1, c2, c3)
    y2 = "y^{1}" if n2 == 1 else f"y^{{{n2}}}"
    q = (
        f"Nondimensionalize the polynomial \\[P(x) = {_poly_latex([(c1, n1), (c2, n2), (c3, 0)])}\\] into a polynomial of the form "
        f"$\\epsilon y^{{{n1}}} \\pm {y2} \\pm 1$. Solve for $\\epsilon$."
    )
    eps = nondim_numeric_value(spec)
    sol = f"Substitute $x = y (|{c3}|/|{c2}|)^{{1/{n2}}}$ and divide by ${abs(c3)}$: $\\boxed{{\\epsilon \\approx {eps:.2f}}}$."
    return Draft(q, sol, "nondimensionalization_numeric", "float", f"{eps:.2f}")


def _unit_roots_latex(m: int, negative: bool, scale: str) -> list[str]:
    """The m roots of x^m = ±|A| as `scale · e^{iπ(2k+δ)/m}` (δ = 1 for −)."""
    out = []
    scale = "" if m == 1 and not scale else scale.replace("^{-\\frac{1}{1}}", "^{-1}")
    for k in range(m):
        num = 2 * k + (1 if negative else 0)
        g = math.gcd(num, m)
        phase = "" if num == 0 else f" e^{{\\frac{{{num // g} i \\pi}}{{{m // g}}}}}"
        out.append((scale + phase).strip() or "1")
    return out


def draft_roots(rng: random.Random) -> Draft:
    n1 = rng.randint(2, MAX_POWER)
    n2 = rng.randint(1, n1 - 1)
    s2, s3 = rng.choice((1, -1)), rng.choice((1, -1))
    x2 = "x" if n2 == 1 else f"x^{{{n2}}}"
    q = (
        f"Consider the polynomial\\[P(x) =\\epsilon x^{{{n1}}} {'+' if s2 > 0 else '-'} {x2} {'+' if s3 > 0 else '-'} 1.\\] \n"
        "Find approximate expressions for all roots of the polynomials in the limit of small positive $\\epsilon$ and large "
        "positive $\\epsilon$. Only a single term approximation to the root is required. "
    )
    m = n1 - n2
    big = _unit_roots_latex(m, s2 > 0, f"\\epsilon^{{-\\frac{{1}}{{{m}}}}}")  # ε x^m = −s2
    unit = _unit_roots_latex(n2, s3 * s2 > 0, "")  # s2 x^n2 = −s3
    large = _unit_roots_latex(n1, s3 > 0, f"\\epsilon^{{-\\frac{{1}}{{{n1}}}}}")  # ε x^n1 = −s3
    small_list = "\\left[ " + ", ".join(big + unit) + "\\right]"
    large_list = "\\left[ " + ", ".join(large) + "\\right]"
    sol = (
        "Balancing $\\epsilon x^{n_1}$ with the middle term and the middle term with the constant gives the small-$\\epsilon$ roots "
        f"$\\boxed{{{small_list}}}$; balancing $\\epsilon x^{{n_1}}$ with the constant gives the large-$\\epsilon$ roots $\\boxed{{{large_list}}}$."
    )
    return Draft(q, sol, "polynomial_roots", "list", small_list)


def _power_law_latex(c: float, d: float) -> str:
    coef = c ** (-1 / d) * math.pi / (d * math.sin(math.pi / d))
    return f"\\frac{{{coef:.6g}}}{{\\epsilon^{{{1 - 1 / d:.8g}}}}}"


def draft_traditional(rng: random.Random) -> Draft:
    n_terms = rng.randint(1, 5)
    powers = sorted(rng.sample(range(2, MAX_POWER + 1), n_terms))
    coefs = [rng.choice([rng.randint(1, 20), round(rng.uniform(0.5, 20), 1)]) for _ in powers]
    upper = rng.randint(1, 100)
    poly = " + ".join(f"{float(c):.1f} x^{{{float(d):.1f}}}" for c, d in zip(coefs, powers))
    q = (
        f"Consider the integral $I(\\epsilon) = \\int_0^{{{upper:.2f}}} \\frac{{1}}{{\\epsilon + {poly}}} dx$. Develop analytical "
        "formulas that approximate $I(\\epsilon)$ for different regimes of $\\epsilon$."
    )
    answers = [_power_law_latex(coefs[0], powers[0]), _power_law_latex(coefs[-1], powers[-1]), f"\\frac{{{upper}}}{{\\epsilon}}"]
    joined = ", ".join(answers)
    sol = (
        "For small $\\epsilon$ the lowest-degree term sets the width, for large $\\epsilon$ the highest-degree term, and for very "
        "large $\\epsilon$ the integrand is flat; with $\\int_0^\\infty dx/(\\epsilon + c x^d) = \\epsilon^{1/d-1} c^{-1/d} \\pi/(d \\sin(\\pi/d))$ "
        f"the solutions at small, large, and very large $\\epsilon$ are $\\boxed{{{joined}}}$."
    )
    return Draft(q, sol, "integral", "list", joined)


_LAPLACE_BASIS = (
    "t",
    "t^{2}",
    "t^{3}",
    "t^{4}",
    "t^{5}",
    "\\sin{\\left(t \\right)}",
    "\\cos{\\left(t \\right)}",
    "\\operatorname{atan}{\\left(t \\right)}",
)


def _random_function(rng: random.Random, n_terms: int) -> str:
    """A sum of n_terms distinct basis functions with one-decimal coefficients in [-3, 3] (0 → 1)."""
    pieces = []
    for basis in rng.sample(_LAPLACE_BASIS, n_terms):
        c = round(rng.uniform(-3, 3), 1) or 1.0
        pieces.append(f"{'-' if c < 0 else '+'} {abs(c):.1f} {basis}")
    s = " ".join(pieces)
    return s[2:] if s.startswith("+ ") else s


def draft_laplace(rng: random.Random) -> Draft:
    a = round(rng.uniform(-1, 0.5), 1)
    b = round(a + rng.choice([0.3, 0.5, 0.7, 1.0, 1.3]), 1)
    g = _random_function(rng, rng.randint(1, 3))
    f = _random_function(rng, rng.randint(1, 3))
    sign = rng.choice((1, -1))
    q = (
        f"Consider the integral \\par \\begin{{equation}} I(x) = \\int_{{{a}}}^{{{b}}} ({g}) e^{{{'+' if sign > 0 else '-'} x ({f})}} \\, dt "
        "\\end{equation} \\par Develop an analytical formula for $I(x)$ that is accurate as $x \\to \\infty$."
    )
    spec = Laplace(a, b, g, f, sign)
    fns = laplace_functions(spec)
    t0 = argmax_on_interval(fns.h, a, b)
    g0, h0, dh0, d2h0 = fns.g(t0), fns.h(t0), fns.dh(t0), fns.d2h(t0)
    law = laplace_leading_order(fns, a, b, t0)
    if law is None:
        return Draft(q, "", "integral", "math_expression", "")  # leading term vanishes: rejected by verification
    if t0 in (a, b) and abs(dh0) > 1e-9:
        answer = f"\\frac{{{_fmt(g0 / abs(dh0))} e^{{{_fmt(h0)} x}}}}{{x}}"
    else:
        half = 0.5 if t0 in (a, b) else 1.0
        answer = f"{_fmt(half * g0 * math.sqrt(2 / abs(d2h0)))} \\sqrt{{\\frac{{\\pi}}{{x}}}} e^{{{_fmt(h0)} x}}"
    sol = f"The exponent is largest at $t_0 = {t0:.6g}$; Laplace's method gives $\\boxed{{I(x) \\approx {answer}}}$."
    return Draft(q, sol, "integral", "math_expression", answer)


DRAFTERS = {
    "nondim_symbolic": draft_nondim_symbolic,
    "nondim_numeric": draft_nondim_numeric,
    "roots": draft_roots,
    "integral_traditional": draft_traditional,
    "integral_laplace": draft_laplace,
}


def distinct_problems(kind: str) -> int:
    """How many distinct questions a generator can draw (before the key check rejects some)."""
    pairs = MAX_POWER * (MAX_POWER - 1) // 2  # 1 <= n2 < n1 <= MAX_POWER
    if kind == "nondim_symbolic":
        return pairs * len(_NAME_STYLES)
    if kind == "nondim_numeric":
        return pairs * 20**3
    if kind == "roots":
        return pairs * 4
    if kind == "integral_traditional":
        coefficients = len({float(k) for k in range(1, 21)} | {k / 10 for k in range(5, 201)})
        return sum(math.comb(MAX_POWER - 1, k) * coefficients**k for k in range(1, 6)) * 100
    coefficients = len({round(k / 10, 1) or 1.0 for k in range(-30, 31)})
    functions = sum(math.perm(len(_LAPLACE_BASIS), k) * coefficients**k for k in range(1, 4))
    return functions**2 * 16 * 5 * 2  # g, f; lower limit -1.0..0.5; 5 widths; sign of the exponent


def verify_draft(draft: Draft, pid: str) -> tuple[bool, dict]:
    """(key matches the numerics in every gradable regime, the record to write)."""
    problem = Problem(
        pid, problem_kind(draft.question_type, draft.answer_type, draft.question), draft.question, draft.solution, draft.answer_val
    )
    if not draft.solution:
        return False, {}
    truth = compute_truth(problem.kind, parse_spec(problem))
    result = grade_output(problem.kind, truth, draft.solution)
    ok = bool(result.verdicts) and all(v.status == "pass" for v in result.verdicts)
    record = {
        "id": pid,
        "question": draft.question,
        "solution": draft.solution,
        "question_type": draft.question_type,
        "answer_type": draft.answer_type,
        "answer_val": draft.answer_val,
        "kind": problem.kind,
        "key_verified": ok,
        "truth": [
            {"regime": r.name, "status": r.status, "points": list(r.points), "values": list(r.values), "rtol": r.rtol}
            for r in truth.regimes
        ],
    }
    return ok, record


def generate(kind: str, n: int, seed: int) -> list[dict]:
    """n verified problems of `kind`, deterministic for `seed`."""
    if kind not in DRAFTERS:
        raise HarnessError(f"cannot generate type '{kind}'; use one of {', '.join(GENERATED_KINDS)}")
    if not 1 <= n <= distinct_problems(kind):
        raise HarnessError(f"--n {n} is out of range for {kind}: it has {distinct_problems(kind)} distinct problems")
    rng = random.Random(f"hardmath:{kind}:{seed}")
    seen: set[str] = set()
    out: list[dict] = []
    attempts = 0
    while len(out) < n:
        attempts += 1
        if attempts > 50 * n + 1000:
            raise HarnessError(f"only {len(out)} distinct verified {kind} problems after {attempts} draws; ask for fewer with --n")
        draft = DRAFTERS[kind](rng)
        key = normalise_question(draft.question)
        if key in seen:
            continue
        seen.add(key)
        try:
            ok, record = verify_draft(draft, f"{kind}-{seed}-{len(out)}")
        except (ValueError, ArithmeticError):
            continue
        if ok:
            out.append(record)
    return out
