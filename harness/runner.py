"""Runs tasks against a model: the one place that moves data between them.

For each chunk of pending samples: ask every sample for its requests, send
them to the model in one call per request kind, ask for follow-ups until none
are left, score, append the records to samples.jsonl, repeat. Results are
always recomputed from the stored records in dataset order, so a resumed run
writes the same results.json as an uninterrupted one.

Where chunks are solved is a ChunkSolver: the model in this process
(LocalSolver), or replicas of it on a backend found through the registry
(`--backend ray`, harness.workers); either way only this process writes.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import importlib.metadata
import platform
import random
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

from harness import registry
from harness.api import (
    Generation,
    HarnessError,
    ModelAdapter,
    Request,
    RequestContext,
    Response,
    Sample,
    Score,
    Task,
)
from harness.cache import CachedModel, ResponseCache
from harness.record import SampleRecord
from harness.roles import RoleModel
from harness.secrets import redact_values
from harness.store import RunStore

PACKAGES = ("harness", "torch", "transformers", "sympy", "openai", "numpy", "lm_eval", "tokenizers", "latex2sympy2_extended")


@dataclass
class RunConfig:
    """Everything that defines a run; the CLI fills it, the runner reads it."""

    model: str
    tasks: list[str]
    task_args: dict[str, str] = field(default_factory=dict)
    model_args: dict[str, str] = field(default_factory=dict)
    model_roles: dict[str, str] = field(default_factory=dict)  # role name -> model spec
    model_role_args: dict[str, dict[str, str]] = field(default_factory=dict)  # role name -> model args
    output: Path | None = None
    limit: int | None = None
    seed: int = 0
    batch_size: int | None = None
    concurrency: int | None = None
    steer: str | None = None
    steer_args: dict[str, str] = field(default_factory=dict)
    includes: list[str] = field(default_factory=list)
    use_cache: bool = True
    cache_path: Path | None = None
    overwrite: bool = False
    quiet: bool = True
    chunk_size: int = 64  # samples scored and flushed together
    backend: str = "local"  # where chunks are solved: this process, or a registered backend (ray)
    workers: int = 1  # model replicas of a non-local backend
    ray_address: str | None = None  # an existing Ray cluster; none: a local one

    def identity(self) -> dict:
        """The fields that change results: a run dir is resumed only under the same identity."""
        return {
            "model": self.model,
            "model_args": self.model_args,
            "tasks": self.tasks,
            "task_args": self.task_args,
            "model_roles": self.model_roles,
            "model_role_args": self.model_role_args,
            "limit": self.limit,
            "seed": self.seed,
            "steer": self.steer,
            "steer_args": self.steer_args,
        }


@dataclass
class RunResult:
    output: Path
    results: dict
    n_errors: int
    model_calls: int
    role_calls: dict[str, int] = field(default_factory=dict)


def default_output_dir(config: RunConfig) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    slug = lambda s: re.sub(r"[^A-Za-z0-9._-]+", "_", s).strip("_")[-60:]  # noqa: E731
    return Path("runs") / f"{stamp}-{slug(config.model)}-{slug('+'.join(config.tasks))}"


def _git_revision() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _versions() -> dict:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name.replace("_", "-"))
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def seed_everything(seed: int) -> None:
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:
        pass
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


def build_tasks(config: RunConfig) -> list[Task]:
    """Instantiate the tasks; each `--task-arg` goes to the tasks that accept its key."""
    classes = [registry.get_task_class(name) for name in config.tasks]
    for key in config.task_args:
        if not any(key in registry.arg_keys(c.Args) for c in classes):
            if len(classes) == 1:
                break  # build_args names the allowed keys
            raise HarnessError(f"task arg '{key}' is accepted by none of the tasks {', '.join(config.tasks)}")
    for cls in classes:
        for role in cls.roles:
            if role.name in config.task_args and role.name not in registry.arg_keys(cls.Args):
                raise HarnessError(
                    f"--task-arg {role.name}= is now a model role of task '{cls.name}': "
                    f"pass --model-role {role.name}={config.task_args[role.name]} instead"
                )
    tasks = []
    for cls in classes:
        keys = registry.arg_keys(cls.Args)
        raw = config.task_args if len(classes) == 1 else {k: v for k, v in config.task_args.items() if k in keys}
        tasks.append(registry.create_task(cls.name, raw))
    return tasks


def build_model(config: RunConfig) -> ModelAdapter:
    cls, _ = registry.parse_model_spec(config.model)
    refusal = getattr(cls, "steering_refusal", None)  # an adapter that cannot be steered says why, before it starts
    if config.steer and refusal:
        raise HarnessError(refusal)
    args = dict(config.model_args)
    keys = registry.arg_keys(cls.Args)
    for name in ("batch_size", "concurrency"):
        value = getattr(config, name)
        if value is not None and name in keys:
            args.setdefault(name, str(value))
    model = registry.create_model(config.model, args)
    if config.steer:
        wrap = registry.lookup("wrapper", "steer")
        if wrap is None:
            raise HarnessError("--steer needs the steering wrapper, which is not installed; reinstall harness")
        try:
            model = wrap(model, config.steer, config.steer_args)
        except BaseException:
            model.close()
            raise
    return model


def build_roles(config: RunConfig, tasks: list[Task]) -> dict[str, tuple[str, ModelAdapter]]:
    """One adapter per role that has a model: from --model-role, else the role's default."""
    declared = {role.name: role for t in tasks for role in t.roles}
    for name in set(config.model_roles) | set(config.model_role_args):
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise HarnessError(f"model role '{name}' is declared by none of the tasks (their roles: {known}); check --model-role")
    for name in config.model_role_args:
        if name not in config.model_roles and declared[name].default is None:
            raise HarnessError(f"--model-role-arg {name}:... given but role '{name}' has no model; add --model-role {name}=SPEC")
    built: dict[str, tuple[str, ModelAdapter]] = {}
    try:
        for name, role in declared.items():
            spec = config.model_roles.get(name) or role.default
            if not spec:
                continue
            adapter = registry.create_model(spec, config.model_role_args.get(name, {}))
            built[name] = (spec, adapter)
            missing = set(role.requires) - set(adapter.capabilities)
            if missing:
                raise HarnessError(
                    f"model role '{name}' needs {', '.join(sorted(missing))}, which '{spec}' does not offer; "
                    "choose a model that does (an openai: chat model offers structured output)"
                )
    except BaseException:
        for _, adapter in built.values():
            adapter.close()
        raise
    return built


@dataclass(frozen=True)
class ModelIdentity:
    """What the driver records and checks about the model, wherever it runs."""

    name: str
    capabilities: frozenset[str]
    fingerprint: str
    description: dict

    @classmethod
    def of(cls, model: ModelAdapter) -> ModelIdentity:
        return cls(model.name, frozenset(model.capabilities), model.fingerprint(), model.describe())


def _check_capabilities(task: Task, model: ModelIdentity) -> None:
    missing = set(task.requires) - set(model.capabilities)
    if missing:
        raise HarnessError(
            f"task '{task.name}' needs {', '.join(sorted(missing))}, which model '{model.name}' does not offer; "
            "choose an adapter that does (e.g. a local hf: model for log-likelihoods)"
        )


class ChunkSolver(Protocol):
    """Turns chunks of pending samples into their records, in any order; `calls`
    counts the requests sent to the model. The runner stores what it yields."""

    @property
    def calls(self) -> int: ...

    def solve(self, task: Task, chunks: list[list[Sample]], progress: Callable[[int], None]) -> Iterator[list[SampleRecord]]: ...

    def close(self) -> None: ...


class LocalSolver:
    """The model in this process, behind the response cache."""

    def __init__(self, model: ModelAdapter, cache: ResponseCache | None):
        self.model = model
        self.cached = CachedModel(model, cache)

    @property
    def calls(self) -> int:
        return self.cached.calls

    def solve(self, task: Task, chunks: list[list[Sample]], progress: Callable[[int], None]) -> Iterator[list[SampleRecord]]:
        for chunk in chunks:
            yield score_records(task, chunk, _solve_chunk(task, chunk, self.cached, lambda: progress(1)))

    def close(self) -> None:
        self.model.close()


def _select_samples(task: Task, limit: int | None) -> list[Sample]:
    samples: list[Sample] = []
    seen = set()
    for s in task.samples():
        if limit is not None and len(samples) >= limit:
            break
        if s.id in seen:
            raise HarnessError(f"task '{task.name}' yields sample id '{s.id}' twice; sample ids must be unique")
        seen.add(s.id)
        samples.append(s)
    return samples


def _solve_chunk(
    task: Task, samples: list[Sample], model: CachedModel, on_sample_answered: Callable[[], None] = lambda: None
) -> list[list[Response]]:
    """All model rounds for a chunk of samples, batched across samples.
    `on_sample_answered` is called once per sample as soon as its first-round
    requests are all answered (the progress bar moves per sample, not per chunk)."""
    responses: list[list[Response]] = [[] for _ in samples]
    pending = [(i, task.requests(s)) for i, s in enumerate(samples)]
    waiting = {i: len(reqs) for i, reqs in pending}  # first-round answers still to come, per sample
    lock = threading.Lock()

    def answered(sample_index: int) -> None:
        with lock:
            if sample_index not in waiting:
                return
            waiting[sample_index] -= 1
            done = waiting[sample_index] == 0
            if done:
                del waiting[sample_index]
        if done:
            on_sample_answered()

    while pending:
        by_kind: dict[str, list[tuple[int, int, Request]]] = {}
        for i, reqs in pending:
            for k, r in enumerate(reqs):
                by_kind.setdefault(r.kind, []).append((i, k, r))
        answers: dict[tuple[int, int], Response] = {}
        for kind, items in by_kind.items():
            contexts = [RequestContext(task.name, samples[i].id, len(responses[i]) + k) for i, k, _ in items]
            owners = [i for i, _, _ in items]
            try:
                outs = model(kind, [r for _, _, r in items], contexts, lambda n: answered(owners[n]))
            except HarnessError:
                raise
            except Exception as e:  # one failing batch marks its samples as errors; the run goes on
                outs = [Generation(text=None, error=f"{type(e).__name__}: {e}") for _ in items]
            for (i, k, _), out in zip(items, outs):
                answers[(i, k)] = out
        next_pending = []
        for i in list(waiting):  # a failed batch reports nothing: its samples are done too
            for _ in range(waiting.get(i, 0)):
                answered(i)
        for i, reqs in pending:
            responses[i].extend(answers[(i, k)] for k in range(len(reqs)))
            if any(r.error for r in responses[i]):
                continue
            more = task.followup(samples[i], responses[i])
            if more:
                next_pending.append((i, more))
        pending = next_pending
    return responses


def _record(task: Task, sample: Sample, responses: list[Response], score: Score | None, error: str | None) -> SampleRecord:
    role_responses = {name: calls for name, role in task.role_models.items() if (calls := role.take(sample.id))}
    return SampleRecord.of(task.name, sample, responses, score, error, role_responses)


def _progress(total: int, initial: int, desc: str, quiet: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="sample", disable=quiet, file=sys.stderr, dynamic_ncols=True)


def score_records(task: Task, samples: list[Sample], responses: list[list[Response]]) -> list[SampleRecord]:
    """Score the samples whose responses have no error and build every sample's record."""
    ok = [k for k, rs in enumerate(responses) if not any(r.error for r in rs)]
    scores = dict(zip(ok, task.score_batch([samples[k] for k in ok], [responses[k] for k in ok])))
    records = []
    for k, s in enumerate(samples):
        err = next((r.error for r in responses[k] if r.error), None)
        records.append(_record(task, s, responses[k], scores.get(k), err))
    return records


def run_task(task: Task, solver: ChunkSolver, store: RunStore, limit: int | None, chunk_size: int, quiet: bool) -> dict:
    samples = _select_samples(task, limit)
    stored = store.records()
    pending = [s for s in samples if (task.name, s.id) not in stored]
    bar = _progress(len(samples), len(samples) - len(pending), task.name, quiet)
    try:
        chunks = [pending[start : start + chunk_size] for start in range(0, len(pending), chunk_size)]
        for records in solver.solve(task, chunks, bar.update):
            store.append(records)
    finally:
        bar.close()
    return summarize_task(task, samples, store)


def summarize_task(task: Task, samples: list[Sample], store: RunStore) -> dict:
    stored = store.records()
    records = [stored[(task.name, s.id)] for s in samples if (task.name, s.id) in stored]
    scored = [r for r in records if r.error is None]
    errors = [r for r in records if r.error is not None]
    metrics = task.aggregate(scored)
    task.write_artifacts(scored, store.dir)
    summary = {
        "metrics": {k: m.to_json() for k, m in metrics.items()},
        "n": len(scored),
        "n_errors": len(errors),
        "n_samples": len(samples),
        "args": dataclasses.asdict(task.args),
        "headline": task.headline,
    }
    if errors:
        summary["error_causes"] = error_causes(errors)
    return summary


def error_causes(errors: list[SampleRecord], most: int = 5) -> list[dict]:
    """The distinct causes of errored samples, most frequent first: the message
    with sample-specific quoted names elided, its count, and whether a rerun can
    help (no when the response that failed says its error is permanent)."""
    counts: dict[tuple[str, bool], int] = {}
    for r in errors:
        failed = next((d for d in r.responses if d.get("error")), {})
        cause = re.sub(r"'[^']*'", "'…'", r.error or "")[:200]
        key = (cause, bool(failed.get("permanent")))
        counts[key] = counts.get(key, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])[:most]
    return [{"cause": cause, "count": n, "rerun_helps": not permanent} for (cause, permanent), n in ranked]


def build_solver(config: RunConfig, cache: ResponseCache | None) -> tuple[ChunkSolver, ModelIdentity]:
    """The model in this process, or `workers` replicas of it on a registered backend."""
    if config.backend == "local":
        if config.workers != 1:
            raise HarnessError(
                f"--workers {config.workers} needs a backend that runs replicas: add --backend ray (pip install 'harness[ray]')"
            )
        model = build_model(config)
        return LocalSolver(model, cache), ModelIdentity.of(model)
    backend = registry.lookup("backend", config.backend)
    if backend is None:
        raise HarnessError(f"unknown backend '{config.backend}'; use one of local, {', '.join(registry.known('backend'))}")
    solver = backend(config, cache)
    return solver, solver.identity


def run_eval(config: RunConfig) -> RunResult:
    for path in config.includes:
        registry.include(path)
    tasks = build_tasks(config)
    roles = build_roles(config, tasks)
    cache = ResponseCache(config.cache_path) if config.use_cache else None
    solver: ChunkSolver | None = None
    store: RunStore | None = None
    try:
        solver, identity = build_solver(config, cache)
        for t in tasks:
            _check_capabilities(t, identity)
        seed_everything(config.seed)
        output = Path(config.output) if config.output else default_output_dir(config)
        store = RunStore(output)
        resolved = {
            "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(config).items()},
            "model": {"spec": config.model, "fingerprint": identity.fingerprint, **identity.description},
            "roles": {
                name: {"spec": spec, "fingerprint": adapter.fingerprint(), **adapter.describe()} for name, (spec, adapter) in roles.items()
            },
            "tasks": {
                t.name: {
                    "args": dataclasses.asdict(t.args),
                    "data_sha256": t.data_fingerprint(),
                    "description": t.description,
                    "family": t.family,
                    "control_drift": t.control_drift,
                }
                for t in tasks
            },
            "versions": _versions(),
            "git_revision": _git_revision(),
            "seeds": {"python": config.seed, "numpy": config.seed, "torch": config.seed},
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(),
        }
        cached_roles = {name: CachedModel(adapter, cache) for name, (_, adapter) in roles.items()}
        for t in tasks:
            t.bind_roles({r.name: RoleModel(r.name, roles[r.name][0], t.name, cached_roles[r.name]) for r in t.roles if r.name in roles})
        store.open(redact_values(resolved), redact_values(config.identity()), config.overwrite)
        started = time.time()
        results: dict[str, Any] = {"model": config.model, "steering": identity.description.get("steering"), "tasks": {}}
        for t in tasks:
            results["tasks"][t.name] = run_task(t, solver, store, config.limit, config.chunk_size, config.quiet)
        results["elapsed_s"] = round(time.time() - started, 3)
        results["model_calls"] = solver.calls
        results["role_calls"] = {name: c.calls for name, c in cached_roles.items()}
        store.write_results(results)
        n_errors = sum(t["n_errors"] for t in results["tasks"].values())
        return RunResult(output, results, n_errors, solver.calls, results["role_calls"])
    finally:
        for t in tasks:
            t.close()
        if solver is not None:
            solver.close()
        for _, adapter in roles.values():
            adapter.close()
        if cache:
            cache.close()
        if store is not None:
            store.close()


def format_results_table(results: dict) -> str:
    """The table printed at the end of `harness eval`: the task's headline metric first
    (marked *), counts as counts, each metric with its own n."""
    rows = [("task", "metric", "value", "95% CI", "n")]
    for name, t in results["tasks"].items():
        headline = t.get("headline")
        ordered = sorted(t["metrics"].items(), key=lambda kv: kv[0] != headline)
        for metric, m in ordered:
            ci, count = m["ci95"], m.get("kind") == "count"
            value = f"{m['value']:.0f}" if count else f"{m['value']:.4f}"
            interval = "n/a" if not ci else f"[{ci[0]:.1f}, {ci[1]:.1f}]" if count else f"[{ci[0]:.4f}, {ci[1]:.4f}]"
            label = f"{metric} *" if metric == headline else metric
            rows.append((name, label, value, interval, str(m.get("n", t["n"]))))
        if t["n_errors"]:
            rows.append((name, "errors", str(t["n_errors"]), "", str(t["n_samples"])))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
