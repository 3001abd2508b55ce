"""`harness steer ...`: build KV banks and CAA vectors, rank layers, compare methods."""

from __future__ import annotations

from pathlib import Path

import click

from harness import registry
from harness.api import ChatMessage, HarnessError, SteeringTarget

MODEL_HELP = "A local model spec, hf:PATH."
CAA_PAIRS = 200  # contrastive pairs of a CAA vector built on the fly


def _load_model(spec: str, model_args: tuple[str, ...]):
    from harness.adapters.steering.method import check_local_model

    adapter = registry.create_model(spec, registry.parse_kv(model_args, "--model-arg"))
    check_local_model(adapter)
    return adapter


def _steering_target(task: str, task_arg: tuple[str, ...], n: int) -> SteeringTarget | None:
    """The task's steering material (guidance, metrics, train-split probes and pairs), found through the registry."""
    return registry.create_task(task, registry.parse_kv(task_arg, "--task-arg")).steering_target(n)


def _required_target(task: str, task_arg: tuple[str, ...], n: int, what: str) -> SteeringTarget:
    target = _steering_target(task, task_arg, n)
    if target is None:
        raise HarnessError(f"task '{task}' offers no steering material for {what}; use a task that does (persona)")
    return target


@click.group("steer")
def steer_group():
    """Steered models: KV banks (mi), CAA vectors (caa), layer ranking, method comparison."""


@steer_group.group("bank")
def bank_group():
    """Memory Inception KV banks."""


@bank_group.command("build")
@click.option("--model", "-m", required=True, help=MODEL_HELP)
@click.option("--model-arg", "-M", multiple=True, metavar="KEY=VALUE")
@click.option("--guidance", required=True, help="Guidance text, or @FILE.")
@click.option("--layers", default="all", show_default=True, help="Layers to keep: all, 8-14, 0,3,5-7.")
@click.option("--drop-leading", default=0, show_default=True, help="Leading tokens (BOS/template) computed but not stored.")
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path))
def bank_build(model, model_arg, guidance, layers, drop_leading, output):
    """Compute the guidance's KV bank with the model itself and save it (safetensors)."""
    from harness.adapters.steering.bank import save_bank
    from harness.adapters.steering.method import read_guidance
    from harness.adapters.steering.mi import build_bank_for
    from harness.layer_spec import parse_layers

    adapter = _load_model(model, model_arg)
    try:
        text = read_guidance(guidance)
        bank = build_bank_for(adapter, text, drop_leading)
        bank = bank.select(parse_layers(layers, len(adapter.decoder_layers()), "--layers"))
        save_bank(bank, output)
    finally:
        adapter.close()
    click.echo(f"{output}: {bank.length} slots x {len(bank.layers)} layers (guidance {bank.source_length} tokens)")


@steer_group.group("vector")
def vector_group():
    """CAA steering vectors."""


@vector_group.command("build")
@click.option("--model", "-m", required=True, help=MODEL_HELP)
@click.option("--model-arg", "-M", multiple=True, metavar="KEY=VALUE")
@click.option("--task", "-t", default="persona", show_default=True, help="Task whose train split gives the examples.")
@click.option("--task-arg", "-T", multiple=True, metavar="KEY=VALUE", help="Its options, e.g. trait=openness, direction=away.")
@click.option("--layer", required=True, type=int, help="Decoder layer whose output is read and steered.")
@click.option("--n", default=200, show_default=True, help="Contrastive pairs (or questions) from the train split.")
@click.option(
    "--source",
    type=click.Choice(["ab", "prompted"]),
    default="ab",
    show_default=True,
    help="ab: A/B answer letters (CAA); prompted: questions with vs without the guidance as system message.",
)
@click.option("--guidance", default=None, help="Guidance for --source prompted (default: the task's guidance).")
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path))
def vector_build(model, model_arg, task, task_arg, layer, n, source, guidance, output):
    """Mean difference of the layer output over contrastive prompts from the task's train split."""
    from harness.adapters.steering.caa import build_prompted_vector, build_vector, save_vector
    from harness.adapters.steering.method import read_guidance

    target = _required_target(task, task_arg, n, "a steering vector")
    if source == "ab" and not target.contrastive_pairs:
        raise HarnessError(f"task '{task}' has no contrastive pairs; use --source prompted")
    text = read_guidance(guidance) if guidance else target.guidance
    if source == "prompted" and not text:
        raise HarnessError(f"task '{task}' gives no guidance; pass --guidance TEXT")
    adapter = _load_model(model, model_arg)
    try:
        if source == "ab":
            vector = build_vector(adapter, list(target.contrastive_pairs), layer, target.meta)
        else:
            vector = build_prompted_vector(adapter, list(target.probe_questions), text, layer, target.meta)
        save_vector(vector, output)
    finally:
        adapter.close()
    click.echo(f"{output}: layer {layer}, {vector.meta['n_pairs']} pairs ({source}), norm {float(vector.vector.norm()):.4g}")


@steer_group.command("layers")
@click.option("--model", "-m", required=True, help=MODEL_HELP)
@click.option("--model-arg", "-M", multiple=True, metavar="KEY=VALUE")
@click.option("--guidance", required=True, help="Guidance text, or @FILE.")
@click.option("--task", "-t", default="persona", show_default=True, help="Task whose train split gives the probe prompts.")
@click.option("--task-arg", "-T", multiple=True, metavar="KEY=VALUE", help="Its options, e.g. trait=openness.")
@click.option("--n", default=16, show_default=True, help="Probe prompts.")
@click.option("--sink", default=1, show_default=True, help="Leading bank slots left out of the mass (attention sinks).")
@click.option("--top", default=0, help="Print only the top K layers (0: all).")
@click.option("--sweep", is_flag=True, help="Also run mi with the top-1, top-2, ... layer sets on the task.")
@click.option("--limit", default=None, type=int, help="Samples per sweep run.")
@click.option(
    "--output", "-o", default=None, type=click.Path(file_okay=False, path_type=Path), help="Folder for ranking.csv and sweep runs."
)
def layers_command(model, model_arg, guidance, task, task_arg, n, sink, top, sweep, limit, output):
    """Rank layers by attention mass on the guidance bank (bank at every layer), optionally sweep them."""
    from harness.adapters.steering.method import read_guidance
    from harness.adapters.steering.mi import build_bank_for
    from harness.adapters.steering.ranking import rank_layers

    text = read_guidance(guidance)
    target = _required_target(task, task_arg, n, "probe prompts")
    if sweep and not output:
        raise HarnessError("--sweep needs --output DIR for its run directories")
    adapter = _load_model(model, model_arg)
    try:
        prompts = [adapter.render((ChatMessage("user", q),)) for q in target.probe_questions]
        ranking = rank_layers(adapter, build_bank_for(adapter, text), prompts, sink)
    finally:
        adapter.close()
    shown = ranking[:top] if top else ranking
    click.echo("rank  layer  bank_mass  top_head  top_head_mass")
    for i, r in enumerate(shown, 1):
        click.echo(f"{i:>4}  {r.layer:>5}  {r.bank_mass:9.4f}  {r.top_head:>8}  {r.top_head_mass:13.4f}")
    if output:
        output.mkdir(parents=True, exist_ok=True)
        with open(output / "ranking.csv", "w", encoding="utf-8") as f:
            f.write("rank,layer,bank_mass,top_head,top_head_mass\n")
            for i, r in enumerate(ranking, 1):
                f.write(f"{i},{r.layer},{r.bank_mass},{r.top_head},{r.top_head_mass}\n")
    if sweep:
        k = top or len(ranking)
        layer_sets = [",".join(str(r.layer) for r in ranking[:i]) for i in range(1, k + 1)]
        _compare(
            model,
            model_arg,
            task,
            task_arg,
            ["none", "prompt", "mi"],
            [f"mi.layers={';'.join(layer_sets)}"],
            text,
            None,
            None,
            output,
            limit,
            0,
            None,
            None,
        )


def _compare(model, model_arg, task, task_arg, methods, sweep, guidance, caa_vector, caa_layer, output, limit, seed, x_metric, y_metric):
    from harness.adapters.steering import compare as cmp

    task_args = registry.parse_kv(task_arg, "--task-arg")
    target = _steering_target(task, task_arg, CAA_PAIRS)  # also validates the task before any model work
    x = x_metric or (target.drift_metric if target else None)
    y = y_metric or (target.control_metric if target else None)
    if x is None or y is None:
        raise HarnessError(f"no default control/drift metrics for task '{task}'; pass --x-metric and --y-metric")
    text = guidance if guidance is not None else (target.guidance if target else None)
    schedules = target is not None and target.guidance is None  # the task's requests carry guidance schedules
    fixed: dict[str, dict[str, str]] = {}
    if text:
        fixed["prompt"] = {"guidance": text}
        fixed["mi"] = {"guidance": text}
    elif not schedules:
        raise HarnessError(f"task '{task}' gives no guidance; pass --guidance TEXT")
    if "caa" in methods:
        if schedules:
            raise HarnessError(f"caa cannot follow a guidance schedule (its vector is fixed); leave it out of --methods for {task}")
        fixed["caa"] = {"vector": str(caa_vector or _default_vector(model, model_arg, target, caa_layer, output))}
    points = cmp.plan_points(methods, cmp.parse_sweeps(sweep), fixed)
    output.mkdir(parents=True, exist_ok=True)
    results = []
    for point in points:
        click.echo(f"running {point.label} ...", err=True)
        results.append(
            cmp.run_point(
                point, model, registry.parse_kv(model_arg, "--model-arg"), task, task_args, output / "runs" / point.label, limit, seed
            )
        )
    rows = cmp.table_rows(points, results, task)
    cmp.write_csv(rows, output / "compare.csv")
    markdown = cmp.markdown_table(rows, x, y)
    (output / "compare.md").write_text(markdown, encoding="utf-8")
    cmp.plot_tradeoff(rows, x, y, output / "compare.png", f"{model} on {task}")
    click.echo(markdown)
    for name in ("compare.csv", "compare.md", "compare.png"):
        click.echo(str(output / name))


def _default_vector(model, model_arg, target: SteeringTarget | None, layer, output: Path) -> Path:
    """A CAA vector from the task's train-split contrastive pairs, at `layer` (default: the middle layer)."""
    from harness.adapters.steering.caa import build_vector, save_vector

    if target is None or not target.contrastive_pairs:
        raise HarnessError("this task has no contrastive pairs for a CAA vector; pass --caa-vector FILE")
    adapter = _load_model(model, model_arg)
    try:
        chosen = len(adapter.decoder_layers()) // 2 if layer is None else layer
        name = "_".join(str(v) for k, v in target.meta.items() if k != "split_seed")
        path = output / "vectors" / f"caa_{name}_layer{chosen}.safetensors"
        vector = build_vector(adapter, list(target.contrastive_pairs), chosen, target.meta)
        save_vector(vector, path)
    finally:
        adapter.close()
    return path


@steer_group.command("compare")
@click.option("--model", "-m", required=True, help=MODEL_HELP)
@click.option("--model-arg", "-M", multiple=True, metavar="KEY=VALUE")
@click.option("--task", "-t", required=True, help="persona, guidance_shift, or any task (with --guidance and metrics).")
@click.option("--task-arg", "-T", multiple=True, metavar="KEY=VALUE")
@click.option("--methods", default="none,prompt,caa,mi", show_default=True)
@click.option(
    "--sweep",
    multiple=True,
    metavar="METHOD.ARG=V1,V2",
    help="e.g. caa.multiplier=0.5,1,2  mi.strength=-2,0,2  mi.layers=all;0-3 (repeatable).",
)
@click.option(
    "--guidance", default=None, help="Guidance for prompt and mi (default: the task's own, e.g. the persona trait's description)."
)
@click.option("--caa-vector", default=None, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--caa-layer", default=None, type=int, help="Layer of the CAA vector built when --caa-vector is not given.")
@click.option("--limit", default=None, type=int)
@click.option("--seed", default=0, show_default=True)
@click.option("--x-metric", default=None, help="Drift metric for the plot's x axis.")
@click.option("--y-metric", default=None, help="Control metric for the plot's y axis.")
@click.option("--output", "-o", required=True, type=click.Path(file_okay=False, path_type=Path))
def compare_command(
    model, model_arg, task, task_arg, methods, sweep, guidance, caa_vector, caa_layer, limit, seed, x_metric, y_metric, output
):
    """Run methods over sweeps; write compare.csv, compare.md, compare.png and runs/ (for `harness leaderboard`)."""
    method_list = [m.strip() for m in methods.split(",") if m.strip()]
    _compare(model, model_arg, task, task_arg, method_list, sweep, guidance, caa_vector, caa_layer, output, limit, seed, x_metric, y_metric)
