"""Prompts: the paper's system prompt and question/solution layout, with
hints that ask for the answer layout our scorer reads, and few-shot
examples drawn from the shot pool (the training split), never from the
evaluated problems."""

from __future__ import annotations

import random

from harness.api import ChatMessage
from harness.tasks.hardmath.loader import Problem, load_subset
from harness.tasks.hardmath.reference import reference_output

SYSTEM_PROMPT = (
    "You are a helpful assistant designed to help with advanced applied mathematics problems, specifically "
    "focusing on tasks like nondimensionalizing polynomials, using approximation methods to solve for polynomial "
    "roots, PDEs, integrals, etc. When given a physical math question, you should answer the question according "
    "to the user's prompt."
)

HINTS = {
    "nondim_symbolic": "Put the final answer, a formula for \\epsilon in terms of the coefficients, in \\boxed{}.",
    "nondim_numeric": "Put the final answer, the value of \\epsilon as a number with two decimals, in \\boxed{}.",
    "roots": (
        "Give the final answer as two lists of single-term formulas in \\epsilon, one root per entry: "
        "\\boxed{[...]} for small positive \\epsilon, then \\boxed{[...]} for large positive \\epsilon."
    ),
    "ode": "Give the final answer as \\boxed{[y = <small x formula>, y = <large x formula>]}.",
    "integral_traditional": (
        "Give the final answer as \\boxed{<small \\epsilon formula>, <large \\epsilon formula>, <very large \\epsilon formula>}."
    ),
    "integral_laplace": "Put the final answer, a formula for I(x) valid as x \\to \\infty, in \\boxed{}.",
}
WORD_ODE_HINT = "Put the final answer, a formula for y(x) in the large x regime, in \\boxed{}."


def shot_pool() -> dict[str, list[Problem]]:
    pool: dict[str, list[Problem]] = {}
    for p in load_subset("shots"):
        pool.setdefault(p.kind, []).append(p)
    return pool


def pick_shots(pool: dict[str, list[Problem]], kind: str, k: int, seed: int, sample_id: str) -> list[Problem]:
    """k examples of the same type, seeded by (seed, sample id) so runs repeat."""
    candidates = pool.get(kind, [])
    return random.Random(f"{seed}:{sample_id}").sample(candidates, min(k, len(candidates)))


def build_messages(problem: Problem, hint: str, shots: list[Problem]) -> tuple[ChatMessage, ...]:
    demo = "".join(f"Example question: {s.question}\nExample solution: {reference_output(s)}\n" for s in shots)
    user = (demo + "\n\n" if demo else "") + f"Question: {problem.question}\nHint: {hint}\nSolution: "
    return (ChatMessage("system", SYSTEM_PROMPT), ChatMessage("user", user.strip()))
