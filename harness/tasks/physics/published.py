"""Published outputs of real models on PHYSICS, and careful per-answer grades of
160 of them (see data/published_outputs/NOTICE.md). They are the test of the
answer reader: `bench/real_outputs.py` replays them, the tests take excerpts."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path

from harness.io import read_jsonl

PUBLISHED_DIR = Path(__file__).parent / "data" / "published_outputs"
MODELS = {"qwen2.5-72b": "qwen2.5-72b-instruct", "llama-3.1-8b": "llama-3.1-8b-instruct"}


@dataclass(frozen=True)
class GoldGrade:
    """A careful grader's verdict on one gold answer of one response."""

    gold: int
    kind: str  # "math" | "verbal"
    verdict: str  # "correct" | "incorrect" | "unclear"
    reason: str


@dataclass(frozen=True)
class GradedProblem:
    model: str
    id: str
    official_score: float | None
    grades: tuple[GoldGrade, ...]

    @property
    def careful_score(self) -> float | None:
        """Share of gold answers graded correct among those that could be decided."""
        decided = [g for g in self.grades if g.verdict != "unclear"]
        return sum(g.verdict == "correct" for g in decided) / len(decided) if decided else None


def published_outputs(model: str) -> dict[str, dict]:
    """id -> {"output", "official_score"} for one of `MODELS`."""
    return {r["id"]: r for r in read_jsonl(PUBLISHED_DIR / f"{MODELS[model]}.jsonl.gz")}


def graded_problems() -> list[GradedProblem]:
    with gzip.open(PUBLISHED_DIR / "adjudicated_dev.json.gz", "rt", encoding="utf-8") as f:
        rows = json.load(f)
    return [GradedProblem(r["model"], r["id"], r["official_score"], tuple(GoldGrade(**g) for g in r["labels"])) for r in rows]
