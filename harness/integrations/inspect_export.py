"""`harness export inspect RUN_DIR`: a run as an inspect_ai eval log, so `inspect view`
and pipelines built on `inspect_ai.log` read harness runs.

One log per task (inspect logs hold one task each). Each sample keeps its input,
the model's output, the verdict as a score named after the task's headline metric
(value, extracted answer, explanation, and the task's fields saying how it was
reached), and an error instead of a score where the model call failed. The task's
metrics go into the log's results with their 95% intervals as metric metadata.
Needs the `[inspect]` extra.
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Any

from harness.api import HarnessError
from harness.record import SampleRecord, content_text
from harness.store import FinishedRun, read_finished_run


def _text(value: Any) -> str:
    if value is None or isinstance(value, str):
        return value or ""
    return json.dumps(value, ensure_ascii=False, default=str)


def _messages(rec: SampleRecord) -> list:
    from inspect_ai.model import ChatMessageAssistant, ChatMessageSystem, ChatMessageUser

    kinds = {"system": ChatMessageSystem, "user": ChatMessageUser, "assistant": ChatMessageAssistant}
    turns = rec.input if isinstance(rec.input, list) else [{"role": "user", "content": rec.input or ""}]
    messages = [kinds.get(t.get("role", "user"), ChatMessageUser)(content=content_text(t.get("content", ""))) for t in turns]
    if rec.output is not None:
        messages.append(ChatMessageAssistant(content=rec.output))
    return messages


def _sample(rec: SampleRecord, model: str, headline: str):
    from inspect_ai._util.error import EvalError
    from inspect_ai.log import EvalSample
    from inspect_ai.model import ModelOutput
    from inspect_ai.scorer import Score

    messages = _messages(rec)
    output = rec.output if rec.output is not None else _text([r.get("logprob") for r in rec.responses if "logprob" in r] or None)
    scores = None
    if rec.error is None:
        how = {"fields": rec.fields, "role_responses": rec.role_responses} if rec.role_responses else {"fields": rec.fields}
        scores = {headline: Score(value=rec.score, answer=_text(rec.answer), explanation=rec.explanation, metadata=how)}
    return EvalSample(
        id=rec.id,
        epoch=1,
        input=messages[:-1] if rec.output is not None else messages,
        target=_text(rec.target),
        messages=messages,
        output=ModelOutput.from_content(model=model, content=output, error=rec.error),
        scores=scores,
        metadata={"harness_record_schema": rec.schema},
        error=EvalError(message=rec.error, traceback="", traceback_ansi="") if rec.error else None,
    )


def _log(run: FinishedRun, task: str):
    from inspect_ai.log import EvalConfig, EvalDataset, EvalLog, EvalMetric, EvalResults, EvalScore, EvalSpec, EvalStats

    summary, config = run.results["tasks"][task], run.config
    model = f"harness/{run.identity.get('model') or config.get('model', {}).get('spec', '?')}"
    headline = summary.get("headline") or next(iter(summary["metrics"]), "score")
    records = run.task_records(task)
    created = config.get("created") or _dt.datetime.now(_dt.timezone.utc).isoformat()
    metrics = {
        name: EvalMetric(name=name, value=m["value"], metadata={"ci95": m.get("ci95"), "n": m.get("n"), "kind": m.get("kind")})
        for name, m in summary["metrics"].items()
        if isinstance(m.get("value"), (int, float))
    }
    spec = EvalSpec(
        created=created,
        task=task,
        task_description=config.get("tasks", {}).get(task, {}).get("description"),
        task_args=summary.get("args", {}),
        dataset=EvalDataset(name=task, samples=summary.get("n_samples"), sample_ids=[r.id for r in records]),
        model=model,
        model_args=run.identity.get("model_args", {}),
        config=EvalConfig(limit=run.identity.get("limit")),
        packages={k: v for k, v in config.get("versions", {}).items() if isinstance(v, str)},
        metadata={
            "harness_run_dir": str(run.path),
            "data_sha256": config.get("tasks", {}).get(task, {}).get("data_sha256"),
            "steering": run.results.get("steering"),
            "git_revision": config.get("git_revision"),
        },
    )
    results = EvalResults(
        total_samples=summary.get("n_samples", len(records)),
        completed_samples=summary.get("n", 0),
        scores=[
            EvalScore(
                name=headline, scorer=task, scored_samples=summary.get("n"), unscored_samples=summary.get("n_errors"), metrics=metrics
            )
        ],
    )
    return EvalLog(
        status="success",
        eval=spec,
        results=results,
        stats=EvalStats(started_at=created, completed_at=created),
        samples=[_sample(r, model, headline) for r in records],
    )


def export_inspect(run_dir: Path, output: Path, task: str | None = None) -> list[Path]:
    """Write `output` (a `.eval` file, for one task) or one `<task>.eval` per task under the folder `output`."""
    run = read_finished_run(run_dir)
    tasks = list(run.results["tasks"])
    if task is not None and task not in tasks:
        raise HarnessError(f"{run_dir} has no task {task!r}; it has {', '.join(tasks)}")
    chosen = [task] if task else tasks
    output = Path(output)
    if output.suffix == ".eval" and len(chosen) > 1:
        raise HarnessError(
            f"{run_dir} holds {len(chosen)} tasks ({', '.join(chosen)}); pick one with --task NAME or pass a folder as --output"
        )
    from inspect_ai.log import write_eval_log  # a missing [inspect] extra is named by the command line

    paths = [output] if output.suffix == ".eval" else [output / f"{name}.eval" for name in chosen]
    for name, path in zip(chosen, paths):
        path.parent.mkdir(parents=True, exist_ok=True)
        write_eval_log(_log(run, name), str(path), format="eval")
    return paths
