"""`harness generate hardmath`: write fresh, numerically verified problems."""

from __future__ import annotations

import json
from pathlib import Path

import click

from harness.tasks.hardmath.generate import GENERATED_KINDS, distinct_problems, generate


@click.command("hardmath")
@click.option("--type", "kind", type=click.Choice(GENERATED_KINDS), required=True, help="Problem type to generate.")
@click.option("--n", "n", type=int, default=100, show_default=True, help="Number of problems.")
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same file.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), required=True, help="JSONL file to write.")
def hardmath_command(kind: str, n: int, seed: int, output: Path) -> None:
    """Write N new HARDMath problems of TYPE whose answer keys match the numerics;
    evaluate on them with `harness eval --task hardmath --task-arg data=FILE`."""
    problems = generate(kind, n, seed)
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", encoding="utf-8") as f:
        for rec in problems:
            f.write(json.dumps(rec, sort_keys=True) + "\n")
    click.echo(
        f"wrote {len(problems)} verified {kind} problems to {output} (the generator can produce {distinct_problems(kind):,} distinct problems)"
    )
