"""The `physics` task: PHYSICS (yale-nlp, 2025) with the sandboxed SymPy checker."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np

from harness.api import GenerateRequest, HarnessError, Metric, RequestContext, Response, Sample, Score, Task
from harness.checker import CheckerPool, LatexParseError, extract_boxed, final_section, normalize_latex, verify
from harness.metrics import count_metric, mean_metric, proportion_metric, statistic_metric
from harness.registry import create_model, register_task
from harness.tasks.physics.judge import judge_request, parse_judge_reply
from harness.tasks.physics.loader import DOMAINS, Problem, load_directory, load_packaged
from harness.tasks.physics.prompt import build_messages
from harness.tasks.physics.scoring import PairCheck, score_problem, unjudged_gold

_SANDBOX_METHODS = {"timeout": "timeout", "memory": "memory_limit", "error": "checker_error"}


@dataclass(frozen=True)
class PhysicsArgs:
    split: Literal["validation", "test", "all"] = "test"
    modality: Literal["text", "all"] = "text"
    domain: Literal["all", "atomic", "electro", "mechanics", "optics", "quantum", "statistics"] = "all"
    scoring: Literal["strict", "paper"] = "strict"
    rel_tol: float = 0.01
    timeout_s: float = 5.0
    judge: str | None = None
    data_dir: str | None = None
    max_tokens: int = 8192
    max_boxes: int = 30
    workers: int = 2

    def __post_init__(self):
        if not 0 < self.rel_tol < 1:
            raise HarnessError(f"rel_tol={self.rel_tol} is out of range; give a relative tolerance such as 0.01")
        if self.timeout_s <= 0:
            raise HarnessError(f"timeout_s={self.timeout_s} must be positive (seconds per check)")
        if self.max_boxes < 1 or self.workers < 1 or self.max_tokens < 1:
            raise HarnessError("max_boxes, workers and max_tokens must be at least 1")


@register_task
class PhysicsTask(Task):
    name = "physics"
    description = "PHYSICS (yale-nlp 2025): 1,297 university physics problems, boxed LaTeX answers, sandboxed SymPy checker."
    Args = PhysicsArgs

    def __init__(self, args: PhysicsArgs | None = None):
        super().__init__(args)
        if self.args.modality == "all":
            if self.args.data_dir is None:
                raise HarnessError(
                    "modality=all needs the figures, which the packaged copy lacks; add --task-arg data_dir=<PHYSICS folder>"
                )
            self.requires = frozenset({"generate", "images"})
        self._problems: list[Problem] | None = None
        self._pool: CheckerPool | None = None
        self._judge = None

    # ------------------------------------------------------------ data

    def problems(self) -> list[Problem]:
        if self._problems is None:
            if self.args.data_dir is not None:
                loaded = load_directory(self.args.data_dir, with_images=self.args.modality == "all")
            else:
                loaded = load_packaged()
            self._problems = [
                p
                for p in loaded
                if (self.args.split == "all" or p.split == self.args.split)
                and (self.args.domain == "all" or p.domain == self.args.domain)
                and (self.args.modality == "all" or p.n_images == 0)
            ]
        return self._problems

    def samples(self):
        for p in self.problems():
            yield Sample(
                id=p.id,
                input=build_messages(p.question, p.image_paths),
                target=list(p.final_answers),
                metadata={"domain": p.domain, "split": p.split, "question": p.question},
            )

    def requests(self, sample: Sample):
        return [GenerateRequest(prompt=sample.input, max_tokens=self.args.max_tokens, temperature=0.0)]

    # ------------------------------------------------------------ scoring

    def _checker_pool(self) -> CheckerPool:
        if self._pool is None:
            self._pool = CheckerPool(workers=self.args.workers)
        return self._pool

    def _judge_model(self):
        if self._judge is None and self.args.judge:
            self._judge = create_model(self.args.judge, {})
        return self._judge

    def _check_pairs(self, jobs: list[tuple[str, str]]) -> list[tuple[bool | None, str, str]]:
        """Verify (gold, candidate) pairs in the sandbox; identical pairs are checked once."""
        unique = list(dict.fromkeys(jobs))
        outcomes = self._checker_pool().map(
            verify, [(g, c, self.args.rel_tol) for g, c in unique], timeout_s=self.args.timeout_s
        )
        verdicts = {}
        for pair, outcome in zip(unique, outcomes):
            if outcome.status == "ok":
                v = outcome.value
                verdicts[pair] = (v.equal, v.method, v.detail)
            else:
                verdicts[pair] = (None, _SANDBOX_METHODS[outcome.status], outcome.error or "")
        return [verdicts[j] for j in jobs]

    def _judge_undecided(self, samples: Sequence[Sample], per_sample: list[list[PairCheck]], boxes: list[list[str]]) -> None:
        judge = self._judge_model()
        if judge is None:
            return
        todo = [(i, c) for i, checks in enumerate(per_sample) for c in checks if c.equal is None]
        if not todo:
            return
        requests = [
            judge_request(samples[i].metadata["question"], samples[i].target[c.gold], boxes[i][c.box]) for i, c in todo
        ]
        contexts = [RequestContext("physics-judge", samples[i].id, k) for k, (i, _) in enumerate(todo)]
        replies = judge.generate(requests, contexts)
        for (i, check), reply in zip(todo, replies):
            verdict, reason = parse_judge_reply(reply.text if reply.error is None else None)
            if reply.error is not None:
                reason = f"judge error: {reply.error}"
            if verdict is not None:
                check.detail = f"judge ({reason}); checker said {check.method}: {check.detail}"
                check.equal, check.method = verdict, "judge"
            else:
                check.detail = f"unjudged: {reason}; checker said {check.method}: {check.detail}"

    def score_batch(self, samples: Sequence[Sample], responses: Sequence[Sequence[Response]]) -> list[Score]:
        boxes: list[list[str]] = []
        truncated: list[int] = []
        for r in responses:
            found = extract_boxed(final_section(r[0].text or ""))
            truncated.append(max(0, len(found) - self.args.max_boxes))
            boxes.append(found[-self.args.max_boxes :])
        per_sample: list[list[PairCheck]] = [[] for _ in samples]
        jobs, owners = [], []
        for i, (s, bs) in enumerate(zip(samples, boxes)):
            exact = _exact_pairs(s.target, bs)
            per_sample[i].extend(PairCheck(b, g, True, "exact", "same normalised LaTeX") for g, b in exact)
            done_boxes = {b for _, b in exact}
            for b, box in enumerate(bs):
                for g, gold in enumerate(s.target):
                    if b not in done_boxes:
                        jobs.append((gold, box))
                        owners.append((i, b, g))
        for (i, b, g), (equal, method, detail) in zip(owners, self._check_pairs(jobs)):
            per_sample[i].append(PairCheck(b, g, equal, method, detail))
        self._judge_undecided(samples, per_sample, boxes)
        return [self._score_one(s, bs, checks, t) for s, bs, checks, t in zip(samples, boxes, per_sample, truncated)]

    def _score_one(self, sample: Sample, boxes: list[str], checks: list[PairCheck], truncated: int) -> Score:
        n_gold = len(sample.target)
        result = score_problem(len(boxes), n_gold, checks)
        unjudged = unjudged_gold(n_gold, checks, result.matches)
        value = result.answer_fraction if self.args.scoring == "strict" else result.paper_score
        matched_methods = {g: next(c.method for c in checks if c.gold == g and c.box == b) for g, b in result.matches.items()}
        if not boxes:
            explanation = "no \\boxed{} answer found"
        else:
            explanation = (
                f"{len(result.matches)}/{n_gold} gold answers matched one-to-one by {len(boxes)} boxes "
                f"({', '.join(f'gold {g}<-box {b} by {matched_methods[g]}' for g, b in sorted(result.matches.items())) or 'none'}); "
                f"paper formula {result.paper_matched_boxes}/{len(boxes)} boxes; scored {self.args.scoring}"
            )
        return Score(
            value=value,
            answer=boxes,
            explanation=explanation,
            fields={
                "domain": sample.metadata["domain"],
                "n_gold": n_gold,
                "n_boxes": len(boxes),
                "boxes_dropped": truncated,
                "gold_matched": len(result.matches),
                "answer_fraction": result.answer_fraction,
                "all_correct": len(result.matches) == n_gold,
                "paper_score": result.paper_score,
                "matches": [[g, b] for g, b in sorted(result.matches.items())],
                "checks": [c.to_json() for c in checks],
                "n_checks": len(checks),
                "n_timeouts": sum(c.method == "timeout" or "checker said timeout" in c.detail for c in checks),
                "n_parse_failures": sum(c.method in ("parse_failure", "verbal") or "checker said parse_failure" in c.detail or "checker said verbal" in c.detail for c in checks),
                "n_judged": sum(c.method == "judge" for c in checks),
                "unjudged_gold": unjudged,
            },
        )

    # ------------------------------------------------------------ metrics

    def aggregate(self, records: list[dict]) -> dict[str, Metric]:
        metrics: dict[str, Metric] = {}
        if not records:
            return {"accuracy": mean_metric([])}
        metrics["accuracy"] = mean_metric([r["score"] for r in records])
        metrics.update(_accuracy_metrics(records, ""))
        metrics["paper_accuracy"] = mean_metric([r["paper_score"] for r in records])
        diffs = [r["paper_score"] - r["answer_fraction"] for r in records]
        metrics["paper_minus_answer_fraction"] = mean_metric(diffs)
        for domain in DOMAINS:
            subset = [r for r in records if r["domain"] == domain]
            if subset:
                metrics.update(_accuracy_metrics(subset, f"/{domain}"))
        n_checks = sum(r["n_checks"] for r in records)
        n_gold = sum(r["n_gold"] for r in records)
        metrics["timeouts"] = count_metric(sum(r["n_timeouts"] for r in records), n_checks)
        metrics["parse_failures"] = count_metric(sum(r["n_parse_failures"] for r in records), n_checks)
        metrics["judged"] = count_metric(sum(r["n_judged"] for r in records), n_checks)
        metrics["unjudged"] = count_metric(sum(len(r["unjudged_gold"]) for r in records), n_gold)
        metrics["no_boxed_answer"] = count_metric(sum(r["n_boxes"] == 0 for r in records), len(records))
        return metrics

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        if self._judge is not None:
            self._judge.close()
            self._judge = None


def _exact_pairs(gold: Sequence[str], boxes: Sequence[str]) -> list[tuple[int, int]]:
    """(gold, box) pairs with the same normalised text, one-to-one. Those boxes
    need no sandboxed check: equivalence is transitive, so pairing them first
    cannot shrink the maximum matching, and under the paper formula a box that
    matches is counted whichever gold answer it matches."""
    keys = [_normalized_or_none(b) for b in boxes]
    used: set[int] = set()
    pairs = []
    for g, answer in enumerate(gold):
        key = _normalized_or_none(answer)
        for b, box_key in enumerate(keys):
            if key is not None and b not in used and box_key == key:
                used.add(b)
                pairs.append((g, b))
                break
    return pairs


def _normalized_or_none(latex: str) -> str | None:
    try:
        return normalize_latex(latex)
    except LatexParseError:
        return None


def _accuracy_metrics(records: list[dict], suffix: str) -> dict[str, Metric]:
    """answer_accuracy = matched gold answers / gold answers (bootstrap over
    problems); strict_accuracy = problems with every gold answer matched."""
    rows = np.array([[r["gold_matched"], r["n_gold"]] for r in records], dtype=float)
    return {
        f"answer_accuracy{suffix}": statistic_metric(rows, lambda a: a[:, 0].sum() / a[:, 1].sum()),
        f"strict_accuracy{suffix}": proportion_metric(sum(bool(r["all_correct"]) for r in records), len(records)),
    }
