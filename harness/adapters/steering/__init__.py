"""Steered models: `--steer prompt|caa|mi` wraps a local hf adapter (see the README, "Steered models")."""
from harness.adapters.steering import caa, mi, prompt  # noqa: F401 - register the methods
from harness.adapters.steering.wrapper import UNSTEERED, SteeredAdapter, wrap_with_steering

__all__ = ["UNSTEERED", "SteeredAdapter", "wrap_with_steering"]
