"""Response cache shared across runs: an SQLite database keyed by model
fingerprint and request, so re-scoring a task with a fixed checker costs no
model calls. Errors are never cached; unseeded sampling is never cached."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any, Callable, Sequence

from harness.api import GenerateRequest, ModelAdapter, Request, RequestContext, Response, response_from_json, response_to_json
from harness.fingerprint import sha256_of

logger = logging.getLogger(__name__)


def default_cache_path() -> Path:
    root = os.environ.get("HARNESS_CACHE_DIR") or Path.home() / ".cache" / "harness"
    return Path(root) / "responses.sqlite"


def _cacheable(request: Request) -> bool:
    return not (isinstance(request, GenerateRequest) and request.temperature > 0 and request.seed is None)


class ResponseCache:
    """The cache never costs an answer: if it cannot be opened, read or written
    (locked past its timeout, read-only, disk full), it warns once and the run
    goes on without it; answers stay in the run directory either way."""

    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path else default_cache_path()
        self.db: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # answers may be stored from an adapter's I/O thread (see ModelAdapter.answered)
            self.db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            self.db.commit()
        except (OSError, sqlite3.Error) as e:
            self._give_up(e)

    def _give_up(self, error: Exception) -> None:
        if self.db is not None:
            try:
                self.db.close()
            except sqlite3.Error:
                pass
        self.db = None
        logger.warning("response cache %s unusable (%s: %s); going on without it", self.path, type(error).__name__, error)

    @staticmethod
    def key(fingerprint: str, request: Request, context: RequestContext | None) -> str:
        return sha256_of([fingerprint, request.kind, request, context])

    def get(self, key: str) -> Response | None:
        if self.db is None:
            return None
        try:
            row = self.db.execute("SELECT value FROM responses WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error as e:
            self._give_up(e)
            return None
        if row is None:
            return None
        return response_from_json(json.loads(row[0]))

    def put_many(self, items: list[tuple[str, Response]]) -> None:
        rows = [(k, json.dumps(response_to_json(r))) for k, r in items if r.error is None]
        if rows and self.db is not None:
            with self._lock:
                try:
                    self.db.executemany("INSERT OR REPLACE INTO responses VALUES (?, ?)", rows)
                    self.db.commit()
                except sqlite3.Error as e:
                    self._give_up(e)

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None


class WorkerCache(ResponseCache):
    """A worker's view of the shared cache: it reads the file when it can see it
    (read-only) and collects its fresh answers for the driver, the cache's only
    writer, to store with the records they belong to."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.db = None
        self._lock = threading.Lock()
        self.collected: list[tuple[str, Response]] = []
        if self.path.exists():
            try:
                self.db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30, check_same_thread=False)
            except sqlite3.Error as e:
                self._give_up(e)

    def put_many(self, items: list[tuple[str, Response]]) -> None:
        with self._lock:
            self.collected.extend((k, r) for k, r in items if r.error is None)

    def take(self) -> list[tuple[str, Response]]:
        with self._lock:
            out, self.collected = self.collected, []
        return out


class CachedModel:
    """Wraps an adapter: answers what the cache knows, sends the rest."""

    def __init__(self, model: ModelAdapter, cache: ResponseCache | None):
        self.model = model
        self.cache = cache
        self.fingerprint = model.fingerprint()
        # Adapters whose answer depends on which sample asked (replay) key on the context too.
        self.keyed_by_context = getattr(model, "answers_depend_on_context", False)
        self.calls = 0  # requests actually sent to the model

    def __call__(
        self, kind: str, requests: list[Request], contexts: list[RequestContext], on_answer: Callable[[int], None] = lambda index: None
    ) -> list[Response]:
        """The responses in order. Each fresh answer is cached the moment the adapter
        reports it (`ModelAdapter.answered`), else when the batch returns; `on_answer(i)`
        is called as soon as request i has its response."""
        method: Callable[[list[Any], list[RequestContext]], Sequence[Response]] = (
            self.model.generate if kind == "generate" else self.model.loglikelihood
        )
        cache = self.cache
        keys = [
            ResponseCache.key(self.fingerprint, r, c if self.keyed_by_context else None) if cache and _cacheable(r) else None
            for r, c in zip(requests, contexts)
        ]
        out: list[Response | None] = [cache.get(k) if cache and k else None for k in keys]
        missing = [i for i, r in enumerate(out) if r is None]
        for i, r in enumerate(out):
            if r is not None:
                on_answer(i)
        if not missing:
            return out  # type: ignore[return-value]
        self.calls += len(missing)
        reported: set[int] = set()

        def keep(position: int, response: Response) -> None:  # one answer, as it arrives
            key = keys[missing[position]]
            if cache and key:
                cache.put_many([(key, response)])
            reported.add(position)
            on_answer(missing[position])

        self.model.answered_sink = keep
        try:
            fresh = method([requests[i] for i in missing], [contexts[i] for i in missing])
        finally:
            self.model.answered_sink = None
        late = [(i, r) for position, (i, r) in enumerate(zip(missing, fresh)) if position not in reported]
        for i, r in zip(missing, fresh):
            out[i] = r
        if cache:
            cache.put_many([(key, r) for i, r in late if (key := keys[i])])  # one write for a whole batch
        for i, _ in late:
            on_answer(i)
        return out  # type: ignore[return-value]
