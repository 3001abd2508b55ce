"""Stable hashes for configs, requests and data (cache keys, config.json)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any, Iterable


def _default(o: Any):
    if dataclasses.is_dataclass(o) and not isinstance(o, type):
        d = dataclasses.asdict(o)
        d["__type__"] = type(o).__name__
        return d
    if isinstance(o, (set, frozenset)):
        return sorted(o)
    return repr(o)


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, default=_default, ensure_ascii=False, separators=(",", ":"))


def sha256_of(obj: Any) -> str:
    data = obj if isinstance(obj, bytes) else canonical_json(obj).encode()
    return hashlib.sha256(data).hexdigest()


def hash_samples(samples: Iterable) -> str:
    h = hashlib.sha256()
    for s in samples:
        h.update(canonical_json(s).encode())
        h.update(b"\n")
    return h.hexdigest()
