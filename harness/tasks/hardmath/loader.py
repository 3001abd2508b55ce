"""HARDMath problems as typed records: the packaged HARDMath-mini, word
problems and shot pool (MIT, sarahmart/HARDMath, see data/LICENSE), or a
JSONL file written by `harness generate hardmath`."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path

from harness.api import HarnessError
from harness.io import read_jsonl

DATA_DIR = Path(__file__).parent / "data"

KINDS = (
    "nondim_symbolic",
    "nondim_numeric",
    "roots",
    "ode",
    "integral_traditional",
    "integral_laplace",
)

_QUESTION_TYPES = {
    "nondimensionalization_symbolic": "nondim_symbolic",
    "nondimensionalization_numeric": "nondim_numeric",
    "nondimentionalization_numeric": "nondim_numeric",  # spelling used by the shot pool
    "polynomial_roots": "roots",
    "ODE": "ode",
}

SUBSET_FILES = {
    "mini": "HARDMath_mini.json.gz",
    "word": "word_problems_HARDMath.json.gz",
    "shots": "HARDMath_shot_examples.json.gz",
}


@dataclass(frozen=True)
class Problem:
    """One HARDMath problem. `kind` is one of KINDS; the stored evaluation
    points are kept for reference only (ground truth is recomputed)."""

    id: str
    kind: str
    question: str
    solution: str
    answer_val: str
    stored_large_eval_point: float | None = None


def problem_kind(question_type: str, answer_type: str, question: str) -> str:
    if question_type == "integral":
        # Word problems label traditional integrals math_expression, so look at the integrand.
        return "integral_traditional" if "\\frac{1}{\\epsilon" in question else "integral_laplace"
    if question_type not in _QUESTION_TYPES:
        raise HarnessError(f"unknown HARDMath question_type '{question_type}'; expected one of {sorted(_QUESTION_TYPES)}")
    return _QUESTION_TYPES[question_type]


def _record_to_problem(pid: str, rec: dict, where: str) -> Problem:
    for key in ("question", "question_type", "answer_type"):
        if key not in rec:
            raise HarnessError(f"{where}: problem {pid} has no '{key}' field; write problems with `harness generate hardmath`")
    large = rec.get("large_eval_point")
    return Problem(
        id=str(pid),
        kind=problem_kind(rec["question_type"], rec["answer_type"], rec["question"]),
        question=rec["question"],
        solution=rec.get("solution") or "",
        answer_val=str(rec.get("answer_val") or ""),
        stored_large_eval_point=float(large) if large is not None else None,
    )


def load_subset(subset: str) -> list[Problem]:
    """The packaged problems of `subset` ('mini', 'word' or 'shots') in key order."""
    with gzip.open(DATA_DIR / SUBSET_FILES[subset], "rt", encoding="utf-8") as f:
        raw = json.load(f)
    items = raw.items() if isinstance(raw, dict) else ((str(i), r) for i, r in enumerate(raw))
    return [_record_to_problem(pid, rec, subset) for pid, rec in items]


def load_jsonl(path: str | Path) -> list[Problem]:
    """Problems from a JSONL file (one problem per line with an `id`)."""
    p = Path(path)
    if not p.is_file():
        raise HarnessError(f"task arg data={path}: no such file; pass a JSONL file written by `harness generate hardmath`")
    problems = [_record_to_problem(str(rec.get("id", n)), rec, f"{path}:{n + 1}") for n, rec in enumerate(read_jsonl(p))]
    ids = [pr.id for pr in problems]
    if len(set(ids)) != len(ids):
        raise HarnessError(f"{path}: duplicate problem ids; give every line a distinct 'id'")
    return problems


def normalise_question(question: str) -> str:
    """Whitespace- and backslash-insensitive key for duplicate detection
    (the symbolic questions spell epsilon with a doubled backslash)."""
    return " ".join(question.replace("\\\\", "\\").split())


def dedupe(problems: list[Problem]) -> list[Problem]:
    """Keep the first problem of each distinct question (HARDMath-mini: 308 of 366)."""
    seen: set[str] = set()
    out = []
    for p in problems:
        key = normalise_question(p.question)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out
