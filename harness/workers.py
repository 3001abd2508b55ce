"""`--backend ray --workers N`: N replicas of a local model as Ray actors, fed chunks of samples.

lm-eval scales local models through vLLM data parallelism on Ray and through
`accelerate launch`, and its users report hangs and lost work in both. Here
the driver (the runner) stays the only writer of the run directory and of the
response cache; each worker builds the tasks and the model from the same
RunConfig and answers the chunks it is sent (and scores them too, unless the
task has model roles, which live on the driver with their own concurrency).
A chunk's records are stored once, when its result reaches the driver, so a
worker that dies loses nothing: its chunks go to a replacement worker, and no
sample is stored twice. A killed driver resumes from samples.jsonl as always.

One GPU per worker when the cluster has GPUs, one CPU otherwise; asking for
more workers than the cluster can place is refused at once instead of waiting
forever for resources.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from harness import registry
from harness.api import HarnessError, Response, Sample, Task
from harness.cache import CachedModel, ResponseCache, WorkerCache
from harness.record import SampleRecord
from harness.runner import ModelIdentity, RunConfig, _solve_chunk, build_model, build_tasks, score_records, seed_everything

log = logging.getLogger(__name__)

CHUNKS_IN_FLIGHT_PER_WORKER = 2  # one being solved, one queued: a worker never waits for the driver
RESTARTS_PER_WORKER = 3  # replacements allowed per worker slot before the run stops


@dataclass
class ChunkResult:
    """What a worker sends back for one chunk: records when it scored, else responses."""

    records: list[SampleRecord] | None
    responses: list[list[Response]] | None
    fresh_answers: list[tuple[str, Response]]  # (cache key, response) for the driver to store
    calls: int


class ModelWorker:
    """The body of one Ray actor: the run's tasks and one replica of its model."""

    def __init__(self, config: RunConfig, cache_path: str | None):
        for path in config.includes:
            registry.include(path)
        self.tasks = {t.name: t for t in build_tasks(config)}
        self.model = build_model(config)
        seed_everything(config.seed)
        self.cache = WorkerCache(Path(cache_path)) if cache_path else None
        self.cached = CachedModel(self.model, self.cache)
        self.samples: dict[str, dict[str, Sample]] = {}

    def identity(self) -> ModelIdentity:
        return ModelIdentity.of(self.model)

    def solve(self, task_name: str, sample_ids: list[str], score: bool) -> ChunkResult:
        task = self.tasks[task_name]
        if task_name not in self.samples:
            self.samples[task_name] = {s.id: s for s in task.samples()}
        samples = [self.samples[task_name][i] for i in sample_ids]
        before = self.cached.calls
        responses = _solve_chunk(task, samples, self.cached)
        fresh = self.cache.take() if self.cache else []
        calls = self.cached.calls - before
        if score:
            return ChunkResult(score_records(task, samples, responses), None, fresh, calls)
        return ChunkResult(None, responses, fresh, calls)


def _import_ray() -> Any:
    try:
        import ray
    except ModuleNotFoundError as e:
        error = registry.missing_extra(e, "--backend ray")
        raise (error or e) from None
    return ray


class RayPool:
    """A ChunkSolver whose chunks go to whichever Ray worker is free."""

    def __init__(self, config: RunConfig, cache: ResponseCache | None):
        cls, _ = registry.parse_model_spec(config.model)
        if not getattr(cls, "replicable", False):
            raise HarnessError(
                f"--backend ray runs replicas of a local model (hf:, assign-add:, steered); '{cls.name}' is not one: "
                "API models send requests concurrently already (use --concurrency)"
            )
        registry.build_args(cls.Args, config.model_args, "model arg", f"model '{cls.name}'")  # bad args fail here, not in N workers
        if config.workers < 1:
            raise HarnessError("--workers must be at least 1")
        self.ray = ray = _import_ray()
        self.cache = cache
        self.calls = 0
        self.started_ray = not ray.is_initialized()
        if self.started_ray:
            ray.init(address=config.ray_address, include_dashboard=False, log_to_driver=False, configure_logging=False)
        try:
            resources = ray.cluster_resources()
            kind = "GPU" if resources.get("GPU", 0) >= 1 else "CPU"
            available = int(resources.get(kind, 0))
            if config.workers > available:
                raise HarnessError(
                    f"--workers {config.workers} but the Ray cluster has {available} {kind}s; ask for at most {available} workers"
                )
            options = {"num_gpus": 1} if kind == "GPU" else {"num_cpus": 1}
            self.actor_class = ray.remote(ModelWorker).options(max_restarts=0, max_task_retries=0, **options)
            cache_path = str(cache.path) if cache is not None and cache.db is not None else None
            self.config, self.cache_path = config, cache_path
            self.workers = [self.actor_class.remote(config, cache_path) for _ in range(config.workers)]
            self.restarts = 0
            self.identity: ModelIdentity = self._get(self.workers[0].identity.remote())
        except BaseException:
            self.close()
            raise

    def _get(self, ref: Any) -> Any:
        """ray.get, with a task's own error raised as one line."""
        try:
            return self.ray.get(ref)
        except self.ray.exceptions.RayTaskError as e:
            cause = e.cause
            if isinstance(cause, HarnessError):
                raise HarnessError(str(cause)) from None
            raise HarnessError(f"a Ray worker failed: {type(cause).__name__}: {cause}") from None
        except self.ray.exceptions.ActorDiedError as e:
            lines = [line for line in str(e).splitlines() if line.strip()]
            said = next((line.split("HarnessError: ", 1)[1] for line in reversed(lines) if "HarnessError: " in line), None)
            raise HarnessError(said or f"a Ray worker could not start: {lines[-1] if lines else type(e).__name__}") from None

    def _replace(self, slot: int, why: str) -> None:
        self.restarts += 1
        if self.restarts > RESTARTS_PER_WORKER * len(self.workers):
            raise HarnessError(
                f"Ray workers keep dying ({self.restarts} replacements; last: {why}); the records stored so far are kept: rerun to resume"
            )
        log.warning("Ray worker %d died (%s); its chunks go to the other workers and a replacement", slot, why)
        self.workers[slot] = self.actor_class.remote(self.config, self.cache_path)

    def solve(self, task: Task, chunks: list[list[Sample]], progress: Callable[[int], None]) -> Iterator[list[SampleRecord]]:
        ray = self.ray
        score_on_worker = not task.role_models  # roles (judges) are the driver's
        queue = deque(range(len(chunks)))
        in_flight: dict[Any, tuple[int, Any, int]] = {}  # ref -> (slot, worker handle, chunk index)
        while queue or in_flight:
            for slot, worker in enumerate(self.workers):
                busy = sum(1 for _, w, _ in in_flight.values() if w is worker)
                while queue and busy < CHUNKS_IN_FLIGHT_PER_WORKER:
                    index = queue.popleft()
                    ref = worker.solve.remote(task.name, [s.id for s in chunks[index]], score_on_worker)
                    in_flight[ref] = (slot, worker, index)
                    busy += 1
            (ref,), _ = ray.wait(list(in_flight), num_returns=1)
            slot, worker, index = in_flight.pop(ref)
            try:
                result: ChunkResult = ray.get(ref)
            except ray.exceptions.RayActorError as e:
                queue.appendleft(index)  # nothing of this chunk was stored: it runs again elsewhere
                if self.workers[slot] is worker:
                    self._replace(slot, type(e).__name__)
                continue
            except ray.exceptions.RayTaskError:
                self._get(ref)  # raises the worker's error as one line
                raise
            if self.cache is not None:
                self.cache.put_many(result.fresh_answers)
            self.calls += result.calls
            chunk = chunks[index]
            if result.records is not None:
                yield result.records
            else:
                assert result.responses is not None
                yield score_records(task, chunk, result.responses)
            progress(len(chunk))

    def close(self) -> None:
        for worker in getattr(self, "workers", []):
            self.ray.kill(worker)
        self.workers = []
        if self.started_ray and self.ray.is_initialized():
            self.ray.shutdown()
