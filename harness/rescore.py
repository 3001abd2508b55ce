"""`harness score RUN_DIR`: score a run's stored responses again with the
current scorer and no model call, as `inspect score` does for a log.

Every response of every round and role is in samples.jsonl (record schema 2),
so the model is never built: the scorer gets the stored responses, and its
role models (a judge) answer from the stored role responses. A judge question
the run never asked (a scoring argument changed what is asked) gets an error
response, which the task counts as unjudged. With nothing changed the new
results.json is byte-for-byte the run's own.
"""

from __future__ import annotations

from pathlib import Path

from harness import registry
from harness.api import HarnessError, response_from_json
from harness.record import RESPONSES_KEPT_SINCE, SampleRecord
from harness.roles import RoleModel, StoredRoleResponses
from harness.runner import RunConfig, RunResult, _select_samples, build_tasks, score_records, summarize_task
from harness.store import CONFIG, RESULTS, RunStore, read_json, write_json_atomic

RUN_FACTS = ("elapsed_s", "model_calls", "role_calls")  # describe the run that made the responses; re-scoring keeps them


def rescore_run(run_dir: Path, task_args: dict[str, str], output: Path | None = None, chunk_size: int = 64) -> RunResult:
    run_dir = Path(run_dir)
    saved = read_json(run_dir / CONFIG)
    identity = saved.get("identity")
    if not identity:
        raise HarnessError(f"{run_dir / CONFIG} has no run identity; is this a run directory written by `harness eval`?")
    old_results = read_json(run_dir / RESULTS) if (run_dir / RESULTS).exists() else {}
    merged = {**identity["task_args"], **task_args}
    target = Path(output) if output else run_dir
    in_place = target.resolve() == run_dir.resolve()
    if merged != identity["task_args"] and in_place:
        raise HarnessError("re-scoring with other task args would replace this run's scores; add --output NEW_DIR")
    for path in saved.get("config", {}).get("includes", []):
        registry.include(path)
    config = RunConfig(
        model=identity["model"],
        tasks=identity["tasks"],
        task_args=merged,
        limit=identity.get("limit"),
        model_roles=identity.get("model_roles", {}),
        model_role_args=identity.get("model_role_args", {}),
    )
    tasks = build_tasks(config)
    stored = RunStore(run_dir).records()
    old = [rec for rec in stored.values() if rec.error is None and rec.schema < RESPONSES_KEPT_SINCE]
    if old:
        raise HarnessError(
            f"{run_dir} was written before responses were stored in full (record schema {RESPONSES_KEPT_SINCE}); "
            "rerun `harness eval` on it to re-score"
        )
    store = RunStore(target)
    store.lock()
    try:
        rescored: dict[tuple[str, str], SampleRecord] = {}
        selected = {}
        for task in tasks:
            own = {sid: rec for (name, sid), rec in stored.items() if name == task.name}
            task.bind_roles(
                {
                    role.name: RoleModel(role.name, saved["roles"][role.name]["spec"], task.name, StoredRoleResponses(role.name, own))
                    for role in task.roles
                    if role.name in saved.get("roles", {})
                }
            )
            selected[task.name] = samples = _select_samples(task, config.limit)
            todo = [s for s in samples if s.id in own and own[s.id].error is None]
            for start in range(0, len(todo), chunk_size):
                chunk = todo[start : start + chunk_size]
                responses = [[response_from_json(d) for d in own[s.id].responses] for s in chunk]
                for rec in score_records(task, chunk, responses):
                    rescored[(task.name, rec.id)] = rec
        if not in_place:
            target.mkdir(parents=True, exist_ok=True)
            write_json_atomic(target / CONFIG, {**saved, "identity": {**identity, "task_args": merged}, "rescored_from": str(run_dir)})
        store.rewrite(rescored.get(key, rec) for key, rec in stored.items())
        results = {
            "model": old_results.get("model", identity["model"]),
            "steering": old_results.get("steering"),
            "tasks": {t.name: summarize_task(t, selected[t.name], store) for t in tasks},
        }
        results.update({key: old_results[key] for key in RUN_FACTS if key in old_results})
        store.write_results(results)
    finally:
        for task in tasks:
            task.close()
        store.close()
    n_errors = sum(t["n_errors"] for t in results["tasks"].values())
    return RunResult(target, results, n_errors, 0, {})
