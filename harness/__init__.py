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
from harness.metrics import Metric
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
