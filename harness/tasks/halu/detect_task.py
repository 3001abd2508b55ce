"""`halu_detect`: hallucination detection on labelled real responses.

The model under test is the detector. `judge` asks it Yes/No with k_pos
correct and k_neg hallucinated demonstrations; `logprob` reads the mean and
max token surprisal of the response; `ptrue` compares P(" True") with
P(" False"); `selfcheck` samples N answers and measures how well they
support the response (SelfCheckGPT's unigram variant). Every item gets a
hallucination score (higher = more likely hallucinated) written as the
sample's `score`; metrics are AUROC and AUPRC over judged items, F1 and
balanced accuracy at the detector's threshold over all items (an unjudged
item, e.g. a judge answer that is neither Yes nor No, has score 0 and
`judged` false, and counts as a wrong prediction), the number of unjudged items, and with
`k_sweep=true` the AUROC against the number of labelled hallucinated
demonstrations k = 0, 1, 2, 4, 8: the theorem's prediction on real data.
"""

from __future__ import annotations

import functools
import json
import math
import random
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence

import numpy as np

from harness.api import GenerateRequest, LoglikelihoodRequest, Response, Sample, Score, Task
from harness.metrics import Metric, count_metric, statistic_metric
from harness.record import SampleRecord
from harness.registry import register_task
from harness.tasks.halu import detect_prompt as prompts
from harness.tasks.halu.answers import parse_yes_no
from harness.tasks.halu.curves import write_curve
from harness.tasks.halu.detect_data import DetectItem, load_items
from harness.tasks.halu.detect_metrics import auprc, auroc, balanced_accuracy, f1

SWEEP = (0, 1, 2, 4, 8)
MAX_DEMOS = 8
DEMO_MAX_CHARS = 600  # demonstrations are drawn from short responses to keep prompts bounded


@dataclass(frozen=True)
class DetectArgs:
    dataset: Literal["halueval_general", "halueval_qa", "truthfulqa", "felm"] = "halueval_qa"
    detector: Literal["judge", "logprob", "ptrue", "selfcheck"] = "judge"
    k_pos: int = 0  # judge: demonstrations of correct responses
    k_neg: int = 0  # judge: demonstrations of hallucinated responses (the labelled negatives)
    k_sweep: bool = False  # judge: also ask with k_neg = 0, 1, 2, 4, 8 and report AUROC against k
    n_samples: int = 5  # selfcheck: sampled answers per item
    temperature: float = 1.0  # selfcheck: sampling temperature
    threshold: float | None = None  # logprob/selfcheck: flag above this score; None = the run's median score
    data_dir: str | None = None  # felm only: folder or file holding FELM's all.jsonl

    def __post_init__(self):
        for k in ("k_pos", "k_neg"):
            if not 0 <= getattr(self, k) <= MAX_DEMOS:
                raise ValueError(f"{k}={getattr(self, k)} must be between 0 and {MAX_DEMOS}")
        if self.detector != "judge" and (self.k_pos or self.k_neg or self.k_sweep):
            raise ValueError("k_pos, k_neg and k_sweep apply to detector=judge only")
        if not 1 <= self.n_samples <= 50:
            raise ValueError(f"n_samples={self.n_samples} must be between 1 and 50")
        if self.detector == "selfcheck" and self.temperature <= 0:
            raise ValueError("selfcheck needs temperature > 0 (distinct samples); e.g. temperature=1.0")
        if self.dataset == "felm" and not self.data_dir:
            raise ValueError("dataset=felm is CC BY-NC-SA 4.0 and not shipped; pass data_dir=DIR holding FELM's all.jsonl")

    @property
    def judge_settings(self) -> list[tuple[int, int]]:
        """(k_pos, k_neg) per judge request: the configured one first, then the sweep."""
        settings = [(self.k_pos, self.k_neg)]
        if self.k_sweep:
            settings += [(self.k_pos, k) for k in SWEEP if (self.k_pos, k) not in settings]
        return settings


@register_task
class HaluDetect(Task):
    name = "halu_detect"
    headline = "auroc"
    description = (
        "Hallucination detection on labelled responses (HaluEval, TruthfulQA; FELM from data_dir) with the model as "
        "judge, logprob, P(True) or SelfCheck detector; AUROC, AUPRC, F1, balanced accuracy, AUROC vs k."
    )
    Args = DetectArgs

    @property
    def requires(self) -> frozenset[str]:
        return {
            "judge": frozenset({"generate"}),
            "selfcheck": frozenset({"generate"}),
            "logprob": frozenset({"loglikelihood", "token_logprobs"}),
            "ptrue": frozenset({"loglikelihood"}),
        }[self.args.detector]

    @functools.cached_property
    def items(self) -> dict[str, DetectItem]:
        return {i.id: i for i in load_items(self.args.dataset, self.args.data_dir)}

    def samples(self):
        for item in self.items.values():
            yield Sample(id=item.id, input=item.response, target=item.label, metadata={"group": item.group})

    # ------------------------------------------------------------ requests

    @functools.cached_property
    def _demo_pools(self) -> tuple[list[DetectItem], list[DetectItem]]:
        short = [i for i in self.items.values() if len(i.response) + len(i.question) + len(i.knowledge or "") <= DEMO_MAX_CHARS]
        return [i for i in short if i.label == 0], [i for i in short if i.label == 1]

    def demonstrations(self, item: DetectItem, k_pos: int, k_neg: int) -> list[DetectItem]:
        """The first k of a fixed per-item draw from other questions, so k = 1 is a prefix of k = 2 (paired sweep)."""
        rng = random.Random(f"halu_detect demos:{self.args.dataset}:{item.id}")
        chosen = []
        for pool, k in zip(self._demo_pools, (k_pos, k_neg)):
            others = [d for d in rng.sample(pool, min(len(pool), MAX_DEMOS + 2)) if d.group != item.group]
            chosen += others[:k]
        random.Random(f"halu_detect order:{item.id}:{k_pos}:{k_neg}").shuffle(chosen)
        return chosen

    def requests(self, sample: Sample):
        item, a = self.items[sample.id], self.args
        if a.detector == "judge":
            return [
                GenerateRequest(prompt=prompts.judge_prompt(item, self.demonstrations(item, kp, kn)), stop=("\n",), max_tokens=8)
                for kp, kn in a.judge_settings
            ]
        if a.detector == "logprob":
            return [LoglikelihoodRequest(context=prompts.logprob_context(item), continuation=" " + item.response)]
        if a.detector == "ptrue":
            ctx = prompts.ptrue_context(item)
            return [LoglikelihoodRequest(context=ctx, continuation=" True"), LoglikelihoodRequest(context=ctx, continuation=" False")]
        return [
            GenerateRequest(prompt=prompts.answer_prompt(item), stop=("\nQuestion:",), max_tokens=128, temperature=a.temperature, seed=s)
            for s in range(a.n_samples)
        ]

    # ------------------------------------------------------------ scoring

    def score(self, sample: Sample, responses: Sequence[Response]) -> Score:
        item = self.items[sample.id]
        fields: dict = {"label": item.label}
        if self.args.detector == "judge":
            verdicts = [parse_yes_no(r.text) for r in responses]
            for (kp, kn), v in zip(self.args.judge_settings, verdicts):
                fields[f"judge_pos{kp}_neg{kn}"] = _judge_score(v)
            score, how = _judge_score(verdicts[0]), f"judge said {responses[0].text!r}"
        elif self.args.detector == "logprob":
            score, how = _surprisal(responses[0], fields)
        elif self.args.detector == "ptrue":
            score, how = _ptrue(responses[0], responses[1], fields)
        else:
            score, how = _selfcheck(item.response, [r.text or "" for r in responses], fields)
        fields["hallucination_score"] = score
        fields["judged"] = score is not None
        fields["unjudged"] = score is None  # the core's per-sample mark (leaderboard drill-down)
        label = "hallucinated" if item.label else "correct"
        return Score(
            value=score if score is not None else 0.0,
            answer=score,
            explanation=f"{how}; gold: {label}" + ("" if score is not None else "; unjudged (counted in `unjudged`)"),
            fields=fields,
        )

    def _threshold(self, scores: list[float]) -> float:
        """Scores above it are flagged: judge/ptrue 0.5, else the `threshold` arg or the median."""
        if self.args.detector in ("judge", "ptrue"):
            return 0.5
        if self.args.threshold is not None:
            return self.args.threshold
        return float(np.median(scores)) if scores else 0.0

    def aggregate(self, records: list[SampleRecord]) -> dict[str, Metric]:
        judged = [r for r in records if r.fields["judged"]]
        threshold = self._threshold([r.fields["hallucination_score"] for r in judged])
        ranked = np.array([[r.fields["label"], r.fields["hallucination_score"]] for r in judged], dtype=float).reshape(-1, 2)
        # Every item gets a prediction; an unjudged one is counted as wrong.
        predicted = [
            [r.fields["label"], int(r.fields["hallucination_score"] > threshold) if r.fields["judged"] else 1 - r.fields["label"]]
            for r in records
        ]
        predicted = np.array(predicted, dtype=float).reshape(-1, 2)
        metrics = {
            "auroc": statistic_metric(ranked, auroc),
            "auprc": statistic_metric(ranked, auprc),
            "f1": statistic_metric(predicted, f1),
            "balanced_accuracy": statistic_metric(predicted, balanced_accuracy),
            "unjudged": count_metric(len(records) - len(judged), len(records)),
        }
        if self.args.detector == "logprob":
            rows = np.array([[r.fields["label"], r.fields["max_surprisal"]] for r in judged], dtype=float).reshape(-1, 2)
            metrics["auroc_max_surprisal"] = statistic_metric(rows, auroc)
        if self.args.k_sweep:
            metrics.update(self._sweep(records))
        return metrics

    def _sweep(self, records: list[SampleRecord]) -> dict[str, Metric]:
        """AUROC of the judge at each k_neg, over the items it judged at that k."""
        out = {}
        for k_pos, k_neg in self.args.judge_settings:
            key = f"judge_pos{k_pos}_neg{k_neg}"
            rows = np.array([[r.fields["label"], r.fields[key]] for r in records if r.fields[key] is not None], dtype=float).reshape(-1, 2)
            out[f"auroc_k{k_neg}"] = statistic_metric(rows, auroc)
        return out

    def write_artifacts(self, records: list[SampleRecord], run_dir: Path) -> None:
        """The threshold used for F1 / balanced accuracy; with k_sweep, the AUROC-vs-k curve."""
        judged = [r.fields["hallucination_score"] for r in records if r.fields["judged"]]
        summary = {"detector": self.args.detector, "threshold": self._threshold(judged), "judged": len(judged), "items": len(records)}
        (run_dir / "halu_detect_threshold.json").write_text(json.dumps(summary, indent=2) + "\n")
        if not self.args.k_sweep or not records:
            return
        metrics = self._sweep(records)
        rows = []
        for k in SWEEP:
            m = metrics[f"auroc_k{k}"]
            rows.append((k, m.value, *(m.ci95 if m.ci95 else (None, None))))
        write_curve(
            run_dir / "halu_detect_auroc_by_k",
            ("k_neg", "auroc", "ci95_low", "ci95_high"),
            rows,
            title=f"halu_detect: {self.args.dataset}, judge with {self.args.k_pos} correct + k hallucinated demonstrations",
            xlabel="labelled hallucinated demonstrations k",
            ylabel="AUROC",
        )


def _judge_score(verdict: bool | None) -> float | None:
    return None if verdict is None else float(verdict)


def _surprisal(r, fields: dict) -> tuple[float | None, str]:
    if not r.token_logprobs:
        return None, "the model returned no token log-probabilities"
    s = [-lp for lp in r.token_logprobs]
    fields["mean_surprisal"], fields["max_surprisal"] = sum(s) / len(s), max(s)
    return fields["mean_surprisal"], f"mean token surprisal {fields['mean_surprisal']:.3f} nats over {len(s)} tokens (max {max(s):.3f})"


def _ptrue(true, false, fields: dict) -> tuple[float | None, str]:
    if true.logprob is None or false.logprob is None:
        return None, "a log-likelihood is missing"
    top = max(true.logprob, false.logprob)
    p_true = math.exp(true.logprob - top) / (math.exp(true.logprob - top) + math.exp(false.logprob - top))
    fields["p_true"] = p_true
    return 1.0 - p_true, f"P(True) = {p_true:.3f} (normalised over True/False)"


_WORD = re.compile(r"\w+")


def _selfcheck(response: str, samples: list[str], fields: dict) -> tuple[float | None, str]:
    """SelfCheckGPT unigram (avg): mean -log p of the response's words under a
    unigram model (add-one smoothing) fitted to the samples plus the response."""
    words = _WORD.findall(response.lower())
    sampled = [w for s in samples for w in _WORD.findall(s.lower())]
    fields["empty_samples"] = sum(not _WORD.search(s) for s in samples)
    if not words:
        return None, "the response has no words to check"
    counts = Counter(sampled + words)
    total, vocab = sum(counts.values()), len(counts)
    score = sum(-math.log((counts[w] + 1) / (total + vocab)) for w in words) / len(words)
    support = sum(w in set(sampled) for w in words) / len(words)
    fields["sample_support"] = support
    return score, f"unigram surprisal {score:.3f} nats/word; {support:.0%} of the response's words occur in {len(samples)} samples"
