"""Hallucination detection: `halu_limit` (detection in the limit, synthetic) and `halu_detect` (labelled real data)."""

from harness.tasks.halu import detect_task, limit_task  # noqa: F401  (register halu_detect, halu_limit)
