"""Load PHYSICS problems: the packaged text-only copy, or a full copy with images."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from harness.api import HarnessError
from harness.io import read_jsonl

DOMAINS = ("atomic", "electro", "mechanics", "optics", "quantum", "statistics")
PACKAGED = Path(__file__).parent / "data" / "physics.jsonl.gz"
VALIDATION_DIR = "PHYSICS-eval"  # safe: the repository's folder name, not a call


@dataclass(frozen=True)
class Problem:
    id: str
    domain: str
    split: str  # "validation" | "test"
    question: str
    final_answers: tuple[str, ...]
    n_images: int
    image_paths: tuple[str, ...] = ()  # PNG files, only when loaded from a full copy


def load_packaged() -> list[Problem]:
    return [
        Problem(r["id"], r["domain"], r["split"], r["questions"], tuple(r["final_answers"]), r["n_images"]) for r in read_jsonl(PACKAGED)
    ]


def _image_cache_dir() -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "harness" / "physics_images"


def _write_image(data_url: str, where: str) -> str:
    """Decode a ``data:image/png;base64,...`` part to a content-addressed file, so
    prompts (and the response cache keyed on them) are the same on every run."""
    header, _, payload = data_url.partition(",")
    if not header.startswith("data:image/") or ";base64" not in header:
        raise HarnessError(f"{where}: image is not a base64 data URL; use the original PHYSICS files")
    try:
        raw = base64.b64decode(payload, validate=True)
    except binascii.Error:
        raise HarnessError(f"{where}: image data is not valid base64; use the original PHYSICS files") from None
    suffix = "." + header[len("data:image/") :].split(";")[0]
    path = _image_cache_dir() / (hashlib.sha256(raw).hexdigest()[:32] + suffix)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + f".{os.getpid()}.tmp")
        tmp.write_bytes(raw)
        tmp.replace(path)
    return str(path)


def load_directory(data_dir: str | Path, with_images: bool) -> list[Problem]:
    """Read ``<domain>_dataset.jsonl`` (all problems) and the validation folder
    (its ids define the validation split) from a copy of the repository's PHYSICS folder."""
    root = Path(data_dir)
    if not root.is_dir():
        raise HarnessError(f"data_dir {data_dir}: no such folder; point it at a copy of the PHYSICS data folder")
    problems = []
    for domain in DOMAINS:
        full = root / f"{domain}_dataset.jsonl"
        if not full.exists():
            raise HarnessError(f"data_dir {data_dir} lacks {full.name}; it must hold the six <domain>_dataset.jsonl files")
        validation_file = root / VALIDATION_DIR / f"{domain}_dataset_eval.jsonl"
        if not validation_file.exists():
            raise HarnessError(f"data_dir {data_dir} lacks {VALIDATION_DIR}/{validation_file.name} (it defines the validation split)")
        validation = {str(r["id"]) for r in read_jsonl(validation_file)}
        for n, r in enumerate(read_jsonl(full), 1):
            where = f"{full} line {n}"
            if not isinstance(r.get("final_answers"), list) or "questions" not in r or "id" not in r:
                raise HarnessError(f"{where} lacks id, questions or a final_answers list; is this the PHYSICS data?")
            graphs = r.get("graphs") or []
            paths = ()
            if with_images:
                paths = tuple(_write_image(g["image_url"]["url"], where) for g in graphs)
            problems.append(
                Problem(
                    str(r["id"]),
                    domain,
                    "validation" if str(r["id"]) in validation else "test",
                    r["questions"],
                    tuple(str(a) for a in r["final_answers"]),
                    len(graphs),
                    paths,
                )
            )
    return problems
