"""The run directory: config.json, samples.jsonl (append-only) and results.json.

samples.jsonl is the checkpoint. Each record is written as one line, flushed
and fsynced before the run moves on, so a run killed at any moment (SIGKILL
included) loses at most the line being written; on reopen a torn last line is
cut off and error records are dropped so their samples are retried. Every
sample therefore ends up in the file exactly once.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable

from harness.api import HarnessError
from harness.record import SampleRecord

CONFIG = "config.json"
SAMPLES = "samples.jsonl"
RESULTS = "results.json"


def write_json_atomic(path: Path, obj) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False, default=str)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_json(path: Path):
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise HarnessError(f"{path} does not exist; is this a run directory written by `harness eval`?") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise HarnessError(f"{path} is not valid JSON ({e}); rerun `harness eval` with --overwrite") from None


class RunStore:
    def __init__(self, directory: Path):
        self.dir = Path(directory)

    @property
    def samples_path(self) -> Path:
        return self.dir / SAMPLES

    def open(self, config: dict, identity: dict, overwrite: bool) -> None:
        """Create the directory, or check that an existing one belongs to the
        same configuration (`identity`) and can be resumed."""
        self.dir.mkdir(parents=True, exist_ok=True)
        cfg_path = self.dir / CONFIG
        if cfg_path.exists() and not overwrite:
            old = read_json(cfg_path).get("identity")
            if old != json.loads(json.dumps(identity, default=str)):
                changed = sorted(k for k in set(old or {}) | set(identity) if (old or {}).get(k) != identity.get(k))
                raise HarnessError(
                    f"{self.dir} holds a run with a different configuration (changed: {', '.join(changed)}); "
                    "use another --output, or --overwrite to discard it"
                )
        elif overwrite:
            for name in (SAMPLES, RESULTS):
                (self.dir / name).unlink(missing_ok=True)
        write_json_atomic(cfg_path, {**config, "identity": identity})
        self._compact()

    def _compact(self) -> None:
        """Cut a torn last line and drop error records (their samples are retried)."""
        path = self.samples_path
        if not path.exists():
            return
        raw = path.read_bytes()
        keep, changed = [], False
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
            keep.append(line)
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
                out[(rec["task"], rec["id"])] = SampleRecord.from_json(rec)
        return out

    def append(self, records: Iterable[SampleRecord]) -> None:
        data = "".join(json.dumps(r.to_json(), ensure_ascii=False, default=str) + "\n" for r in records)
        if not data:
            return
        with open(self.samples_path, "a", encoding="utf-8") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())

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
