"""`--task lm-eval:NAME`: any lm-eval task, run by the harness runner (resume,
cache, run directory, 95% intervals) against any harness model.

lm-eval builds the task's requests (prompts, few-shot examples, choices); each
document becomes one sample whose requests are lm-eval's instances for it.
lm-eval's filters and `process_results` score each sample as lm-eval does, and
its aggregation functions give the metrics, named as lm-eval names them
(`acc,none`); the interval is a bootstrap over samples of that aggregation
(Wilson for 0/1 scores). Tasks that repeat requests (`repeats > 1`) and groups
of tasks are refused with a message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from harness.api import (
    GenerateRequest,
    Generation,
    HarnessError,
    Loglikelihood,
    LoglikelihoodRequest,
    Response,
    Sample,
    Score,
    Task,
)
from harness.metrics import Metric, mean_metric, statistic_metric
from harness.record import SampleRecord
from harness.registry import register_task

_KINDS = {"loglikelihood": "loglikelihood", "loglikelihood_rolling": "loglikelihood", "generate_until": "generate"}


@dataclass(frozen=True)
class LmEvalArgs:
    include_path: str | None = None  # a folder of lm-eval task YAML files (the CLI's --lm-eval-include)
    num_fewshot: int | None = None  # override the task's few-shot count


@register_task
class LmEvalTask(Task):
    """Any lm-eval task, as `lm-eval:NAME`."""

    name = "lm-eval"
    description = "Any lm-eval task as lm-eval:NAME, scored by lm-eval's filters and metrics, run by the harness runner."
    Args = LmEvalArgs
    lm_eval_task = ""

    @classmethod
    def named(cls, task: str) -> type[Task]:
        return type(f"LmEval_{task}", (cls,), {"name": f"lm-eval:{task}", "lm_eval_task": task})

    def __init__(self, args: LmEvalArgs | None = None):
        super().__init__(args)
        if not self.lm_eval_task:
            raise HarnessError("name the lm-eval task: --task lm-eval:NAME")
        self._task: Any = None
        self._by_doc: dict[int, list] = {}
        self._build()
        kinds = {_KINDS.get(inst.request_type) for insts in self._by_doc.values() for inst in insts}
        if None in kinds:
            raise HarnessError(f"lm-eval task '{self.lm_eval_task}' uses a request type the harness cannot send")
        self.requires = frozenset(k for k in kinds if k)
        metrics = [f"{m},{f.name}" for f in self._task._filters for m in self._task.aggregation()]
        self.headline = metrics[0] if metrics else "accuracy"  # the task's first lm-eval metric

    def _build(self) -> None:
        try:
            from lm_eval.tasks import TaskManager
        except ModuleNotFoundError:
            raise HarnessError("lm-eval tasks need lm-eval; install the [lm-eval] extra: pip install 'harness[lm-eval]'") from None
        manager = TaskManager(include_path=self.args.include_path)
        if self.lm_eval_task not in manager.all_tasks:
            raise HarnessError(f"lm-eval knows no task '{self.lm_eval_task}'; check the name, or pass --lm-eval-include DIR")
        loaded = manager.load(self.lm_eval_task)
        task = loaded["tasks"].get(self.lm_eval_task)
        if task is None or loaded["groups"]:
            raise HarnessError(f"'{self.lm_eval_task}' is an lm-eval group or tag; run its tasks one by one (lm-eval:TASK)")
        if self.args.num_fewshot is not None:
            task.set_config("num_fewshot", self.args.num_fewshot)
        task.build_all_requests(limit=None)
        for inst in task.instances:
            if (inst.repeats or 1) > 1:
                raise HarnessError(f"lm-eval task '{self.lm_eval_task}' repeats each request {inst.repeats} times; not supported")
            self._by_doc.setdefault(inst.doc_id, []).append(inst)
        for insts in self._by_doc.values():
            insts.sort(key=lambda inst: inst.idx)
        self._task = task

    def samples(self):
        for doc_id, insts in self._by_doc.items():
            doc = insts[0].doc
            yield Sample(str(doc_id), insts[0].args[0], self._task.doc_to_target(doc), {"doc_id": doc_id})

    def requests(self, sample: Sample):
        out: list = []
        for inst in self._by_doc[sample.metadata["doc_id"]]:
            if inst.request_type == "loglikelihood":
                out.append(LoglikelihoodRequest(inst.args[0], inst.args[1]))
            elif inst.request_type == "loglikelihood_rolling":
                out.append(LoglikelihoodRequest("", inst.args[0]))
            else:
                context, kwargs = inst.args
                until = kwargs.get("until") or ()
                sampling = bool(kwargs.get("do_sample")) and float(kwargs.get("temperature", 0.0)) > 0
                out.append(
                    GenerateRequest(
                        context,
                        stop=(until,) if isinstance(until, str) else tuple(until),
                        max_tokens=int(kwargs.get("max_gen_toks", 256)),
                        temperature=float(kwargs.get("temperature", 0.0)) if sampling else 0.0,
                        seed=0 if sampling else None,
                    )
                )
        return out

    def score(self, sample: Sample, responses: Sequence[Response]) -> Score:
        insts = self._by_doc[sample.metadata["doc_id"]]
        for inst, response in zip(insts, responses):
            if inst.request_type == "loglikelihood" and isinstance(response, Loglikelihood):
                inst.resps = [(response.logprob, bool(response.is_greedy))]
            elif inst.request_type == "loglikelihood_rolling" and isinstance(response, Loglikelihood):
                inst.resps = [response.logprob]
            elif isinstance(response, Generation):
                inst.resps = [response.text or ""]
            inst.filtered_resps = {}
        for ensemble in self._task._filters:
            ensemble.apply(insts)
        metrics: dict[str, Any] = {}
        for key in insts[0].filtered_resps:
            for metric, value in self._task.process_results(insts[0].doc, [inst.filtered_resps[key] for inst in insts]).items():
                metrics[f"{metric},{key}"] = value
        first = next(iter(metrics.values()), 0.0)
        value = float(first) if isinstance(first, (int, float, bool, np.number)) else 0.0
        shown = {k: v for k, v in metrics.items() if isinstance(v, (int, float, bool))}
        return Score(
            value,
            [inst.filtered_resps.get(next(iter(inst.filtered_resps), ""), None) for inst in insts],
            f"lm-eval process_results: {shown}",
            {"lm_eval_metrics": metrics},
        )

    def aggregate(self, records: list[SampleRecord]) -> dict[str, Metric]:
        aggregations = self._task.aggregation()
        out: dict[str, Metric] = {}
        keys = list(dict.fromkeys(k for r in records for k in r.fields["lm_eval_metrics"]))
        for key in keys:
            metric = key.split(",")[0]
            values = [r.fields["lm_eval_metrics"][key] for r in records if key in r.fields["lm_eval_metrics"]]
            agg = aggregations.get(metric)
            if agg is None:
                continue
            if getattr(agg, "__name__", "") == "mean" and all(isinstance(v, (int, float, bool)) for v in values):
                out[key] = mean_metric([float(v) for v in values])
            else:
                rows = np.empty(len(values), dtype=object)
                rows[:] = values
                out[key] = statistic_metric(rows, lambda a, agg=agg: float(agg(list(a))))
        return out
