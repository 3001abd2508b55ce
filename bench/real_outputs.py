"""Scorers against careful grades of real model outputs, side by side in one run.

PHYSICS: the published outputs of Qwen2.5-72B-Instruct and Llama-3.1-8B-Instruct
on 160 problems whose every gold answer was graded by hand (correct, incorrect,
unclear; math or verbal) are scored by the `physics` task without a judge. Per
model, for math gold answers graded correct or incorrect: coverage (decided
without a judge), agreement on the decided ones, false accepts (accepted,
graded incorrect; share of the incorrect ones) and false rejects (graded
correct, rejected or left unjudged; share of the correct ones); then the
problem-level mean absolute error against the careful score (over all gold
answers, and over the math ones alone), beside the official pipeline's
(SymPy plus a GPT-4o judge). A second table runs the same scoring with a
judge that answers as the careful grader did: what is left is the error of
SymPy's own verdicts, the most any judge can improve on them.

HARDMath: the authors' published responses of five models are scored by the
`hardmath` task (numeric grading per regime). Per type: the share of responses
that box an answer and are graded; then the disagreements with the authors'
GPT-4o grades by cause.

    python bench/real_outputs.py [--workers 2] [--part physics|hardmath|all] [--show N]
"""

from __future__ import annotations

import argparse
import collections
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.api import GenerateRequest, Generation, ModelAdapter, RequestContext  # noqa: E402
from harness.checker.reading import read_answers  # noqa: E402
from harness.roles import RoleModel  # noqa: E402
from harness.tasks.hardmath.published import published_replays  # noqa: E402
from harness.tasks.hardmath.task import HardMathArgs, HardMathTask  # noqa: E402
from harness.tasks.physics.published import MODELS, GradedProblem, graded_problems, published_outputs  # noqa: E402
from harness.tasks.physics.task import PhysicsArgs, PhysicsTask  # noqa: E402


@dataclass
class Figures:
    """One model's agreement with the careful grades."""

    outcomes: collections.Counter = field(default_factory=collections.Counter)  # (graded right, ours) -> count
    errors: list = field(default_factory=list)  # |our problem score - careful score|
    math_errors: list = field(default_factory=list)  # the same over math gold answers only
    official_errors: list = field(default_factory=list)
    ours: list = field(default_factory=list)
    careful: list = field(default_factory=list)
    official: list = field(default_factory=list)

    def row(self, name: str, n_problems: int) -> str:
        c = self.outcomes
        n_right = sum(v for (right, _), v in c.items() if right)
        n_wrong = sum(v for (right, _), v in c.items() if not right)
        decided = sum(v for (_, outcome), v in c.items() if outcome != "unjudged")
        agree = c[(True, "accept")] + c[(False, "reject")]
        false_rejects = c[(True, "reject")] + c[(True, "unjudged")]
        return (
            f"| {name} | {n_problems} | {n_right}/{n_wrong} | {_share(decided, n_right + n_wrong)} "
            f"| {_share(agree, decided)} | {_share(c[(False, 'accept')], n_wrong)} | {_share(false_rejects, n_right)} "
            f"| {_mean(self.errors)} | {_mean(self.math_errors)} | {_mean(self.official_errors)} "
            f"| {_mean(self.ours)} | {_mean(self.careful)} | {_mean(self.official)} |"
        )


def _share(a: int, b: int) -> str:
    return f"{a / b:.3f} ({a}/{b})" if b else "-"


def _mean(xs: list) -> str:
    return f"{statistics.fmean(xs):.3f}" if xs else "-"


class CarefulGrader(ModelAdapter):
    """A judge that answers as the careful grader did for the gold answer it is asked
    about ("unclear" grades get no verdict): the ceiling of the judge step."""

    name = "careful-grader"

    def __init__(self, problems: list[GradedProblem], targets: dict[str, list[str]]):
        super().__init__("adjudicated_dev")
        self._problems = {p.id: p for p in problems}
        self._targets = targets

    def generate(self, requests: list[GenerateRequest], contexts: list[RequestContext]) -> list[Generation]:
        replies = []
        for request, context in zip(requests, contexts):
            asked = request.prompt[-1].content
            golds = self._targets[context.sample_id]
            g = next(g for g, gold in enumerate(golds) if f"\n{gold}\n\nCandidate answer:" in asked)
            grade = next(x for x in self._problems[context.sample_id].grades if x.gold == g)
            verdict = {"correct": "true", "incorrect": "false"}.get(grade.verdict)
            replies.append(Generation(f'{{"equivalent": {verdict}, "reason": "careful grade"}}' if verdict else "unclear"))
        return replies


def physics(workers: int, show: int) -> None:
    graded = graded_problems()
    for careful_judge in (False, True):
        task = PhysicsTask(PhysicsArgs(split="all", workers=workers))
        samples = {s.id: s for s in task.samples()}
        if careful_judge:
            print("\n## PHYSICS: the same, with a judge that answers as the careful grader\n")
        else:
            print("## PHYSICS: math gold answers against careful grades (no judge)\n")
        physics_table(task, samples, graded, careful_judge, show)
        task.close()


def physics_table(task: PhysicsTask, samples: dict, graded: list[GradedProblem], careful_judge: bool, show: int) -> None:
    print(
        f"| model | problems | math golds (correct/incorrect) | {'decided' if careful_judge else 'decided without a judge'} | agreement on decided "
        "| false accepts | false rejects | MAE ours | MAE ours, math golds | MAE official | mean ours | mean careful | mean official |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    wrong_examples = []
    total = Figures()
    for model in MODELS:
        outputs = published_outputs(model)
        problems = [p for p in graded if p.model == model]
        if careful_judge:
            grader = CarefulGrader(problems, {p.id: samples[p.id].target for p in problems})
            task.bind_roles({"judge": RoleModel.direct("judge", grader, task.name)})
        started = time.perf_counter()
        scores = task.score_batch([samples[p.id] for p in problems], [[Generation(outputs[p.id]["output"])] for p in problems])
        elapsed = time.perf_counter() - started
        figures = Figures()
        for p, score in zip(problems, scores):
            matched = {m["gold"] for m in score.fields["matches"]}
            unjudged = set(score.fields["unjudged_gold"])
            math = [g for g in p.grades if g.kind == "math" and g.verdict != "unclear"]
            for grade in math:
                right = grade.verdict == "correct"
                outcome = "accept" if grade.gold in matched else "unjudged" if grade.gold in unjudged else "reject"
                figures.outcomes[(right, outcome)] += 1
                if (outcome == "accept") != right:
                    wrong_examples.append((model, p.id, grade, outcome, score))
            if math:
                accepted = sum(g.gold in matched for g in math) / len(math)
                figures.math_errors.append(abs(accepted - sum(g.verdict == "correct" for g in math) / len(math)))
            if p.careful_score is not None:
                figures.ours.append(score.value)
                figures.careful.append(p.careful_score)
                figures.errors.append(abs(score.value - p.careful_score))
                if p.official_score is not None:
                    figures.official.append(p.official_score)
                    figures.official_errors.append(abs(p.official_score - p.careful_score))
        total.outcomes.update(figures.outcomes)
        total.math_errors.extend(figures.math_errors)
        print(figures.row(model, len(problems)) + f"  <!-- {elapsed:.1f} s -->")
    print(total.row("both", len(graded)))
    if careful_judge:
        return
    print(f"\n### Disagreements with the careful grades ({len(wrong_examples)}; first {show})\n")
    for model, pid, grade, outcome, score in wrong_examples[:show]:
        checks = [ch for ch in score.fields["checks"] if ch["gold"] == grade.gold]
        best = next((ch for ch in checks if ch["equal"] is True), checks[-1] if checks else None)
        why = f"{best['method']}: {best['detail'][:140]}" if best else "no candidate"
        if best:
            why += f" [part {score.fields['parts'][best['part']]['latex'][:100]!r}]"
        print(f"- {model} {pid} gold {grade.gold} graded {grade.verdict}, ours {outcome}: {why} | grader: {grade.reason[:140]}")


def hardmath(workers: int, show: int) -> None:
    task = HardMathTask(HardMathArgs(workers=workers))
    samples = {s.id: s for s in task.samples()}
    graded_by_kind: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    causes: collections.Counter = collections.Counter()
    examples: dict[str, list[str]] = collections.defaultdict(list)
    print("\n## HARDMath: the authors' published responses, graded numerically per regime\n")
    print("| responses | model files | boxed an answer | graded (of boxed) | mean ours | mean GPT-4o grader |")
    print("|---|---|---|---|---|---|")
    n_all = n_boxed = n_graded = 0
    ours_all, official_all = [], []
    for name, rows in published_replays().items():
        rows = [r for r in rows if r["id"] in samples]
        scores = task.score_batch([samples[r["id"]] for r in rows], [[Generation(r["output"])] for r in rows])
        for r, score in zip(rows, scores):
            kind = samples[r["id"]].metadata["kind"]
            if score.fields["ungradable"]:
                continue
            boxed = bool(read_answers(r["output"]))
            graded = bool(score.fields["regimes"]) and not score.fields["parse_failure"]
            c = graded_by_kind[kind]
            c["responses"] += 1
            c["boxed"] += boxed
            c["graded"] += boxed and graded
            n_all, n_boxed, n_graded = n_all + 1, n_boxed + boxed, n_graded + (boxed and graded)
            if boxed and not graded:
                cause = f"not graded: {score.explanation.split(':')[0][:60]}"
            elif not graded:
                continue
            else:
                ours_all.append(score.value)
                official = official_grade(r["official_score"])
                official_all.append(official)
                if abs(score.value - official) < 0.5:
                    continue
                verdict = "ours pass, GPT-4o fail" if score.value > official else "ours fail, GPT-4o pass"
                cause = f"{verdict} ({kind}{', key disagrees with numerics' if score.fields['key_verified'] is False else ''})"
            causes[cause] += 1
            examples[cause].append(f"{name} id {r['id']}: {score.explanation[:220]}")
    print(
        f"| {n_all} | {len(published_replays())} | {n_boxed} | {n_graded / max(n_boxed, 1):.3f} ({n_graded}/{n_boxed}) "
        f"| {statistics.fmean(ours_all):.3f} | {statistics.fmean(official_all):.3f} |"
    )
    print("\n| type | responses | boxed | graded of boxed |\n|---|---|---|---|")
    for kind, c in sorted(graded_by_kind.items()):
        print(f"| {kind} | {c['responses']} | {c['boxed']} | {c['graded'] / max(c['boxed'], 1):.3f} ({c['graded']}/{c['boxed']}) |")
    print("\n### Disagreements with the authors' GPT-4o grades and responses not graded, by cause\n")
    for cause, n in causes.most_common():
        print(f"- {n:4d}  {cause}")
        for line in examples[cause][:show]:
            print(f"        {line}")
    task.close()


def official_grade(value) -> float:
    """The GPT-4o grader's score as published: a number, or a few written as `\\frac{a}{b}`."""
    m = re.fullmatch(r"\s*\\frac\{(\d+)\}\{(\d+)\}\s*", str(value))
    return int(m.group(1)) / int(m.group(2)) if m else float(value)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--part", default="all", choices=["physics", "hardmath", "all"])
    ap.add_argument("--show", type=int, default=40)
    args = ap.parse_args()
    if args.part in ("physics", "all"):
        physics(args.workers, args.show)
    if args.part in ("hardmath", "all"):
        hardmath(args.workers, min(args.show, 3))


if __name__ == "__main__":
    main()
