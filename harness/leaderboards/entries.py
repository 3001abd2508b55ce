"""Leaderboard entries, read from run directories only: one entry per task of a run.

An entry is what a row of the site shows: a model, its steering, a task and that
task's arguments, with the run's metrics and its samples. Two runs that differ in
any of model, steering or task arguments are different entries, never merged; runs
of a task whose sample sets differ (another data hash, limit or subset) fall in
different comparison groups, which are flagged and never ranked against each other.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.record import SampleRecord, input_text
from harness.store import FinishedRun, read_finished_run

STATUSES = ("correct", "partial", "wrong", "unjudged", "error")


def sample_status(rec: SampleRecord) -> str:
    """How a sample ended: an `error` (no verdict), `unjudged` (left for a judge that was
    not given or did not decide: the task set `fields["unjudged"]`), else by score: `correct` (1),
    `wrong` (0) or `partial` (between)."""
    if rec.error is not None:
        return "error"
    if rec.fields.get("unjudged"):
        return "unjudged"
    return "correct" if rec.score >= 1 else "wrong" if rec.score <= 0 else "partial"


def steering_label(steering: dict | None) -> str:
    if not steering:
        return "none"
    settings = steering.get("settings") or {}
    parts = [f"{k}={v}" for k, v in sorted(settings.items()) if v not in (None, "", [], {})]
    return " ".join([steering.get("method", "?"), *parts])


def short_model(spec: str) -> str:
    """`hf:/models/Qwen2.5-7B-Instruct` reads as `hf:Qwen2.5-7B-Instruct`, `replay:out/qwen.jsonl.gz` as `replay:qwen`."""
    kind, _, target = spec.partition(":")
    if not target:
        return spec
    name = target.rstrip("/").rsplit("/", 1)[-1]
    return f"{kind}:{re.sub(r'[.](jsonl|json)([.]gz)?$', '', name) or name}"


@dataclass
class Entry:
    key: str  # stable id, used in file names and links
    run: FinishedRun
    task: str
    family: str
    model: str
    steering: str
    args: dict[str, Any]
    headline: str
    metrics: dict[str, dict]
    n: int
    n_samples: int
    n_errors: int
    data_sha256: str | None
    limit: int | None
    records: list[SampleRecord]
    control_drift: tuple[str, str] | None = None  # a steering task's (control, drift) metrics
    label: str = ""  # short model name, steering and the arguments that set it apart; see `label_entries`
    group: str = "A"  # comparison group within the task
    group_reason: str = ""
    tied_with_best: bool = False
    best: bool = False
    statuses: list[str] = field(default_factory=list)

    @property
    def headline_metric(self) -> dict:
        return self.metrics.get(self.headline, {})

    @property
    def headline_n(self) -> int:
        """The number of items the headline is computed over (a task may leave some scored samples out)."""
        n = self.headline_metric.get("n")
        return n if isinstance(n, int) else self.n

    @property
    def n_unjudged(self) -> int:
        return self.statuses.count("unjudged")

    @property
    def identity(self) -> tuple:
        return (self.task, self.model, self.steering, json.dumps(self.args, sort_keys=True, default=str))

    @property
    def sample_ids_sha(self) -> str:
        return hashlib.sha256("\n".join(sorted(r.id for r in self.records)).encode()).hexdigest()

    def headline_is_sample_mean(self) -> bool:
        """Whether the headline metric is the mean of the per-sample scores, so that a
        paired comparison of per-sample scores is a comparison of the headline."""
        scored = [r.score for r in self.records if r.error is None]
        value = self.headline_metric.get("value")
        return bool(scored) and isinstance(value, (int, float)) and abs(sum(scored) / len(scored) - value) < 1e-9

    def sample_view(self, rec: SampleRecord, status: str) -> dict:
        return {
            "id": rec.id,
            "status": status,
            "judged": bool(rec.role_responses),
            "score": rec.score,
            "input": input_text(rec.input),
            "output": rec.output,
            "answer": rec.answer,
            "target": rec.target,
            "explanation": rec.explanation,
            "error": rec.error,
            "fields": rec.fields,
            "role_responses": rec.role_responses,
        }


def _entries_of(run: FinishedRun) -> list[Entry]:
    records = run.records()
    out = []
    for task, summary in run.results["tasks"].items():
        task_config = run.config.get("tasks", {}).get(task, {})
        recs = [r for (name, _), r in records.items() if name == task]
        key = hashlib.sha256(f"{run.path.resolve()}\0{task}".encode()).hexdigest()[:12]
        entry = Entry(
            key=key,
            run=run,
            task=task,
            family=task_config.get("family") or task.split(":")[0],
            model=run.results.get("model") or run.config.get("model", {}).get("spec", "?"),
            steering=steering_label(run.results.get("steering")),
            args=summary.get("args", task_config.get("args", {})),
            headline=summary.get("headline") or next(iter(summary.get("metrics", {})), ""),
            metrics=summary.get("metrics", {}),
            n=summary.get("n", 0),
            n_samples=summary.get("n_samples", len(recs)),
            n_errors=summary.get("n_errors", 0),
            data_sha256=task_config.get("data_sha256"),
            limit=run.identity.get("limit"),
            records=recs,
            control_drift=tuple(task_config["control_drift"]) if task_config.get("control_drift") else None,  # type: ignore[arg-type]
        )
        entry.statuses = [sample_status(r) for r in recs]
        out.append(entry)
    return out


def _differing_args(entries: list[Entry]) -> set[str]:
    keys = {k for e in entries for k in e.args}
    return {k for k in keys if len({json.dumps(e.args.get(k), sort_keys=True, default=str) for e in entries}) > 1}


def label_entries(entries: list[Entry]) -> None:
    """Readable row labels within each task: the short model name, the steering and the
    task arguments whose values differ between the task's rows; rows that would still
    read the same (two runs of one configuration, or models whose short names agree)
    add their run folder, as much of its path as tells them apart."""
    for task in {e.task for e in entries}:
        rows = [e for e in entries if e.task == task]
        differing = sorted(_differing_args(rows))
        for e in rows:
            parts = [short_model(e.model)]
            if e.steering != "none":
                parts.append(f"[{e.steering}]")
            parts += [f"{k}={e.args.get(k)}" for k in differing]
            e.label = " ".join(parts)
        same: dict[str, list[Entry]] = {}
        for e in rows:
            same.setdefault(e.label, []).append(e)
        for clash in (group for group in same.values() if len(group) > 1):
            paths = [e.run.path.resolve() for e in clash]
            common = Path(os.path.commonpath(paths))
            for e, path in zip(clash, paths):
                e.label += f" (run {path.relative_to(common) if path != common else path.name})"


def group_entries(entries: list[Entry]) -> None:
    """Comparison groups within each task: entries that scored the same samples of the
    same data (data hash, limit, sample ids) are comparable; the others are flagged."""
    for task in {e.task for e in entries}:
        rows = [e for e in entries if e.task == task]
        groups: dict[tuple, list[Entry]] = {}
        for e in rows:
            groups.setdefault((e.data_sha256, e.limit, e.sample_ids_sha), []).append(e)
        ordered = sorted(groups.values(), key=len, reverse=True)
        for letter, members in zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ", ordered):
            first = ordered[0][0]
            for e in members:
                e.group = letter
                reasons = []
                if e.data_sha256 != first.data_sha256:
                    reasons.append("different data hash")
                if e.limit != first.limit:
                    reasons.append(f"limit {e.limit} vs {first.limit}")
                if not reasons and e.sample_ids_sha != first.sample_ids_sha:
                    reasons.append(f"a different set of samples ({len(e.records)} vs {len(first.records)})")
                e.group_reason = "; ".join(reasons)


def read_entries(run_dirs: list[Path]) -> list[Entry]:
    entries = [e for d in run_dirs for e in _entries_of(read_finished_run(Path(d)))]
    label_entries(entries)
    group_entries(entries)
    return entries
