"""The `hardmath2` task: the 215-problem HARDMath2 development set (Roggeveen
et al., 2025; MIT), graded as its authors do, by evaluating the boxed
answer(s) at one random parameter point (each parameter ~ U(1, 2) drawn in the
order listed, numpy seed 42) and comparing the sorted values with rtol 1e-6,
except that an answer that cannot be parsed or evaluated counts as wrong (the
authors leave it out of the denominator)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, Sequence

import mpmath
import numpy as np

from harness.api import ChatMessage, GenerateRequest, HarnessError, Response, Sample, Score, Task
from harness.checker import CheckerPool, LatexParseError, extract_boxed, final_section
from harness.checker.latex import split_top_level
from harness.io import read_jsonl
from harness.metrics import Metric, count_metric, mean_metric
from harness.record import SampleRecord
from harness.registry import register_task
from harness.tasks.hardmath.expressions import evaluate, parse
from harness.tasks.hardmath.loader import DATA_DIR

TYPES = ("boundary_layers", "nonlinear_pde", "wkb", "integrals", "nonlinear_ode", "asympytotic_series", "other")
RTOL, ATOL = 1e-6, 1e-12
INSTRUCTIONS = (
    "Give the final answer in a single $\\boxed{}$. If there are several answers, separate them by semicolons inside "
    "the box. Each must be one expression with no extra definitions and no other text (no limits, no Big-O terms)."
)


@dataclass(frozen=True)
class Hardmath2Problem:
    id: str
    type: str
    prompt: str
    solution: str
    parameters: tuple[str, ...]


def load_hardmath2() -> list[Hardmath2Problem]:
    rows = read_jsonl(DATA_DIR / "hardmath2_dev.jsonl.gz")
    return [
        Hardmath2Problem(
            r["id"], r["type"], r["prompt"], r["solution"], tuple(p.strip() for p in r["parameters"].strip("$ ").split(";") if p.strip())
        )
        for r in rows
    ]


def parameter_point(parameters: tuple[str, ...]) -> dict[str, float]:
    """The authors' point: one U(1, 2) draw per parameter, in order, numpy seed 42."""
    rng = np.random.RandomState(42)
    return {re.sub(r"[{}\\\s$]", "", p): float(rng.uniform(1, 2)) for p in parameters}


def _answer_values(box: str, point: dict[str, float]) -> list[mpmath.mpc]:
    """Every ';'-separated answer in `box`, right-hand sides, evaluated at `point`."""
    text = re.sub(r"\\text\s*\{[^{}]*\}", " ", box)
    items = [re.split(r"\\q?quad", s)[0].strip() for s in split_top_level(text, ";")]
    return [evaluate(parse(item), point) for item in items if item]


def _sorted(values: list[mpmath.mpc]) -> list[complex]:
    return sorted((complex(v) for v in values), key=lambda z: (z.real, z.imag))


def grade_hardmath2(solution: str, output: str, parameters: tuple[str, ...]) -> dict:
    """Verdict for one answer (run inside the sandbox): status correct | wrong | parse_failure | bad_gold."""
    point = parameter_point(parameters)
    try:
        gold = _sorted(_answer_values(extract_boxed(solution)[-1], point))
    except (LatexParseError, ValueError, TypeError, IndexError, ZeroDivisionError, OverflowError) as e:
        return {"status": "bad_gold", "detail": f"the reference answer does not evaluate: {str(e)[:150]}"}
    boxes = extract_boxed(final_section(output or ""))
    if not boxes:
        return {"status": "parse_failure", "detail": "no \\boxed{} answer"}
    try:
        cand = _sorted(_answer_values(boxes[-1], point))
    except (LatexParseError, ValueError, TypeError, ZeroDivisionError, OverflowError) as e:
        return {"status": "parse_failure", "detail": f"{type(e).__name__}: {str(e)[:150]}", "answer": boxes[-1]}
    if len(cand) != len(gold):
        return {"status": "wrong", "detail": f"{len(cand)} answers, the reference has {len(gold)}", "answer": boxes[-1]}
    ok = bool(np.allclose(np.array(cand), np.array(gold), rtol=RTOL, atol=ATOL))
    shown = ", ".join(f"{c:.6g} vs {g:.6g}" for c, g in zip(cand, gold))
    return {"status": "correct" if ok else "wrong", "detail": f"at {point}: {shown} (rtol {RTOL:g})", "answer": boxes[-1]}


@dataclass(frozen=True)
class Hardmath2Args:
    type: Literal["all", "boundary_layers", "nonlinear_pde", "wkb", "integrals", "nonlinear_ode", "asympytotic_series", "other"] = "all"
    max_tokens: int = 8192
    timeout_s: float = 20.0
    workers: int = 2

    def __post_init__(self):
        if self.timeout_s <= 0 or self.workers < 1 or self.max_tokens < 1:
            raise HarnessError("timeout_s must be positive and workers, max_tokens at least 1")


@register_task
class Hardmath2Task(Task):
    name = "hardmath2"
    description = "HARDMath2 dev set (2025): 215 graduate asymptotics problems, answers compared numerically at a parameter point."
    Args = Hardmath2Args

    def __init__(self, args: Hardmath2Args | None = None):
        super().__init__(args)
        self._pool: CheckerPool = self.own(CheckerPool(workers=self.args.workers, preload=("harness.tasks.hardmath.hardmath2",)))
        self.problems = {p.id: p for p in load_hardmath2() if self.args.type in ("all", p.type)}

    def samples(self):
        for p in self.problems.values():
            yield Sample(p.id, (ChatMessage("user", f"{p.prompt}\n\n{INSTRUCTIONS}"),), p.solution, {"type": p.type})

    def requests(self, sample: Sample):
        return [GenerateRequest(prompt=sample.input, max_tokens=self.args.max_tokens, temperature=0.0)]

    def score_batch(self, samples: Sequence[Sample], responses: Sequence[Sequence[Response]]) -> list[Score]:
        jobs = [(s.target, r[0].text or "", self.problems[s.id].parameters) for s, r in zip(samples, responses)]
        outcomes = self._pool.map(grade_hardmath2, jobs, timeout_s=self.args.timeout_s)
        scores = []
        for s, outcome in zip(samples, outcomes):
            verdict = (
                outcome.value
                if outcome.status == "ok"
                else {
                    "status": "timeout" if outcome.status == "timeout" else "parse_failure",
                    "detail": f"checker {outcome.status}: {outcome.error}",
                }
            )
            fields = {"type": s.metadata["type"], "status": verdict["status"]}
            scores.append(Score(float(verdict["status"] == "correct"), verdict.get("answer"), verdict["detail"], fields))
        return scores

    def aggregate(self, records: list[SampleRecord]) -> dict[str, Metric]:
        graded = [r for r in records if r.fields["status"] != "bad_gold"]
        metrics = {"accuracy": mean_metric([r.score for r in graded])}
        for t in TYPES:
            subset = [r.score for r in graded if r.fields["type"] == t]
            if subset:
                metrics[f"accuracy/{t}"] = mean_metric(subset)
        parsed = [r.score for r in graded if r.fields["status"] in ("correct", "wrong")]
        metrics["accuracy_of_parsed"] = mean_metric(parsed)  # the authors' "pass@1"
        n = len(records)
        for status in ("parse_failure", "timeout", "bad_gold"):
            metrics[f"{status}s"] = count_metric(sum(r.fields["status"] == status for r in records), n)
        return metrics
