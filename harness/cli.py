"""The `harness` command line. Parses options into a RunConfig (or calls a
family's own commands) and turns HarnessError into one line and exit 2."""
from __future__ import annotations

import importlib
import sys
import traceback
from pathlib import Path

import click

from harness import registry
from harness.api import HarnessError

# Task families contribute subcommands: each module exposes COMMANDS, a list of
# (parent group, click command) with "" for a top-level command.
FAMILY_COMMAND_MODULES: list[str] = [
    "harness.adapters.steering.cli",
    "harness.tasks.assign_add.cli",
    "harness.tasks.hardmath.cli",
    "harness.tasks.physics.cli",
]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="harness")
def cli():
    """harness: evaluate models on tasks, steer them, publish leaderboards.

    Add --debug to any command to see the traceback of an error."""


@cli.command("eval")
@click.option("--model", "-m", "model", required=True, help="Model spec NAME:TARGET, e.g. hf:gpt2, openai:gpt-4o, replay:out.jsonl.")
@click.option("--task", "-t", "tasks", required=True, multiple=True, help="Task name (repeatable, or comma-separated).")
@click.option("--task-arg", "-T", multiple=True, metavar="KEY=VALUE", help="Task option (repeatable).")
@click.option("--model-arg", "-M", multiple=True, metavar="KEY=VALUE", help="Model option (repeatable).")
@click.option("--output", "-o", type=click.Path(path_type=Path), help="Run directory (default runs/<time>-<model>-<task>). Reusing it resumes.")
@click.option("--overwrite", is_flag=True, help="Discard an existing run directory with a different configuration.")
@click.option("--limit", "-L", type=click.IntRange(min=1), help="Evaluate only the first N samples of each task.")
@click.option("--seed", "-s", type=int, default=0, show_default=True)
@click.option("--batch-size", "-b", type=click.IntRange(min=1), help="Batch size for local models.")
@click.option("--concurrency", type=click.IntRange(min=1), help="Concurrent requests for API models.")
@click.option("--steer", help="Steering method for a local hf: model: prompt, caa or mi.")
@click.option("--steer-arg", multiple=True, metavar="KEY=VALUE", help="Steering option (repeatable).")
@click.option("--include", "includes", multiple=True, type=click.Path(), help="A .py file or folder defining extra tasks or models.")
@click.option("--chunk-size", type=click.IntRange(min=1), default=64, show_default=True, help="Samples scored and saved to samples.jsonl together.")
@click.option("--no-cache", is_flag=True, help="Do not read or write the response cache.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def eval_command(model, tasks, task_arg, model_arg, output, overwrite, limit, seed, batch_size, concurrency, steer, steer_arg, includes, chunk_size, no_cache, quiet):
    """Evaluate MODEL on one or more tasks; writes config.json, samples.jsonl and results.json."""
    from harness.runner import RunConfig, format_results_table, run_eval

    if steer_arg and not steer:
        raise HarnessError("--steer-arg given without --steer; add --steer prompt|caa|mi")
    config = RunConfig(
        model=model,
        tasks=[t.strip() for spec in tasks for t in spec.split(",") if t.strip()],
        task_args=registry.parse_kv(task_arg, "--task-arg"),
        model_args=registry.parse_kv(model_arg, "--model-arg"),
        output=output,
        limit=limit,
        seed=seed,
        batch_size=batch_size,
        concurrency=concurrency,
        steer=steer,
        steer_args=registry.parse_kv(steer_arg, "--steer-arg"),
        includes=list(includes),
        use_cache=not no_cache,
        chunk_size=chunk_size,
        overwrite=overwrite,
        quiet=quiet,
    )
    result = run_eval(config)
    click.echo(format_results_table(result.results))
    click.echo(f"\nrun directory: {result.output}")
    if result.n_errors:
        click.echo(f"{result.n_errors} sample(s) errored; rerun the same command to retry them", err=True)
        sys.exit(1)


def _list_registered(kind: dict, includes) -> None:
    """One line per registered class: its name and description."""
    for path in includes:
        registry.include(path)
    registry.load_builtins()
    for name in sorted(kind):
        doc = (kind[name].__doc__ or "").strip()
        click.echo(f"{name:<18} {kind[name].description or (doc.splitlines()[0] if doc else '')}")


@cli.command("tasks")
@click.option("--include", "includes", multiple=True, type=click.Path())
def tasks_command(includes):
    """List the available tasks."""
    _list_registered(registry.TASKS, includes)


@cli.command("models")
@click.option("--include", "includes", multiple=True, type=click.Path())
def models_command(includes):
    """List the model adapters (use as --model NAME:TARGET)."""
    _list_registered(registry.MODELS, includes)
    click.echo("\nsteering methods (--steer): " + ", ".join(sorted(registry.STEERING)))


@cli.command("leaderboard")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--output", "-o", required=True, type=click.Path(path_type=Path), help="Folder for leaderboard.csv, .md and .html.")
@click.option("--title", default="harness leaderboard", show_default=True)
def leaderboard_command(run_dirs, output, title):
    """Aggregate run directories into a leaderboard (CSV, Markdown, HTML)."""
    from harness.leaderboards import build_leaderboard, write_leaderboard

    board = build_leaderboard(run_dirs)
    paths = write_leaderboard(board, output, title=title)
    for p in paths:
        click.echo(str(p))


def _attach_family_commands() -> None:
    groups: dict[str, click.Group] = {}
    for module_name in FAMILY_COMMAND_MODULES:
        module = importlib.import_module(module_name)
        for parent, command in module.COMMANDS:
            if not parent:
                cli.add_command(command)
                continue
            if parent not in groups:
                groups[parent] = click.Group(parent, help=f"{parent.capitalize()} commands of the task families.")
                cli.add_command(groups[parent])
            groups[parent].add_command(command)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    try:
        _attach_family_commands()
        cli.main(args=argv, prog_name="harness", standalone_mode=False)
    except HarnessError as e:
        if debug:
            traceback.print_exc()
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("aborted; rerun the same command to resume", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted; rerun the same command to resume", err=True)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as e:
        if debug:
            raise
        click.echo(f"error: {type(e).__name__}: {e} (rerun with --debug for the traceback)", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
