"""The authors' published HARDMath responses of five models with their GPT-4o
grades (see data/published_replays/NOTICE.md): the test of the answer reader."""

from __future__ import annotations

from pathlib import Path

from harness.io import read_jsonl

PUBLISHED_DIR = Path(__file__).parent / "data" / "published_replays"


def published_replays() -> dict[str, list[dict]]:
    """File stem ("gpt3.5_0shot", ...) -> rows {"id", "output", "official_score", "official_grade_response"}."""
    return {path.name.removesuffix(".jsonl.gz"): list(read_jsonl(path)) for path in sorted(PUBLISHED_DIR.glob("*.jsonl.gz"))}
