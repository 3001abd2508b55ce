"""Assign-and-Add: steps to each phase over several seeds, within a fixed step budget.

Runs `harness train assign-add` once per seed (paper settings, `--stop-at phase3`,
one torch thread each, `--jobs` runs at a time), then prints, per seed, the step
and wall time at which phases 1-3 began (or "not by N") and the last evaluation.
Without `--init` every seed is a fresh initialisation and a fresh data stream;
with `--init released/ck_1` the seeds share the authors' weights and differ only
in the data stream. The runs resume, so an interrupted bench continues where it
stopped. Reported, not asserted: how long each metastable state lasts is the
quantity measured.

    python bench/assign_add_seeds.py --seeds 1 2 3 --steps 15000 --output runs/seeds
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from harness.tasks.assign_add.generator import POOL_NAMES
from harness.tasks.assign_add.train import PHASES, SUMMARY_FILE


def run_seed(seed: int, args: argparse.Namespace) -> Path:
    out = args.output / f"seed{seed}"
    command = [
        sys.executable, "-m", "harness.cli", "train", "assign-add",
        "--steps", str(args.steps), "--output", str(out), "--seed", str(seed),
        "--eval-every", str(args.eval_every), "--eval-n", str(args.eval_n),
        "--stop-at", "phase3", "--threads", "1", "--checkpoint-every", str(args.steps),
    ]  # fmt: skip
    if args.init:
        command += ["--init", args.init]
    with (args.output / f"seed{seed}.log").open("w") as log:
        subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=True)
    return out


def row(seed: int, out: Path, budget: int) -> str:
    summary = json.loads((out / SUMMARY_FILE).read_text())
    cells = [f"{seed}"]
    for phase in PHASES:
        reached = summary["phases"].get(phase)
        cells.append(f"{reached['step']:,} ({reached['wall_seconds'] / 60:.1f} min)" if reached else f"not by {budget:,}")
    last = summary["last_eval"]
    cells.append(f"{summary['step']:,}")
    cells.append(" ".join(f"{last[f'acc_{p}']:.2f}" for p in POOL_NAMES))
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--steps", type=int, default=15000, help="step budget per seed")
    parser.add_argument("--output", type=Path, default=Path("runs/seeds"))
    parser.add_argument("--init", default=None, help="shared initial weights (default: a fresh one per seed)")
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--eval-n", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time (one torch thread each)")
    args = parser.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)

    with ThreadPoolExecutor(args.jobs) as pool:
        outs = list(pool.map(lambda seed: run_seed(seed, args), args.seeds))

    start = args.init or "a fresh initialisation per seed"
    print(f"from {start}; budget {args.steps:,} steps; pools of {args.eval_n:,} every {args.eval_every} steps")
    print("| seed | " + " | ".join(PHASES) + " | last step | last accuracies (" + ", ".join(POOL_NAMES) + ") |")
    print("|---" * (len(PHASES) + 3) + "|")
    for seed, out in zip(args.seeds, outs, strict=True):
        print(row(seed, out, args.steps))


if __name__ == "__main__":
    main()
