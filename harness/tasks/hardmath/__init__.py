"""HARDMath: asymptotic and approximate applied mathematics, graded numerically per regime."""
from harness.tasks.hardmath import task  # noqa: F401  (registers `hardmath`)
