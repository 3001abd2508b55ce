"""The `hardmath` task: HARDMath (Fan, Martinson et al., 2024) graded against
numerical ground truth per regime (default), or the paper's SymPy check for
nondimensionalization plus an optional judge for the rest (`scoring=paper`)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence

from harness.api import ChatMessage, GenerateRequest, HarnessError, ModelRole, Response, Sample, Score, Task
from harness.checker import SANDBOX_STATUS, CheckerPool, extract_boxed, final_section, verify
from harness.metrics import Metric, count_metric, mean_metric
from harness.record import SampleRecord
from harness.registry import register_task
from harness.tasks.hardmath.loader import KINDS, Problem, dedupe, load_jsonl, load_subset
from harness.tasks.hardmath.prompt import HINTS, WORD_ODE_HINT, build_messages, pick_shots, shot_pool
from harness.tasks.hardmath.reference import reference_output
from harness.tasks.hardmath.scoring import GradeResult, grade_output
from harness.tasks.hardmath.specs import SpecError, parse_spec
from harness.tasks.hardmath.truth import GroundTruth, compute_truth


@dataclass(frozen=True)
class HardMathArgs:
    subset: Literal["mini", "word"] = "mini"  # HARDMath-mini or its 40 word problems
    type: Literal["all", "nondim_symbolic", "nondim_numeric", "roots", "ode", "integral_traditional", "integral_laplace"] = "all"
    shots: int = 0  # worked examples from the training split, 0 to 5
    scoring: Literal["numeric", "paper"] = "numeric"  # numeric: per regime against the problem; paper: SymPy + judge
    dedupe: bool = True  # drop the repeated problems of HARDMath-mini
    data: str | None = None  # a JSONL of problems instead of the packaged set
    seed: int = 0  # picks the shots
    max_tokens: int = 4000  # generation budget per problem
    timeout_s: float = 20.0  # per response, in the sandbox
    workers: int = 2  # sandbox worker processes

    def __post_init__(self):
        if not 0 <= self.shots <= 5:
            raise HarnessError(f"shots={self.shots} is out of range; use 0 to 5 (drawn from the training-split shot pool)")
        if self.timeout_s <= 0 or self.workers < 1 or self.max_tokens < 1:
            raise HarnessError("timeout_s must be positive and workers, max_tokens at least 1")


TRUTH_TIMEOUT_S = 120.0


def truth_and_key_check(problem: Problem) -> tuple[GroundTruth | None, str, GradeResult | None]:
    """Ground truth of a problem (or why there is none) and its answer key graded
    against it. Run in the sandbox: a `data=FILE` question is user input."""
    try:
        truth = compute_truth(problem.kind, parse_spec(problem), problem.stored_large_eval_point)
    except (SpecError, ValueError, ArithmeticError, TypeError) as e:
        return None, f"no ground truth: {type(e).__name__}: {e}", None
    return truth, "", grade_output(problem.kind, truth, reference_output(problem))


@register_task
class HardMathTask(Task):
    name = "hardmath"
    description = "HARDMath (2024): asymptotic and approximate applied maths, answers checked numerically per regime."
    Args = HardMathArgs
    roles = (ModelRole("judge", "grades the types the paper gives to an LLM judge (scoring=paper only)"),)

    def __init__(self, args: HardMathArgs | None = None):
        super().__init__(args)
        self._problems: dict[str, Problem] | None = None
        self._truth: dict[str, tuple[GroundTruth | None, str]] = {}
        self._key_checks: dict[str, GradeResult | None] = {}
        self._pool: CheckerPool = self.own(CheckerPool(workers=self.args.workers, preload=("harness.tasks.hardmath.task",)))

    # ------------------------------------------------------------ data

    def problems(self) -> dict[str, Problem]:
        if self._problems is None:
            loaded = load_jsonl(self.args.data) if self.args.data else load_subset(self.args.subset)
            if self.args.dedupe:
                loaded = dedupe(loaded)
            self._problems = {p.id: p for p in loaded if self.args.type in ("all", p.kind)}
        return self._problems

    def _hint(self, p: Problem) -> str:
        if p.kind == "ode":
            try:
                if parse_spec(p).regimes == ("large",):  # word problems ask for large x only
                    return WORD_ODE_HINT
            except SpecError:
                pass
        return HINTS[p.kind]

    def samples(self):
        pool = shot_pool() if self.args.shots else {}
        for p in self.problems().values():
            shots = pick_shots(pool, p.kind, self.args.shots, self.args.seed, p.id) if self.args.shots else []
            yield Sample(
                id=p.id,
                input=build_messages(p, self._hint(p), shots),
                target=p.answer_val,
                metadata={"kind": p.kind, "shots": [s.id for s in shots]},
            )

    def requests(self, sample: Sample):
        return [GenerateRequest(prompt=sample.input, max_tokens=self.args.max_tokens, temperature=0.0)]

    # ------------------------------------------------------------ ground truth

    def _ensure_truth(self, ids: Sequence[str]) -> None:
        """Numerical truth for `ids`, and the answer key graded against it (key verification)."""
        todo = list(dict.fromkeys(i for i in ids if i not in self._truth))
        outcomes = self._pool.map(truth_and_key_check, [(self.problems()[i],) for i in todo], timeout_s=TRUTH_TIMEOUT_S)
        for i, outcome in zip(todo, outcomes):
            if outcome.status == "ok":
                truth, why, key_check = outcome.value
            else:
                truth, why, key_check = None, f"no ground truth: computing it hit the checker's {outcome.status} limit", None
            self._truth[i] = (truth, why)
            self._key_checks[i] = key_check

    def key_verified(self, pid: str) -> bool | None:
        check = self._key_checks.get(pid)
        if check is None or not check.verdicts:
            return None
        return all(v.status == "pass" for v in check.verdicts)

    # ------------------------------------------------------------ scoring

    def score_batch(self, samples: Sequence[Sample], responses: Sequence[Sequence[Response]]) -> list[Score]:
        self._ensure_truth([s.id for s in samples])
        texts = [r[0].text or "" for r in responses]
        if self.args.scoring == "paper":
            return [self._score_paper(s, t) for s, t in zip(samples, texts)]
        gradable = [k for k, s in enumerate(samples) if self._truth[s.id][0] is not None]
        outcomes = self._pool.map(
            grade_output,
            [(samples[k].metadata["kind"], self._truth[samples[k].id][0], texts[k]) for k in gradable],
            timeout_s=self.args.timeout_s,
        )
        by_index = dict(zip(gradable, outcomes))
        return [self._score_numeric(s, by_index.get(k)) for k, s in enumerate(samples)]

    def _common_fields(self, sample: Sample) -> dict:
        check = self._key_checks.get(sample.id)
        return {
            "kind": sample.metadata["kind"],
            "key_verified": self.key_verified(sample.id),
            "key_check": [v.to_json() for v in check.verdicts] if check else [],
        }

    def _score_numeric(self, sample: Sample, outcome) -> Score:
        truth, why = self._truth[sample.id]
        fields = self._common_fields(sample)
        fields.update(scoring="numeric", timeout=False, parse_failure=False, ungradable=False, regimes=[], n_graded_regimes=0)
        if truth is None:
            fields["ungradable"] = True
            return Score(0.0, None, why, fields)
        if outcome.status != "ok":
            fields["timeout"] = outcome.status == "timeout"
            fields["parse_failure"] = outcome.status != "timeout"
            return Score(0.0, None, f"checker {SANDBOX_STATUS[outcome.status]}: {outcome.error}", fields)
        result: GradeResult = outcome.value
        if not truth.graded():
            fields["ungradable"] = True
            return Score(0.0, None, "; ".join(f"{r.name}: {r.status} ({r.note})" for r in truth.regimes), fields)
        if result.error:
            fields["parse_failure"] = True
            return Score(0.0, None, f"no answer: {result.error}", fields)
        fields["regimes"] = [v.to_json() for v in result.verdicts]
        fields["n_graded_regimes"] = len(result.verdicts)
        fields["parse_failure"] = any(v.status == "parse_error" for v in result.verdicts)
        skipped = [f"{r.name} not graded ({r.status}: {r.note})" for r in truth.regimes if r.status != "ok"]
        explanation = "; ".join([f"{v.regime}: {v.status}, {v.detail}" for v in result.verdicts] + skipped)
        return Score(result.credit, {v.regime: v.answer for v in result.verdicts}, explanation, fields)

    # ------------------------------------------------------------ paper scoring

    def _score_paper(self, sample: Sample, text: str) -> Score:
        """Official method: last box, SymPy equality for nondimensionalization
        (floats: same value at two decimals), a judge for everything else."""
        fields = self._common_fields(sample)
        fields.update(scoring="paper", timeout=False, parse_failure=False, ungradable=False, judged=False, unjudged=False)
        boxes = extract_boxed(final_section(text))
        if not boxes:
            fields["parse_failure"] = True
            return Score(0.0, None, "no \\boxed{} answer", fields)
        answer = re.split(r"\\approx|=", boxes[-1])[-1].strip()
        kind = sample.metadata["kind"]
        gold = re.split(r"\\approx|=", sample.target)[-1].strip()
        if kind == "nondim_numeric":
            try:
                ok = round(float(answer), 2) == round(float(gold), 2)
            except ValueError:
                fields["parse_failure"] = True
                return Score(0.0, answer, f"not a number: {answer[:60]!r}", fields)
            return Score(float(ok), answer, f"two-decimal equality with {gold}: {ok}", fields)
        if kind == "nondim_symbolic":
            outcome = self._pool.run(verify, gold, answer, 1e-9, timeout_s=self.args.timeout_s)
            if outcome.status != "ok":
                fields["timeout"] = outcome.status == "timeout"
                return Score(0.0, answer, f"checker {SANDBOX_STATUS[outcome.status]}", fields)
            fields["parse_failure"] = outcome.value.method.startswith("parse")
            return Score(float(bool(outcome.value.equal)), answer, f"SymPy: {outcome.value.method} {outcome.value.detail}", fields)
        return self._judge_one(sample, text, fields)

    def _judge_one(self, sample: Sample, text: str, fields: dict) -> Score:
        judge = self.role("judge")
        if judge is None:
            fields["unjudged"] = True
            return Score(0.0, None, "unjudged: the paper grades this type with an LLM judge; pass --model-role judge=MODEL", fields)
        problem = self.problems()[sample.id]
        prompt = (
            f"Please take this response: {text} and this ground truth solution: {reference_output(problem)} and grade the "
            "response from 0 to 1: for each regime or root list asked for, full credit if it matches the ground truth, "
            "partial credit in proportion to the matching parts. Put the final grade in \\boxed{}."
        )
        reply = judge.generate(
            [GenerateRequest(prompt=(ChatMessage("user", prompt),), max_tokens=1024, temperature=0.0, seed=0)], [sample.id]
        )[0]
        grades = extract_boxed(reply.text or "") if reply.error is None else []
        try:
            grade = float(grades[-1]) if grades else None
        except ValueError:
            grade = None
        if grade is None or not 0 <= grade <= 1:
            fields["unjudged"] = True
            return Score(0.0, None, f"unjudged: judge reply without a grade in [0, 1] ({reply.error or (reply.text or '')[:80]!r})", fields)
        fields["judged"] = True
        return Score(grade, None, f"judge grade {grade:g}", fields)

    # ------------------------------------------------------------ metrics

    def aggregate(self, records: list[SampleRecord]) -> dict[str, Metric]:
        scored = [r for r in records if not r.fields.get("ungradable") and not r.fields.get("unjudged")]
        metrics = {"accuracy": mean_metric([r.score for r in scored])}
        for kind in KINDS:
            subset = [r.score for r in scored if r.fields["kind"] == kind]
            if subset:
                metrics[f"accuracy/{kind}"] = mean_metric(subset)
        verified = [r.score for r in scored if r.fields.get("key_verified")]
        metrics["accuracy/key_verified"] = mean_metric(verified)
        n = len(records)
        metrics["parse_failures"] = count_metric(sum(bool(r.fields.get("parse_failure")) for r in records), n)
        metrics["timeouts"] = count_metric(sum(bool(r.fields.get("timeout")) for r in records), n)
        metrics["ungradable"] = count_metric(sum(bool(r.fields.get("ungradable")) for r in records), n)
        metrics["key_disagreements"] = count_metric(sum(r.fields.get("key_verified") is False for r in records), n)
        if self.args.scoring == "paper":
            metrics["unjudged"] = count_metric(sum(bool(r.fields.get("unjudged")) for r in records), n)
        return metrics

    def write_artifacts(self, records: list[SampleRecord], run_dir: Path) -> None:
        """hardmath_key_audit.jsonl: every problem whose answer key disagrees with the numerics, with both values."""
        with open(Path(run_dir) / "hardmath_key_audit.jsonl", "w", encoding="utf-8") as f:
            for r in records:
                if r.fields.get("key_verified") is False:
                    bad = [v for v in r.fields.get("key_check", []) if v["status"] != "pass"]
                    f.write(json.dumps({"id": r.id, "kind": r.fields["kind"], "disagreeing_regimes": bad}) + "\n")
