"""Assign-and-Add: a training trajectory beside the authors' released checkpoints.

Trains with `harness.tasks.assign_add.train.train` (paper settings; resumes an
interrupted run, reuses a finished one) from `--init` (default released/ck_1,
the authors' weights after their first optimizer step) and prints the nine pool
accuracies at each evaluation. Step N of our run from a checkpoint taken at the
authors' step S is the authors' step S + N (both count optimizer steps), so
from ck_1 our step 500 meets ck_501, step 6,000 ck_6001 and step 39,999 (the
last step of `--steps 39999`, always evaluated) the final weights; there the
authors' checkpoint, evaluated on the same pools, is printed beside ours with
the largest difference. `--authors-run DIR` compares with every checkpoint of
the authors' own run directory instead (`checkpoints/checkpoint_step_N.pth`, as
in a clone of bexoo/assign-and-add: one every 100 steps). Writes
OUTPUT/trajectory.csv (our rows and the authors' points) and
OUTPUT/trajectory.png (our curves, the authors' points overlaid).

    python bench/assign_add_trajectory.py --steps 17000 --output runs/traj --eval-every 250 --eval-n 2000 --stop-at phase3
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import torch

from harness.tasks.assign_add.checkpoints import RELEASED_STEPS, CheckpointRef, resolve, run_checkpoints
from harness.tasks.assign_add.generator import POOL_NAMES, make_partition
from harness.tasks.assign_add.model import load_checkpoint_file
from harness.tasks.assign_add.train import PHASES, TrainConfig, evaluate_pools, evaluation_pools, train


def authors_checkpoints(authors_run: Path | None) -> list[CheckpointRef]:
    """The released checkpoints, or every checkpoint of the authors' run directory."""
    if authors_run is not None:
        return run_checkpoints(authors_run)
    return [resolve(f"released/{name}") for name in RELEASED_STEPS]


def authors_points(refs: list[CheckpointRef], init_step: int, config: TrainConfig) -> dict[int, dict[str, float]]:
    """The authors' checkpoints that meet one of our evaluations (our step =
    their step - `init_step`, a multiple of `eval_every` or the last step), keyed
    by our step, with their nine accuracies on the trainer's evaluation pools."""
    pools = evaluation_pools(make_partition(), config.eval_n)
    points = {}
    for ref in refs:
        ours = (ref.step or 0) - init_step
        if 0 < ours <= config.steps and (ours % config.eval_every == 0 or ours == config.steps):
            points[ours] = evaluate_pools(load_checkpoint_file(ref.path), pools)
    return points


def comparison(ours: dict, theirs: dict[str, float]) -> str:
    """Two aligned lines of nine accuracies and the largest |difference|."""
    diffs = {p: abs(ours[f"acc_{p}"] - theirs[f"acc_{p}"]) for p in POOL_NAMES}
    worst = max(diffs, key=lambda p: diffs[p])
    line = " ".join(f"{theirs[f'acc_{p}']:.3f}" for p in POOL_NAMES)
    return f"  authors       acc[{line}]  largest |diff| {diffs[worst]:.3f} ({worst})"


def write_csv(rows: list[dict], points: dict[int, dict[str, float]], init_step: int, path: Path) -> None:
    columns = ["source", "step", "authors_step", *(f"acc_{p}" for p in POOL_NAMES)]
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, columns, extrasaction="ignore")
        writer.writeheader()
        for source, entries in (("ours", [(r["step"], r) for r in rows]), ("authors", sorted(points.items()))):
            for step, accs in entries:
                writer.writerow({"source": source, "step": step, "authors_step": step + init_step, **accs})


def write_plot(rows: list[dict], points: dict[int, dict[str, float]], init_step: int, path: Path) -> None:
    """Our nine curves (lines) and the authors' checkpoints (markers, same colour)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 5.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    steps = [r["step"] + init_step for r in rows]
    styles = {"0var": "-", "1var": "--", "2var": ":"}
    for i, pool in enumerate(POOL_NAMES):
        colour = f"C{i}"
        ax.plot(steps, [r[f"acc_{pool}"] for r in rows], styles[pool[:4]], color=colour, label=pool)
        ax.plot([s + init_step for s in points], [p[f"acc_{pool}"] for p in points.values()], "o", color=colour, ms=5, mfc="none")
    ax.set(xlabel="authors' step (optimizer steps)", ylabel="accuracy", ylim=(0, 1.05))
    ax.set_title("Assign-and-Add: our run (lines) and the authors' checkpoints (circles)")
    ax.legend(fontsize=7, ncol=3, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, required=True, help="optimizer steps of our run (after --init)")
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--init", default="released/ck_1")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--eval-n", type=int, default=2000)
    parser.add_argument("--stop-at", choices=["none", "phase1", "phase2", "phase3"], default="none")
    parser.add_argument("--precision", choices=["bf16", "fp32"], default="bf16")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--authors-run", type=Path, default=None, help="the authors' run directory (checkpoints/checkpoint_step_N.pth)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    init_step = resolve(args.init).step or 0

    config = TrainConfig(
        steps=args.steps,
        seed=args.seed,
        eval_every=args.eval_every,
        eval_n=args.eval_n,
        init=args.init,
        stop_at=args.stop_at,
        precision=args.precision,
    )
    points = authors_points(authors_checkpoints(args.authors_run), init_step, config)

    def on_eval(row: dict) -> None:
        if row["step"] in points:
            print(comparison(row, points[row["step"]]), flush=True)

    print(f"{args.init} is the authors' step {init_step}: the authors' step is our step + {init_step}", flush=True)
    summary = train(args.output, config, log=lambda line: print(line, flush=True), on_eval=on_eval)
    with (args.output / "metrics.csv").open(newline="") as f:
        rows = [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)]
    for r in rows:
        r["step"] = int(r["step"])
    print(f"\nat the authors' checkpoints ({args.eval_n} sequences per pool; pools {' '.join(POOL_NAMES)}):")
    by_step = {r["step"]: r for r in rows}
    worst = 0.0
    for step, theirs in sorted(points.items()):
        ours = by_step.get(step)
        if ours is None:
            continue
        worst = max(worst, *(abs(ours[f"acc_{p}"] - theirs[f"acc_{p}"]) for p in POOL_NAMES))
        print(f"  authors' step {step + init_step} = our step {step}")
        print("  ours          acc[" + " ".join(f"{ours[f'acc_{p}']:.3f}" for p in POOL_NAMES) + "]")
        print(comparison(ours, theirs))
    compared = sorted(set(points) & set(by_step))
    print(f"compared at {len(compared)} of the authors' checkpoints; largest |diff| {worst:.3f}")
    for phase, (pools, threshold) in PHASES.items():
        hit = summary.phases[phase]
        where = f"step {hit['step']} (authors' step {hit['step'] + init_step}), {hit['wall_seconds']} s" if hit else "not reached"
        print(f"{phase} ({', '.join(pools)} > {threshold}): {where}")
    write_csv(rows, points, init_step, args.output / "trajectory.csv")
    write_plot(rows, points, init_step, args.output / "trajectory.png")
    print(f"wrote {args.output / 'trajectory.csv'} and {args.output / 'trajectory.png'}")


if __name__ == "__main__":
    main()
