"""Leaderboard aggregation from run directories."""

import csv
import json
import subprocess
import sys
from pathlib import Path

from harness.leaderboards import build_leaderboard, write_leaderboard


def fake_run(d: Path, model: str, steering, value: float):
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps({"model": {"spec": model}}))
    (d / "results.json").write_text(
        json.dumps(
            {
                "model": model,
                "steering": steering,
                "tasks": {"smoke-gen": {"n": 20, "metrics": {"accuracy": {"value": value, "ci95": [value - 0.1, value + 0.1]}}}},
            }
        )
    )
    return d


def test_rows_per_model_and_steering_with_intervals(tmp_path):
    runs = [
        fake_run(tmp_path / "a", "hf:m", None, 0.5),
        fake_run(tmp_path / "b", "hf:m", {"method": "caa", "settings": {"layer": 3, "multiplier": 2.0}}, 0.7),
        fake_run(tmp_path / "c", "hf:<script>alert(1)</script>", None, 0.2),
    ]
    board = build_leaderboard(runs)
    assert [(r.model, r.steering) for r in board.rows] == [
        ("hf:<script>alert(1)</script>", "none"),
        ("hf:m", "caa layer=3 multiplier=2.0"),
        ("hf:m", "none"),
    ]
    paths = write_leaderboard(board, tmp_path / "lb")
    rows = list(csv.DictReader(open(paths[0])))
    assert rows[1]["smoke-gen/accuracy"] == "0.7" and rows[1]["smoke-gen/accuracy ci95_lo"].startswith("0.6")
    md = paths[1].read_text()
    assert "| hf:m | caa layer=3 multiplier=2.0 | 0.700 [0.600, 0.800] |" in md
    page = paths[2].read_text()
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_cli_leaderboard_rejects_non_run_dirs(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "harness.cli", "leaderboard", str(tmp_path), "--output", str(tmp_path / "o")], capture_output=True, text=True
    )
    assert r.returncode == 2 and "has no results.json" in r.stderr
