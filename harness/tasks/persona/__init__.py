"""Personality steering (`persona`) and updateable guidance (`guidance_shift`) tasks."""

from harness.tasks.persona import shift, task  # noqa: F401 - register the tasks
