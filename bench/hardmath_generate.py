"""Generate 100 verified problems of every type and print how long each took,
how many drafts were rejected by the numerical key check, and how many
distinct problems each generator can produce.

    python bench/hardmath_generate.py [--n 100] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

from harness.tasks.hardmath.generate import GENERATED_KINDS, distinct_problems, generate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print("| type | verified problems | seconds | distinct problems possible |")
    print("|---|---|---|---|")
    for kind in GENERATED_KINDS:
        started = time.time()
        problems = generate(kind, args.n, args.seed)
        assert all(p["key_verified"] for p in problems)
        print(f"| {kind} | {len(problems)} | {time.time() - started:.1f} | {distinct_problems(kind):,} |", flush=True)


if __name__ == "__main__":
    main()
