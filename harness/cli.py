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

# Commands of the task families and the steering wrapper, imported only when run
# (they need torch): parent group ("" for top level) -> name -> (module:command, short help).
FAMILY_COMMANDS: dict[str, dict[str, tuple[str, str]]] = {
    "": {"steer": ("harness.adapters.steering.cli:steer_group", "Steering: build KV banks and CAA vectors, rank layers, compare methods.")},
    "train": {"assign-add": ("harness.tasks.assign_add.cli:train_cmd", "Train the Assign-and-Add transformer.")},
    "analyze": {
        "assign-add": ("harness.tasks.assign_add.cli:analyze_cmd", "Assign-and-Add diagnostics of a trained model."),
        "spectra": ("harness.spectra.cli:spectra_cmd", "Activation and per-sample gradient spectra of a local model on a task."),
    },
    "generate": {
        "hardmath": ("harness.tasks.hardmath.cli:hardmath_command", "Generate HARDMath problems with checked answers."),
        "physics-gold-replay": ("harness.tasks.physics.cli:physics_gold_replay", "Write PHYSICS gold answers as a replay file."),
    },
}


class LazyGroup(click.Group):
    """A group whose listed commands are imported when invoked, not when --help is shown."""

    def __init__(self, *args, lazy: dict[str, tuple[str, str]] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy = lazy or {}

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx, name):
        if name in self.lazy and name not in self.commands:
            module, _, attr = self.lazy[name][0].partition(":")
            self.add_command(getattr(importlib.import_module(module), attr), name)
        return super().get_command(ctx, name)

    def format_commands(self, ctx, formatter):
        limit = formatter.width - 6 - max((len(n) for n in self.list_commands(ctx)), default=0)
        rows = [
            (name, self.commands[name].get_short_help_str(limit) if name in self.commands else self.lazy[name][1])
            for name in self.list_commands(ctx)
            if name in self.lazy or not self.commands[name].hidden
        ]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    lazy={name: entry for name, entry in FAMILY_COMMANDS[""].items()},
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
)
@click.version_option(package_name="harness")
def cli():
    """harness: evaluate models on tasks, steer them, publish leaderboards.

    Add --debug to any command to see the traceback of an error."""


@cli.command("eval")
@click.option("--model", "-m", "model", required=True, help="Model spec NAME:TARGET, e.g. hf:gpt2, openai:gpt-4o, replay:out.jsonl.")
@click.option("--task", "-t", "tasks", required=True, multiple=True, help="Task name (repeatable, or comma-separated).")
@click.option("--task-arg", "-T", multiple=True, metavar="KEY=VALUE", help="Task option (repeatable).")
@click.option("--model-arg", "-M", multiple=True, metavar="KEY=VALUE", help="Model option (repeatable).")
@click.option(
    "--model-role",
    "model_role",
    multiple=True,
    metavar="ROLE=SPEC",
    help="Model for a role the task declares, e.g. judge=openai:gpt-4o (repeatable).",
)
@click.option(
    "--model-role-arg",
    "model_role_arg",
    multiple=True,
    metavar="ROLE:KEY=VALUE",
    help="Model option for a role, e.g. judge:base_url=http://... (repeatable).",
)
@click.option(
    "--output", "-o", type=click.Path(path_type=Path), help="Run directory (default runs/<time>-<model>-<task>). Reusing it resumes."
)
@click.option("--overwrite", is_flag=True, help="Discard an existing run directory with a different configuration.")
@click.option("--limit", "-L", type=click.IntRange(min=1), help="Evaluate only the first N samples of each task.")
@click.option("--seed", "-s", type=int, default=0, show_default=True)
@click.option("--batch-size", "-b", type=click.IntRange(min=1), help="Batch size for local models.")
@click.option("--concurrency", type=click.IntRange(min=1), help="Concurrent requests for API models.")
@click.option("--steer", help="Steering method for a local hf: model: prompt, caa or mi.")
@click.option("--steer-arg", multiple=True, metavar="KEY=VALUE", help="Steering option (repeatable).")
@click.option("--include", "includes", multiple=True, type=click.Path(), help="A .py file or folder defining extra tasks or models.")
@click.option("--lm-eval-include", type=click.Path(), help="A folder of lm-eval task YAML files, for --task lm-eval:NAME.")
@click.option(
    "--chunk-size", type=click.IntRange(min=1), default=64, show_default=True, help="Samples scored and saved to samples.jsonl together."
)
@click.option("--no-cache", is_flag=True, help="Do not read or write the response cache.")
@click.option(
    "--backend",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="Where the model runs: this process, or --workers replicas on Ray (pip install 'harness[ray]').",
)
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Model replicas (--backend ray): one per GPU.")
@click.option("--ray-address", help="Connect to this Ray cluster (e.g. auto, ray://HOST:10001); default: start a local one.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def eval_command(
    model,
    tasks,
    task_arg,
    model_arg,
    model_role,
    model_role_arg,
    output,
    overwrite,
    limit,
    seed,
    batch_size,
    concurrency,
    steer,
    steer_arg,
    includes,
    lm_eval_include,
    chunk_size,
    no_cache,
    backend,
    workers,
    ray_address,
    quiet,
):
    """Evaluate MODEL on one or more tasks; writes config.json, samples.jsonl and results.json.

    \b
    Examples:
      harness eval --model hf:Qwen/Qwen3-0.6B --task physics -T domain=optics --batch-size 16
      harness eval --model openai:gpt-4o-mini --task hardmath -T scoring=paper --model-role judge=openai:gpt-4o
    """
    from harness.runner import RunConfig, format_results_table, run_eval

    if steer_arg and not steer:
        raise HarnessError("--steer-arg given without --steer; add --steer prompt|caa|mi")
    config = RunConfig(
        model=model,
        tasks=[t.strip() for spec in tasks for t in spec.split(",") if t.strip()],
        task_args={**registry.parse_kv(task_arg, "--task-arg"), **({"include_path": lm_eval_include} if lm_eval_include else {})},
        model_args=registry.parse_kv(model_arg, "--model-arg"),
        model_roles=registry.parse_kv(model_role, "--model-role"),
        model_role_args=parse_role_args(model_role_arg),
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
        backend=backend,
        workers=workers,
        ray_address=ray_address,
        overwrite=overwrite,
        quiet=quiet,
    )
    result = run_eval(config)
    click.echo(format_results_table(result.results))
    click.echo(f"\nrun directory: {result.output}")
    if result.n_errors:
        click.echo(describe_errors(result.results), err=True)
        sys.exit(1)


@cli.command("lm-eval", context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []})
@click.argument("lm_eval_args", nargs=-1, type=click.UNPROCESSED)
def lm_eval_command(lm_eval_args):
    """lm-eval's own command line with the harness model registered: --model harness --model_args spec=...

    \b
    Example:
      harness lm-eval --model harness --model_args spec=hf:DIR,steer=mi,steer_guidance="You are curious." --tasks NAME
    """
    from lm_eval.__main__ import cli_evaluate

    import harness.integrations.lm_eval_model  # noqa: F401 - registers the lm-eval model `harness`

    sys.argv = ["lm_eval", *lm_eval_args]
    cli_evaluate()


@cli.group("export")
def export_group():
    """Write a run directory in another tool's format."""


@export_group.command("lm-eval")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--output", "-o", required=True, type=click.Path(path_type=Path), help="Folder for results_<date>.json and samples_<task>_<date>.jsonl."
)
def export_lm_eval_command(run_dir, output):
    """lm-eval 0.4's results and samples files (our 95% interval as an extra key)."""
    from harness.integrations.lm_eval_export import export_lm_eval

    for path in export_lm_eval(run_dir, output):
        click.echo(str(path))


@export_group.command("inspect")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(path_type=Path),
    help="A FILE.eval for one task, or a folder for one <task>.eval per task.",
)
@click.option("--task", "-t", "task", help="The one task to export from a run of several.")
def export_inspect_command(run_dir, output, task):
    """An inspect_ai eval log per task, which `inspect view` opens (needs the [inspect] extra)."""
    from harness.integrations.inspect_export import export_inspect

    for path in export_inspect(run_dir, output, task):
        click.echo(str(path))


@cli.command("score")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--task-arg", "-T", multiple=True, metavar="KEY=VALUE", help="Scoring option to change (repeatable), e.g. scoring=paper.")
@click.option("--output", "-o", type=click.Path(path_type=Path), help="Write the re-scored run here (required when a task arg changes).")
def score_command(run_dir, task_arg, output):
    """Score a run's stored responses again with the current scorer; no model is called."""
    from harness.rescore import rescore_run
    from harness.runner import format_results_table

    result = rescore_run(run_dir, registry.parse_kv(task_arg, "--task-arg"), output)
    click.echo(format_results_table(result.results))
    click.echo(f"\nre-scored run directory: {result.output}")


def describe_errors(results: dict) -> str:
    """A few lines: how many samples errored, each distinct cause with its count, and whether a rerun helps."""
    causes = [c for t in results["tasks"].values() for c in t.get("error_causes", [])]
    n = sum(t["n_errors"] for t in results["tasks"].values())
    lines = [f"{n} sample(s) errored:"]
    lines += [f"  {c['count']:>5} x {c['cause']}" for c in causes]
    if any(c["rerun_helps"] for c in causes):
        lines.append("rerun the same command to retry them (answered samples are kept)")
    if not all(c["rerun_helps"] for c in causes):
        lines.append(
            "a rerun will not fix "
            + ("these" if not any(c["rerun_helps"] for c in causes) else "the others")
            + ": fix the input they name (replay file, model name, URL, key), then rerun"
        )
    return "\n".join(lines)


def parse_role_args(pairs: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """`judge:base_url=URL` -> {"judge": {"base_url": URL}}."""
    out: dict[str, dict[str, str]] = {}
    for pair in pairs:
        role, sep, kv = pair.partition(":")
        if not sep or not role or "=" not in kv:
            raise HarnessError(f"--model-role-arg '{pair}' is not ROLE:KEY=VALUE; write it as --model-role-arg judge:base_url=URL")
        out.setdefault(role, {}).update(registry.parse_kv([kv], "--model-role-arg"))
    return out


def _list_registered(kind: str, includes) -> None:
    """One line per registered class: its name and description."""
    for path in includes:
        registry.include(path)
    for name, description in registry.describe(kind):
        click.echo(f"{name:<18} {description}")


def _show_args(args_cls: type, flag: str) -> None:
    rows = registry.describe_args(args_cls)
    if not rows:
        click.echo("  (no options)")
    for a in rows:
        values = "|".join(map(str, a.allowed)) if a.allowed else a.type
        click.echo(f"  {flag} {a.name}=<{values}>  (default {a.default!r}){'  ' + a.help if a.help else ''}")


@cli.command("tasks")
@click.argument("name", required=False)
@click.option("--include", "includes", multiple=True, type=click.Path())
def tasks_command(name, includes):
    """List the available tasks, or show one task's options and model roles."""
    if not name:
        _list_registered("task", includes)
        return
    for path in includes:
        registry.include(path)
    cls = registry.get_task_class(name)
    click.echo(f"{cls.name}: {cls.description}\nneeds: {', '.join(sorted(cls.requires))}; headline metric: {cls.headline}\noptions:")
    _show_args(cls.Args, "--task-arg")
    for role in cls.roles:
        click.echo(
            f"model role (--model-role {role.name}=SPEC): {role.description}"
            + (f"; needs {', '.join(sorted(role.requires))}" if role.requires != frozenset({"generate"}) else "")
        )


@cli.command("models")
@click.argument("name", required=False)
@click.option("--include", "includes", multiple=True, type=click.Path())
def models_command(name, includes):
    """List the model adapters (use as --model NAME:TARGET), or show one adapter's options."""
    if not name:
        _list_registered("model", includes)
        click.echo("\nsteering methods (--steer): " + ", ".join(registry.known("steering")))
        return
    for path in includes:
        registry.include(path)
    cls, _ = registry.parse_model_spec(name)
    click.echo(f"{cls.name}: {cls.description}\noptions:")
    _show_args(cls.Args, "--model-arg")


@cli.command("leaderboard")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--output", "-o", required=True, type=click.Path(path_type=Path), help="Folder for the static site (index.html and its pages)."
)
@click.option("--title", default="harness leaderboard", show_default=True)
def leaderboard_command(run_dirs, output, title):
    """Publish run directories as a static leaderboard site: ranked tables with intervals, paired
    comparisons, per-sample drill-down and run diffs; opens from file:// or any static host."""
    from harness.leaderboards import build_site

    for p in build_site(run_dirs, output, title=title):
        click.echo(str(p))


for _parent, _commands in FAMILY_COMMANDS.items():
    if _parent:
        cli.add_command(LazyGroup(_parent, lazy=_commands, help=f"{_parent.capitalize()} commands of the task families."))


def _printable(text: str) -> str:
    """Text any terminal can take: bytes a path could not decode are shown escaped."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    try:
        cli.main(args=argv, prog_name="harness", standalone_mode=False)
    except HarnessError as e:
        if debug:
            traceback.print_exc()
        click.echo(_printable(f"error: {e}"), err=True)
        sys.exit(2)
    except ModuleNotFoundError as e:
        error = registry.missing_extra(e, "this command")
        if error is None or debug:
            raise
        click.echo(_printable(f"error: {error}"), err=True)
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
