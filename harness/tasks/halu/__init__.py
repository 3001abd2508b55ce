"""Hallucination detection: `halu_limit` (detection in the limit, synthetic) and `halu_detect` (labelled real data)."""
from harness.tasks.halu import limit_task  # noqa: F401  (registers halu_limit)
