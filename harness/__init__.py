"""harness: a benchmark and evaluation harness for foundation models."""

from harness.api import (
    ChatMessage,
    GenerateRequest,
    Generation,
    HarnessError,
    Loglikelihood,
    LoglikelihoodRequest,
    ModelAdapter,
    NoArgs,
    RequestContext,
    Sample,
    Score,
    Task,
)
from harness.registry import register_model, register_steering, register_task

__version__ = "0.1.0"

__all__ = [
    "ChatMessage",
    "GenerateRequest",
    "Generation",
    "HarnessError",
    "Loglikelihood",
    "LoglikelihoodRequest",
    "Metric",
    "ModelAdapter",
    "NoArgs",
    "RequestContext",
    "Sample",
    "Score",
    "Task",
    "register_model",
    "register_steering",
    "register_task",
]


def __getattr__(name: str):
    """`harness.Metric` without importing numpy for every command (metrics.py needs it)."""
    if name == "Metric":
        from harness.metrics import Metric

        return Metric
    raise AttributeError(f"module 'harness' has no attribute {name!r}")
