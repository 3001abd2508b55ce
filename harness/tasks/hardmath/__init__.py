"""HARDMath and HARDMath2: asymptotic and approximate applied mathematics, graded numerically."""

from harness.tasks.hardmath import hardmath2, task  # noqa: F401  (register `hardmath` and `hardmath2`)
