"""Ray workers against the plain runner, side by side in one run: the cost per sample of
sending chunks to actors and records back, on the same model, task and samples.

    python bench/ray_workers.py                                   # Assign-and-Add's released model, CPU
    python bench/ray_workers.py --model hf:PATH --task smoke-gen --device cuda --workers 1

Prints the solving time (after start-up) of the plain runner and of `--backend ray`
with 1 and `--workers` workers, the overhead per sample of Ray with one worker
against the plain runner, and the start-up of the Ray pool (cluster + actors
loading the model). Each configuration runs `--repeats` times, interleaved;
the fastest is reported. Every run must give the plain runner's results.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import ray

from harness.runner import RunConfig, run_eval


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="assign-add:released/final")
    parser.add_argument("--task", default="assign_add")
    parser.add_argument("--limit", type=int, default=2000)
    parser.add_argument("--chunk-size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--device", default=None, help="model arg device= (hf: cpu or cuda)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--output", type=Path, help="write the figures as JSON here")
    args = parser.parse_args()
    model_args = {"device": args.device} if args.device else {}
    if args.model.startswith("assign-add:"):
        model_args["threads"] = "1"  # each CPU worker gets one core, so the plain runner does too
    ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
    root = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    configs = {"plain": ("local", 1), "ray, 1 worker": ("ray", 1)}
    if args.workers > 1:
        configs[f"ray, {args.workers} workers"] = ("ray", args.workers)
    best = {name: float("inf") for name in configs}
    startup = {name: float("inf") for name in configs}
    results = {}
    for repeat in range(args.repeats):
        for name, (backend, workers) in configs.items():
            out = root / f"{name.replace(' ', '_').replace(',', '')}-{repeat}"
            config = RunConfig(
                model=args.model,
                tasks=[args.task],
                model_args=model_args,
                limit=args.limit,
                chunk_size=args.chunk_size,
                backend=backend,
                workers=workers,
                use_cache=False,
                output=out,
            )
            started = time.perf_counter()
            run = run_eval(config)
            total = time.perf_counter() - started
            solving = run.results["elapsed_s"]
            best[name] = min(best[name], solving)
            startup[name] = min(startup[name], total - solving)
            results[name] = {k: v for k, v in run.results.items() if k != "elapsed_s"}
    assert all(r == results["plain"] for r in results.values()), "a backend changed the results"
    n = args.limit
    print(f"{args.model} on {args.task}, {n} samples, chunks of {args.chunk_size}, fastest of {args.repeats}")
    print(f"{'configuration':<18}{'solving s':>11}{'per sample ms':>15}{'vs plain':>10}{'start-up s':>12}")
    for name in configs:
        print(f"{name:<18}{best[name]:>11.2f}{1000 * best[name] / n:>15.3f}{best[name] / best['plain']:>10.2f}{startup[name]:>12.1f}")
    overhead_ms = 1000 * (best["ray, 1 worker"] - best["plain"]) / n
    print(f"Ray overhead per sample (1 worker vs plain): {overhead_ms:.3f} ms")
    if args.output:
        figures = {"solving_s": best, "startup_s": startup, "samples": n, "ray_overhead_ms_per_sample": overhead_ms}
        args.output.write_text(json.dumps(figures, indent=2))
    ray.shutdown()


if __name__ == "__main__":
    main()
