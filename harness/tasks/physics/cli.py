"""`harness generate physics-gold-replay`: write the gold answers as a replay file."""

from __future__ import annotations

import click

from harness.registry import create_task, parse_kv
from harness.tasks.physics.replay import write_gold_replay


@click.command("physics-gold-replay")
@click.option("--output", "output", required=True, type=click.Path(dir_okay=False), help="JSONL file to write.")
@click.option("--task-arg", "task_args", multiple=True, help="physics task args (split=all, domain=optics, ...).")
def physics_gold_replay(output: str, task_args: tuple[str, ...]) -> None:
    """Box every problem's gold answers into a replay file for `--model replay:FILE`."""
    task = create_task("physics", parse_kv(task_args, "--task-arg"))
    n = write_gold_replay(task.problems(), output)
    click.echo(f"wrote {n} problems to {output}")
