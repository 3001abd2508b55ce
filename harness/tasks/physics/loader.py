"""Load PHYSICS problems: the packaged text-only copy, or a full copy with images."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from harness.api import HarnessError
from harness.checker.boxed import unescaped_braces
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
    # (index, the data set's text) of each final answer the data set cuts off, completed from the solution
    completed: tuple[tuple[int, str], ...] = ()


def load_packaged() -> list[Problem]:
    problems = []
    for r in read_jsonl(PACKAGED):
        answers = list(r["final_answers"])
        completed = []
        for index, text in r.get("completed_answers", []):
            completed.append((index, answers[index]))
            answers[index] = text
        problems.append(Problem(r["id"], r["domain"], r["split"], r["questions"], tuple(answers), r["n_images"], (), tuple(completed)))
    return problems


_LEFT = re.compile(r"\\left(?![A-Za-z])")
_RIGHT = re.compile(r"\\right(?![A-Za-z])")
# Where a formula of the worked solution ends: its display closes, a row or a remark begins.
_FORMULA_END = re.compile(r"\$|\\\]|\\\)|\n\s*\n|\\\\|&|\\end\{|\\q?quad(?![A-Za-z])|\\text\s*\{\s*(?:where|for|and)\b")
_RELATION = re.compile(r"(?<![<>!\\])=|\\(?:approx|simeq|sim|leq?|geq?|ll|gg|propto)(?![A-Za-z])|[<>]")


def _balanced(latex: str) -> bool:
    depth = 0
    for _, brace in unescaped_braces(latex):
        depth += 1 if brace == "{" else -1
        if depth < 0:
            return False
    return depth == 0 and len(_LEFT.findall(latex)) == len(_RIGHT.findall(latex))


def completed_answer(answer: str, solution: str) -> str | None:
    """A final answer the data set cuts off mid-formula (41 of them leave braces open:
    ``\\frac{\\Gamma_{\\bar{K}^0n}``), completed from the worked solution where it
    is written out (``\\frac{\\Gamma_{\\bar{K}^0 n}}{\\Gamma_{K^- p}} = 1``): the text
    after the same characters (spacing aside) up to the end of that formula, with at
    most one relation in all. None when the answer is whole, is not found, or its
    completions disagree."""
    if _balanced(answer):
        return None
    compact = re.sub(r"\s+", "", answer)
    where = [i for i, ch in enumerate(solution) if not ch.isspace()]
    flat = "".join(solution[i] for i in where)
    found = set()
    start = 0
    while compact and (k := flat.find(compact, start)) != -1:
        start = k + 1
        tail = solution[where[k + len(compact) - 1] + 1 :]
        end = _FORMULA_END.search(tail)
        rest = tail[: end.start() if end else len(tail)]
        if _RELATION.search(answer) and (extra := _RELATION.search(rest)):
            rest = rest[: extra.start()]
        text = re.sub(r"\s+", " ", (answer + rest).rstrip().rstrip(".,;")).strip()
        if _balanced(text):
            found.add(text)
    return found.pop() if len(found) == 1 else None


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
            answers = [str(a) for a in r["final_answers"]]
            completed = []
            for index, text in enumerate(answers):
                whole = completed_answer(text, str(r.get("solutions") or ""))
                if whole is not None:
                    completed.append((index, text))
                    answers[index] = whole
            paths = ()
            if with_images:
                paths = tuple(_write_image(g["image_url"]["url"], where) for g in graphs)
            problems.append(
                Problem(
                    str(r["id"]),
                    domain,
                    "validation" if str(r["id"]) in validation else "test",
                    r["questions"],
                    tuple(answers),
                    len(graphs),
                    paths,
                    tuple(completed),
                )
            )
    return problems
