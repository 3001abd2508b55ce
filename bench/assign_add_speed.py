"""Assign-and-Add training-step and evaluation speed, side by side in one run.

Compares, on the same batches and the same process:
  plain  - every position through both layers (what TransformerLens computes), loss on the last;
  fast   - `forward_last`: table-lookup first layer, layer 1 at the `=` position only (what the trainer uses);
and the fast step at 1 vs 2 torch threads, plus evaluation throughput.
Prints ms per AdamW step (batch 512) and the ratios. The CPU is shared, so
compare the ratios, which are measured interleaved, rather than absolute times.

    python bench/assign_add_speed.py [--steps 20]
"""

from __future__ import annotations

import argparse
import os
import time

import torch
import torch.nn.functional as F

from harness.tasks.assign_add.generator import POOLS, TrainingStream, draw_pool, make_partition, pool_rng
from harness.tasks.assign_add.model import AssignAddTransformer


def make_step(model: AssignAddTransformer, optimizer, fast: bool):
    def step(tokens: torch.Tensor, labels: torch.Tensor) -> None:
        logits = model.forward_last(tokens) if fast else model.forward_full(tokens)[0][:, -1]
        loss = F.cross_entropy(logits, labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    stream = TrainingStream(make_partition(), seed=0)
    batches = [stream.next_batch(512) for _ in range(args.steps)]
    batches = [(torch.from_numpy(b.tokens), torch.from_numpy(b.labels)) for b in batches]
    variants = {}
    for name, fast, threads in (("plain, 1 thread", False, 1), ("fast, 1 thread", True, 1), ("fast, 2 threads", True, 2)):
        model = AssignAddTransformer()
        model.init_weights(torch.Generator().manual_seed(0))
        variants[name] = (make_step(model, torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.02), fast), threads)
    totals = {name: 0.0 for name in variants}
    for i, (tokens, labels) in enumerate(batches):  # interleaved, so load changes hit every variant alike
        for name, (step, threads) in variants.items():
            torch.set_num_threads(threads)
            t0 = time.perf_counter()
            step(tokens, labels)
            if i >= 2:  # warm-up
                totals[name] += time.perf_counter() - t0
    n = max(1, args.steps - 2)
    print(f"cpu cores visible: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")
    for name, total in totals.items():
        print(f"{name:18s} {1000 * total / n:8.1f} ms/step  {n / total:6.1f} steps/s")
    print(f"fast vs plain (1 thread): {totals['plain, 1 thread'] / totals['fast, 1 thread']:.2f}x")
    print(f"1 vs 2 threads (fast):    {totals['fast, 2 threads'] / totals['fast, 1 thread']:.2f}x (>1: one thread is faster)")

    torch.set_num_threads(1)
    model = AssignAddTransformer()
    model.init_weights(torch.Generator().manual_seed(0))
    pools = [draw_pool(spec, make_partition(), 2000, pool_rng(0, spec.name)) for spec in POOLS]
    tokens = torch.cat([torch.from_numpy(b.tokens) for b in pools])
    t0 = time.perf_counter()
    model.predict(tokens)
    elapsed = time.perf_counter() - t0
    print(f"evaluation, 9 pools x 2,000 sequences: {elapsed:.2f} s ({len(tokens) / elapsed:,.0f} sequences/s, 1 thread)")


if __name__ == "__main__":
    main()
