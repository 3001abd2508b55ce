"""Steered models: `--steer prompt|caa|mi` wraps a local hf adapter (see the README, "Steered models")."""

from harness.adapters.steering import caa, mi, prompt  # noqa: F401 - register the methods
from harness.adapters.steering.wrapper import SteeredAdapter, wrap_with_steering

__all__ = ["SteeredAdapter", "wrap_with_steering"]
