"""Replay files of the gold answers: each problem answered by its own gold
answers, boxed. Scoring one with `--model replay:FILE` measures the checker's
recall on answers known to be right."""

from __future__ import annotations

import json
from pathlib import Path

from harness.tasks.physics.loader import Problem


def gold_output(problem: Problem) -> str:
    return "Final answers: " + " ".join(rf"\boxed{{{a}}}" for a in problem.final_answers)


def write_gold_replay(problems: list[Problem], path: str | Path) -> int:
    """One JSONL line {"id", "output", "task"} per problem; returns the count."""
    with open(path, "w", encoding="utf-8") as f:
        for p in problems:
            f.write(json.dumps({"id": p.id, "output": gold_output(p), "task": "physics"}, ensure_ascii=False) + "\n")
    return len(problems)
