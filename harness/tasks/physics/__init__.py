"""PHYSICS benchmark task (yale-nlp/Physics, MIT)."""

from harness.tasks.physics.task import PhysicsArgs, PhysicsTask

__all__ = ["PhysicsTask", "PhysicsArgs"]
