"""Tasks for the scaling tests, loaded with --include: slow enough to be interrupted mid-run."""

import os
import time

from harness.registry import register_task
from harness.tasks.smoke import SmokeGen


@register_task
class SlowGen(SmokeGen):
    """smoke-gen whose scoring sleeps SLOW_TASK_DELAY seconds (default 0.3) per sample,
    so a worker, a server or the harness itself can be killed between two chunks."""

    name = "slow-gen"
    description = "test task: smoke-gen scored slowly"

    def score(self, sample, responses):
        time.sleep(float(os.environ.get("SLOW_TASK_DELAY", "0.3")))
        return super().score(sample, responses)
