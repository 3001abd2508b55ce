"""Assign-and-Add (Exoo, Bietti, Sous 2026): task, generator, the paper's model,
trainer and diagnostics. Importing the package registers the `assign_add` task;
the torch-based modules (model, train, analyze) are imported only when used."""

from harness.tasks.assign_add.task import AssignAddTask

__all__ = ["AssignAddTask"]
