"""Run untrusted checks in worker processes with a wall-clock timeout and a memory cap.

SymPy on model output can hang in C code (``10^{10^{10}}``) or eat all memory;
signal alarms cannot interrupt either. Each check therefore runs in a worker
process whose address space is capped with RLIMIT_AS; a worker that overruns
its deadline is killed and replaced, and the check is reported as `timeout`.
"""

from __future__ import annotations

import importlib
import multiprocessing
import multiprocessing.connection
import os
import resource
import signal
import time
from dataclasses import dataclass
from typing import Any, Callable, Literal, Sequence, cast

DEFAULT_TIMEOUT_S = 5.0
DEFAULT_MEMORY_MB = 2048


@dataclass(frozen=True)
class SandboxOutcome:
    """What happened to one call: `value` is the function's result when status is "ok"."""

    status: Literal["ok", "timeout", "memory", "error"]
    value: Any = None
    error: str | None = None


def _address_space_bytes() -> int:
    """Current virtual memory size of this process (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return 0


def _worker_main(conn, memory_mb: int) -> None:
    # A forked worker inherits its parent's mappings (a loaded model can be many
    # GiB of address space), so the cap is what it holds now plus the budget.
    limit = _address_space_bytes() + memory_mb * 1024 * 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        fn, args = job
        result: tuple[str, Any, str | None]
        try:
            result = ("ok", fn(*args), None)
        except MemoryError:
            result = ("memory", None, "MemoryError")
        except RecursionError:
            result = ("error", None, "RecursionError: input nested too deeply")
        except BaseException as e:  # the check itself failed: report, keep serving
            result = ("error", None, f"{type(e).__name__}: {e}"[:500])
        try:
            conn.send(result)
        except Exception as e:  # unpicklable result
            conn.send(("error", None, f"result not transferable: {type(e).__name__}: {e}"[:500]))


class _Worker:
    def __init__(self, ctx, memory_mb: int):
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child, memory_mb), daemon=True)
        self.process.start()
        child.close()

    def kill(self) -> None:
        self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()

    def stop(self) -> None:
        try:
            self.conn.send(None)
        except OSError:
            pass
        self.process.join(timeout=1)
        if self.process.is_alive():
            self.kill()
        else:
            self.conn.close()


SANDBOX_STATUS = {"timeout": "timeout", "memory": "memory_limit", "error": "checker_error"}
"""How a check that did not finish is named in a verdict's `method` (by the outcome's status)."""


class CheckerPool:
    """A pool of sandboxed worker processes. `fn` must be a picklable
    module-level function; its arguments and result must pickle too.

    Workers are started lazily and reused; a worker killed for a timeout or
    dead from memory exhaustion is replaced by a fresh one, and so are the
    workers stopped by `close()`.
    """

    def __init__(
        self,
        workers: int | None = None,
        memory_mb: int = DEFAULT_MEMORY_MB,
        preload: Sequence[str] = ("harness.checker.compare",),
    ):
        self.size = max(1, workers if workers is not None else min(4, os.cpu_count() or 1))
        self.memory_mb = memory_mb
        # Fork: a worker starts in milliseconds with the checker already imported
        # (imported here, in the parent), and nothing re-runs the caller's __main__
        # as spawn/forkserver would.
        for module in preload:
            importlib.import_module(module)
        self._ctx = multiprocessing.get_context("fork")
        self._idle: list[_Worker] = []

    def _take_worker(self) -> _Worker:
        while self._idle:
            worker = self._idle.pop()
            if worker.process.is_alive():
                return worker
            worker.kill()
        return _Worker(self._ctx, self.memory_mb)

    def run(self, fn: Callable, *args, timeout_s: float = DEFAULT_TIMEOUT_S) -> SandboxOutcome:
        return self.map(fn, [args], timeout_s=timeout_s)[0]

    def map(self, fn: Callable, arg_tuples: Sequence[tuple], timeout_s: float = DEFAULT_TIMEOUT_S) -> list[SandboxOutcome]:
        """Run `fn(*args)` for every tuple, in parallel over the workers; results in input order."""
        outcomes: list[SandboxOutcome | None] = [None] * len(arg_tuples)
        pending = list(enumerate(arg_tuples))
        pending.reverse()
        busy: dict[Any, tuple[_Worker, int, float]] = {}  # conn -> (worker, index, deadline)
        while pending or busy:
            while pending and len(busy) < self.size:
                index, args = pending.pop()
                worker = self._take_worker()
                try:
                    worker.conn.send((fn, tuple(args)))
                except Exception as e:
                    worker.kill()
                    outcomes[index] = SandboxOutcome("error", None, f"arguments not transferable: {e}"[:500])
                    continue
                busy[worker.conn] = (worker, index, time.monotonic() + timeout_s)
            if not busy:
                continue
            next_deadline = min(d for _, _, d in busy.values())
            ready = multiprocessing.connection.wait(list(busy), timeout=max(0.0, next_deadline - time.monotonic()))
            for conn in ready:
                worker, index, _ = busy.pop(conn)
                try:
                    status, value, error = cast(multiprocessing.connection.Connection, conn).recv()
                    outcomes[index] = SandboxOutcome(status, value, error)
                    self._idle.append(worker)
                except (EOFError, OSError):
                    # The worker died mid-check: SIGKILL is the kernel's OOM killer,
                    # anything else a crash (a C extension hitting the memory cap).
                    worker.kill()
                    code = worker.process.exitcode
                    died: Literal["memory", "error"] = "memory" if code in (-signal.SIGKILL, -signal.SIGSEGV) else "error"
                    outcomes[index] = SandboxOutcome(died, None, f"worker died (exit code {code})")
            now = time.monotonic()
            for conn, (worker, index, deadline) in list(busy.items()):
                if now >= deadline:
                    busy.pop(conn)
                    worker.kill()
                    outcomes[index] = SandboxOutcome("timeout", None, f"no result within {timeout_s:g} s")
        return outcomes  # type: ignore[return-value]

    def close(self) -> None:
        """Stop the workers; a later `map` starts fresh ones."""
        for worker in self._idle:
            worker.stop()
        self._idle.clear()

    def __enter__(self) -> CheckerPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
