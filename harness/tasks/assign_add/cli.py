"""CLI commands of the Assign-and-Add family: `harness train assign-add` and
`harness analyze assign-add`. Heavy imports (torch) happen inside the commands."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import click

from harness.api import HarnessError


@click.command("assign-add")
@click.option("--steps", type=int, required=True, help="Train up to this many optimizer steps (resumes a run already in --output).")
@click.option("--output", type=click.Path(path_type=Path, file_okay=False), required=True, help="Run directory.")
@click.option("--seed", type=int, default=0, show_default=True, help="Initial weights and data stream.")
@click.option("--eval-every", type=int, default=100, show_default=True, help="Evaluate the nine pools every K steps.")
@click.option("--eval-n", type=int, default=1000, show_default=True, help="Sequences per pool at each evaluation.")
@click.option("--checkpoint-every", type=int, default=500, show_default=True)
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice; 1 is faster on a busy machine).")
@click.option("--batch-size", type=int, default=512, show_default=True)
@click.option("--lr", type=float, default=1e-3, show_default=True)
@click.option("--weight-decay", type=float, default=0.02, show_default=True)
@click.option("--pairs-frac", type=float, default=0.7, show_default=True, help="Fraction of number pairs seen in training.")
@click.option("--partition-seed", type=int, default=42, show_default=True, help="Seed of the pair split (42 = the paper's).")
@click.option("--two-var-frequency", type=float, default=1.0, show_default=True, help="Keep this fraction of 2-var training rows.")
@click.option("--init", default=None, help="Start from these weights, e.g. released/ck_1 (the paper's initialisation).")
@click.option(
    "--stop-at",
    type=click.Choice(["none", "phase1", "phase2", "phase3"]),
    default="none",
    show_default=True,
    help="Stop at the first evaluation that shows this phase.",
)
@click.option(
    "--precision",
    type=click.Choice(["bf16", "fp32"]),
    default="bf16",
    show_default=True,
    help="Forward pass of a training step: bf16 autocast (the paper's run) or float32.",
)
def train_cmd(output: Path, threads: int | None, **options) -> None:
    """Train the Assign-and-Add transformer from scratch (paper settings), logging
    the nine pool accuracies to metrics.csv and phases.png in OUTPUT."""
    import torch

    from harness.tasks.assign_add.train import TrainConfig, train

    if threads is not None:
        if threads < 1:
            raise HarnessError(f"--threads {threads}: use 1 or more")
        torch.set_num_threads(threads)
    summary = train(output, TrainConfig(**options), log=click.echo)
    click.echo(f"trained to step {summary.step} in {output} ({summary.steps_per_s} steps/s, {summary.threads} threads, {summary.device})")
    for phase, hit in summary.phases.items():
        click.echo(f"  {phase}: " + (f"step {hit['step']} after {hit['wall_seconds']} s" if hit else "not reached"))
    click.echo(f"evaluate with: harness eval --model assign-add:{output} --task assign_add")


@click.command("assign-add")
@click.option("--model", "model_spec", required=True, help="assign-add:<released/NAME | .pth | run dir>")
@click.option("--all-checkpoints", is_flag=True, help="For a run directory: every checkpoint, not only the latest.")
@click.option("--n", "n_per_pool", type=int, default=512, show_default=True, help="Probe sequences per pool (0/1/2-var).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--output", type=click.Path(path_type=Path, dir_okay=False), default=None, help="Also write the rows to a .json or .csv file."
)
def analyze_cmd(model_spec: str, all_checkpoints: bool, n_per_pool: int, seed: int, output: Path | None) -> None:
    """Mechanistic progress measures of the paper (binding attention in layer 0,
    operand attention in layer 1, the layer-1 MLP as an adder)."""
    from harness.tasks.assign_add.analyze import analyze_checkpoints
    from harness.tasks.assign_add.checkpoints import resolve, run_checkpoints

    target = model_spec.removeprefix("assign-add:")
    if n_per_pool < 1:
        raise HarnessError(f"--n {n_per_pool}: use 1 or more probe sequences")
    if output is not None and output.suffix not in (".json", ".csv"):
        raise HarnessError(f"--output {output}: name a .json or .csv file")
    if all_checkpoints:
        if not Path(target).is_dir():
            raise HarnessError(f"--all-checkpoints needs a run directory, not '{target}'")
        refs = run_checkpoints(Path(target))
        if not refs:
            raise HarnessError(f"run directory {target} has no checkpoints")
    else:
        refs = [resolve(target)]
    rows = [m.to_row() for m in analyze_checkpoints(refs, n_per_pool, seed)]
    names = [k for k in rows[0] if k not in ("checkpoint", "step") and not k.endswith("_ci95")]
    click.echo("\t".join(["checkpoint", "step", *names]))
    for row in rows:
        click.echo("\t".join([str(row["checkpoint"]), str(row["step"]), *(f"{row[k]:.3f}" for k in names)]))
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        if output.suffix == ".json":
            output.write_text(json.dumps(rows, indent=2) + "\n")
        else:
            with output.open("w", newline="") as f:
                writer = csv.DictWriter(f, list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)
