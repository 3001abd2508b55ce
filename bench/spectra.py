"""Time and peak memory of `harness analyze spectra` on the Assign-and-Add model and a tiny HF model.

Each case runs in a fresh interpreter (one torch thread), so its peak resident
memory (ru_maxrss) is its own; the time is the analysis alone (`ModelSpectra.seconds`,
activations + gradients + bootstrap, model loading excluded), beside the whole
process's wall time. Prints one row per case.

    python bench/spectra.py [--n 512] [--grad-n 128]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASE = """
import json, resource, sys, torch
torch.set_num_threads(1)
from harness.spectra.analysis import SpectraConfig, analyze
spec, task, n, grad_n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
[result] = analyze([spec], SpectraConfig(task=task, n=n, grad_n=grad_n), log=lambda line: None).models
print(json.dumps({"seconds": result.seconds, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "vectors": sum(result.vectors.values()), "gradient_size": result.gradient_size}))
"""


def run_case(spec: str, task: str, n: int, grad_n: int) -> dict:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CASE, spec, task, str(n), str(grad_n)], capture_output=True, text=True, check=True)
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "wall": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=512)
    parser.add_argument("--grad-n", type=int, default=128)
    args = parser.parse_args()
    from harness.testing.tiny_models import build_tiny_gpt2

    with tempfile.TemporaryDirectory() as tmp:
        gpt2 = build_tiny_gpt2(Path(tmp) / "gpt2")
        cases = [
            ("assign-add:released/final", "assign_add", args.n, args.grad_n),
            ("assign-add:released/final", "assign_add", args.n, 0),
            (f"hf:{gpt2}", "assign_add", args.n, args.grad_n),
            (f"hf:{gpt2}", "assign_add", args.n, 0),
        ]
        print(
            f"{'model':28s} {'n':>5s} {'grad-n':>6s} {'vectors':>8s} {'grad params':>11s} {'analysis s':>10s} {'wall s':>7s} {'peak MB':>8s}"
        )
        for spec, task, n, grad_n in cases:
            row = run_case(spec, task, n, grad_n)
            name = "hf:tiny-gpt2" if spec.startswith("hf:") else spec
            print(
                f"{name:28s} {n:5d} {grad_n:6d} {row['vectors']:8d} {row['gradient_size']:11,d} "
                f"{row['seconds']:10.1f} {row['wall']:7.1f} {row['peak_mb']:8.0f}"
            )


if __name__ == "__main__":
    main()
