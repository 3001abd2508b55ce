"""Replay the HARDMath reference solutions and perturbed answers through the
numeric scorer; print the figures for docs/hardmath.md and write the replay
file for `harness eval --model replay:FILE --task hardmath`.

    python bench/hardmath_replay.py [--subset mini] [--replay-out runs/hardmath_reference_replay.jsonl]

Perturbations, applied to every graded regime of a problem (so a problem
scores only if some perturbed regime still passes): `scaled` multiplies the
answer (the first root of a root list) by 1.1, i.e. its leading coefficient
changed by 10%; `sign` negates it; `swapped` answers each regime with
another regime's formula (only where the regimes' formulas differ).
"""

from __future__ import annotations

import argparse
import collections
import json
import time
from pathlib import Path

from harness.tasks.hardmath.answers import regime_answers
from harness.tasks.hardmath.loader import dedupe, load_subset
from harness.tasks.hardmath.reference import reference_output
from harness.tasks.hardmath.scoring import grade_output
from harness.tasks.hardmath.specs import parse_spec
from harness.tasks.hardmath.truth import compute_truth


def format_answers(kind: str, answers: dict) -> str:
    """An output in the layout the prompt's hint asks for."""
    if kind == "roots":
        lists = {r: "[" + ", ".join(v) + "]" for r, v in answers.items()}
        return " ".join(f"For {r} positive $\\epsilon$ the roots are $\\boxed{{{lst}}}$." for r, lst in lists.items())
    if kind == "ode" and len(answers) > 1:
        return "$\\boxed{[" + ", ".join(f"y = {v}" for v in answers.values()) + "]}$"
    return "$\\boxed{" + ", ".join(answers.values()) + "}$"


def perturb(answers: dict, how: str) -> dict | None:
    def change(item: str) -> str:
        return f"1.1 \\left({item}\\right)" if how == "scaled" else f"- \\left({item}\\right)"

    if how == "swapped":
        if len(answers) < 2 or len({json.dumps(v) for v in answers.values()}) < len(answers):
            return None  # one regime, or two regimes share a formula (one-term P): no wrong regime to give
        names = list(answers)
        return {r: answers[names[(k + 1) % len(names)]] for k, r in enumerate(names)}
    return {r: ([change(v[0])] + v[1:] if isinstance(v, list) else change(v)) for r, v in answers.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subset", default="mini", choices=["mini", "word"])
    ap.add_argument("--replay-out", default="runs/hardmath_reference_replay.jsonl")
    args = ap.parse_args()
    started = time.time()
    problems = dedupe(load_subset(args.subset))
    replay_rows, stats = [], collections.defaultdict(lambda: collections.defaultdict(list))
    disagreements = []
    for p in problems:
        out = reference_output(p)
        replay_rows.append({"task": "hardmath", "id": p.id, "output": out})
        truth = compute_truth(p.kind, parse_spec(p), p.stored_large_eval_point)
        if not truth.graded():
            stats[p.kind]["ungradable"].append(1)
            continue
        ref = grade_output(p.kind, truth, out)
        verified = bool(ref.verdicts) and all(v.status == "pass" for v in ref.verdicts)
        stats[p.kind]["verified"].append(verified)
        if verified:
            stats[p.kind]["replay"].append(ref.credit)
        else:
            disagreements.append((p.id, p.kind, [(v.regime, v.detail) for v in ref.verdicts if v.status != "pass"] or [("-", ref.error)]))
        if not verified:
            continue
        answers = regime_answers(out, p.kind, tuple(r.name for r in truth.regimes))
        graded_names = [r.name for r in truth.graded()]
        for how in ("scaled", "sign", "swapped"):
            changed = perturb({r: answers[r] for r in graded_names}, how)
            if changed is None:
                continue
            full = dict(answers, **changed)
            stats[p.kind][how].append(grade_output(p.kind, truth, format_answers(p.kind, full)).credit)
    Path(args.replay_out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.replay_out, "w", encoding="utf-8") as f:
        for row in replay_rows:
            f.write(json.dumps(row) + "\n")

    def mean(xs):
        return f"{100 * sum(xs) / len(xs):.1f}% (n={len(xs)})" if xs else "-"

    print(f"HARDMath-{args.subset}, {len(problems)} distinct problems, {time.time() - started:.0f} s")
    print("| type | keys verified | replay on verified keys | scaled x1.1 | sign flipped | regimes swapped | ungradable |")
    print("|---|---|---|---|---|---|---|")
    total = collections.defaultdict(list)
    for kind, s in stats.items():
        for k, v in s.items():
            total[k].extend(v)
        print(
            f"| {kind} | {sum(s['verified'])}/{len(s['verified'])} | {mean(s['replay'])} | {mean(s['scaled'])} | {mean(s['sign'])} | {mean(s['swapped'])} | {len(s['ungradable'])} |"
        )
    print(
        f"| all | {sum(total['verified'])}/{len(total['verified'])} | {mean(total['replay'])} | {mean(total['scaled'])} | {mean(total['sign'])} | {mean(total['swapped'])} | {len(total['ungradable'])} |"
    )
    print(f"\nkeys that disagree with the numerics ({len(disagreements)}):")
    for pid, kind, why in disagreements:
        print(f"- {pid} ({kind}): " + "; ".join(f"{r}: {d}" for r, d in why))
    print(f"\nreplay file: {args.replay_out}")


if __name__ == "__main__":
    main()
