"""`harness analyze spectra`: activation and per-sample gradient spectra of local models on a task."""

from __future__ import annotations

from pathlib import Path

import click

from harness import registry
from harness.api import HarnessError
from harness.spectra.estimate import BLOCKS_DEFAULT, BOOTSTRAP_DEFAULT, HEAD_DEFAULT


def _fit_range(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    lo, sep, hi = text.partition(":")
    if not (sep and lo.isdigit() and hi.isdigit()):
        raise HarnessError(f"--fit-range '{text}': write LO:HI, 1-based ranks such as 9:64")
    return int(lo), int(hi)


@click.command("spectra")
@click.option(
    "--model",
    "-m",
    "models",
    required=True,
    multiple=True,
    help="hf:DIR or assign-add:CKPT_OR_RUN (repeatable; a run gives every checkpoint).",
)
@click.option("--task", "-t", required=True, help="Task whose samples are the inputs, e.g. assign_add or smoke-gen.")
@click.option("--task-arg", "-T", multiple=True, metavar="KEY=VALUE", help="Task option (repeatable).")
@click.option("--model-arg", "-M", multiple=True, metavar="KEY=VALUE", help="Model option for every model (repeatable).")
@click.option(
    "--layers", default="all", show_default=True, help="Residual-stream layers: all, a range such as 0-1, or indices such as 0,-1."
)
@click.option("--n", type=int, default=256, show_default=True, help="Samples drawn from the task (activation covariance).")
@click.option("--grad-n", type=int, default=64, show_default=True, help="Of those, samples with a per-sample gradient (0: none).")
@click.option("--params", default=None, help="Glob over parameter names for the gradients (default: the last selected layer's block).")
@click.option(
    "--positions", type=click.Choice(["all", "last"]), default="all", show_default=True, help="Prompt tokens whose residual vectors count."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Draws the samples and the bootstrap.")
@click.option("--head", type=int, default=HEAD_DEFAULT, show_default=True, help="Leading eigenvalues reported as the head.")
@click.option("--fit-range", default=None, metavar="LO:HI", help="Ranks of the power-law fit (default: after the head to half the rank).")
@click.option(
    "--bootstrap",
    type=int,
    default=BOOTSTRAP_DEFAULT,
    show_default=True,
    help="Bootstrap replicates for the activation spectra's 95% intervals.",
)
@click.option("--blocks", type=int, default=BLOCKS_DEFAULT, show_default=True, help="Sample blocks resampled by the activation bootstrap.")
@click.option("--batch-size", type=int, default=32, show_default=True, help="Samples per forward pass (and per vmap of gradients).")
@click.option("--threads", type=int, default=None, help="torch CPU threads (1 is faster on a busy machine).")
@click.option(
    "--output", "-o", type=click.Path(path_type=Path, file_okay=False), required=True, help="Folder for the JSON, CSV and PNG files."
)
def spectra_cmd(models, task, task_arg, model_arg, fit_range, threads, output, **options) -> None:
    """Eigen-spectra of residual-stream covariances (head, power-law tail with a 95%
    interval, effective rank) and singular-value spectra of per-sample gradients of
    the task's loss, per model; with several models or a run, against training step."""
    import torch

    from harness.spectra.analysis import SpectraConfig, analyze
    from harness.spectra.report import write_outputs

    if threads is not None:
        if threads < 1:
            raise HarnessError(f"--threads {threads}: use 1 or more")
        torch.set_num_threads(threads)
    config = SpectraConfig(
        task=task,
        task_args=registry.parse_kv(task_arg, "--task-arg"),
        model_args=registry.parse_kv(model_arg, "--model-arg"),
        fit_range=_fit_range(fit_range),
        **options,
    )
    for path in write_outputs(analyze(models, config, log=click.echo), output):
        click.echo(f"wrote {path}")
