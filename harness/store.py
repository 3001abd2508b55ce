"""The run directory: config.json, samples.jsonl (append-only) and results.json.

samples.jsonl is the checkpoint. Each record is written as one line, flushed
and fsynced before the run moves on, so a run killed at any moment (SIGKILL
included) loses at most the line being written; on reopen a torn last line is
cut off and error records are dropped so their samples are retried. Every
sample therefore ends up in the file exactly once.
"""

from __future__ import annotations

import errno
import functools
import json
import logging
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from harness.api import HarnessError
from harness.record import SampleRecord

LOCK = "run.lock"
CONFIG = "config.json"
SAMPLES = "samples.jsonl"
RESULTS = "results.json"


logger = logging.getLogger(__name__)


def _read_lock(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # half-written or unreadable: treated as stale


def _stale(holder: dict) -> bool:
    """True when the lock's process no longer runs (only decidable on its own host)."""
    if holder.get("host") != socket.gethostname():
        return False
    try:
        os.kill(int(holder["pid"]), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, KeyError, ValueError, TypeError):
        return False
    return False


def _write_failed(path: Path, error: OSError) -> HarnessError:
    reason = "the disk is full" if error.errno == errno.ENOSPC else error.strerror or str(error)
    return HarnessError(f"cannot write {path}: {reason}; free space or choose another --output (what was saved is kept)")


def write_json_atomic(path: Path, obj) -> None:
    """Write `path` whole or not at all: a full disk leaves the old file and no temporary behind."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=2, ensure_ascii=False, default=str)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise _write_failed(path, e) from None
    except UnicodeEncodeError:
        tmp.unlink(missing_ok=True)
        raise HarnessError(
            f"cannot write {path}: it would hold text that is not valid UTF-8 (an --output path with "
            "undecodable bytes?); use a path in plain UTF-8"
        ) from None


def read_json(path: Path):
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise HarnessError(f"{path} does not exist; is this a run directory written by `harness eval`?") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise HarnessError(f"{path} is not valid JSON ({e}); rerun `harness eval` with --overwrite") from None


class RunStore:
    """A run directory with one writer: `open` takes `run.lock` (pid, host, start
    time) and `close` releases it; a lock left by a process that no longer runs
    on this host is taken over."""

    def __init__(self, directory: Path):
        self.dir = Path(directory)
        self._locked = False

    @property
    def lock_path(self) -> Path:
        return self.dir / LOCK

    def lock(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        mine = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
        for _ in range(2):
            try:
                fd = os.open(self.lock_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = _read_lock(self.lock_path)
                if holder is not None and not _stale(holder):
                    raise HarnessError(
                        f"{self.dir} is in use by another harness process (pid {holder.get('pid')} on {holder.get('host')}, "
                        f"since {holder.get('started')}); wait for it to finish or use another --output"
                    ) from None
                self.lock_path.unlink(missing_ok=True)  # left by a process that is gone: take it over
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(mine, f)
            self._locked = True
            return
        raise HarnessError(f"cannot take the lock {self.lock_path}; remove it if no harness process uses {self.dir}")

    def close(self) -> None:
        if self._locked:
            self.lock_path.unlink(missing_ok=True)
            self._locked = False

    @property
    def samples_path(self) -> Path:
        return self.dir / SAMPLES

    def open(self, config: dict, identity: dict, overwrite: bool) -> None:
        """Lock the directory, then create it, or check that an existing one belongs
        to the same configuration (`identity`) and can be resumed."""
        self.lock()
        cfg_path = self.dir / CONFIG
        saved = read_json(cfg_path) if cfg_path.exists() else None
        if saved is not None:
            kind = saved.get("kind") or ("eval" if "identity" in saved else saved.get("format"))
            if kind != "eval":
                what = "a training run" if kind == "train" or "assign-add" in str(kind) else f"another kind of run ({kind})"
                raise HarnessError(
                    f"{self.dir} is {what}, not an evaluation run; use another --output (--overwrite never replaces another kind of run)"
                )
        if saved is not None and not overwrite:
            old = saved.get("identity")
            if old != json.loads(json.dumps(identity, default=str)):
                changed = sorted(k for k in set(old or {}) | set(identity) if (old or {}).get(k) != identity.get(k))
                raise HarnessError(
                    f"{self.dir} holds a run with a different configuration (changed: {', '.join(changed)}); "
                    "use another --output, or --overwrite to discard it"
                )
        elif overwrite:
            for name in (SAMPLES, RESULTS):
                (self.dir / name).unlink(missing_ok=True)
        write_json_atomic(cfg_path, {"kind": "eval", **config, "identity": identity})
        self._compact()

    def _compact(self) -> None:
        """Cut a torn last line, drop error records (their samples are retried) and
        drop repeated records of a sample (keeping the first), with a warning."""
        path = self.samples_path
        if not path.exists():
            return
        raw = path.read_bytes()
        keep, changed, seen, repeated = [], False, set(), 0
        for line in raw.split(b"\n"):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                changed = True  # torn write from a killed run
                continue
            if rec.get("error") is not None:
                changed = True
                continue
            key = (rec.get("task"), rec.get("id"))
            if key in seen:
                changed, repeated = True, repeated + 1
                continue
            seen.add(key)
            keep.append(line)
        if repeated:
            logger.warning("%s held %d repeated sample record(s); kept the first of each", path, repeated)
        if changed or (raw and not raw.endswith(b"\n")):
            tmp = path.with_suffix(".jsonl.tmp")
            tmp.write_bytes(b"".join(line + b"\n" for line in keep))
            os.replace(tmp, path)

    def records(self) -> dict[tuple[str, str], SampleRecord]:
        out: dict[tuple[str, str], SampleRecord] = {}
        if not self.samples_path.exists():
            return out
        with open(self.samples_path, "rb") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue
                out.setdefault((rec["task"], rec["id"]), SampleRecord.from_json(rec))  # a repeat never counts twice
        return out

    def append(self, records: Iterable[SampleRecord]) -> None:
        data = "".join(json.dumps(r.to_json(), ensure_ascii=False, default=str) + "\n" for r in records)
        if not data:
            return
        try:
            with open(self.samples_path, "a", encoding="utf-8") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            raise _write_failed(self.samples_path, e) from None

    def rewrite(self, records: Iterable[SampleRecord]) -> None:
        """Replace samples.jsonl as a whole, atomically (re-scoring)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.samples_path.with_suffix(".jsonl.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r.to_json(), ensure_ascii=False, default=str) + "\n" for r in records)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.samples_path)

    def write_results(self, results: dict) -> None:
        write_json_atomic(self.dir / RESULTS, results)


@dataclass(frozen=True)
class FinishedRun:
    """What a finished `harness eval` run wrote: the readers' (exports, site) one view of a run directory."""

    path: Path
    config: dict
    results: dict

    @property
    def identity(self) -> dict:
        return self.config.get("identity", {})

    @functools.cached_property
    def _records(self) -> dict[tuple[str, str], SampleRecord]:
        return RunStore(self.path).records()  # read once: every task and reader of the run shares it

    def records(self) -> dict[tuple[str, str], SampleRecord]:
        return self._records

    def task_records(self, task: str) -> list[SampleRecord]:
        return [rec for (name, _), rec in self._records.items() if name == task]


def read_finished_run(path: Path) -> FinishedRun:
    """A run directory with config.json and results.json of an evaluation, or one line saying what is missing."""
    path = Path(path)
    if not (path / RESULTS).exists():
        raise HarnessError(f"{path} has no {RESULTS}; pass a run directory written by `harness eval` (a finished run)")
    config, results = read_json(path / CONFIG), read_json(path / RESULTS)
    if config.get("kind", "eval") != "eval" or "tasks" not in results:
        raise HarnessError(f"{path} is not an evaluation run directory written by `harness eval`")
    return FinishedRun(path, config, results)
