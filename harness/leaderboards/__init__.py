"""Leaderboards from run directories, as a static site (see docs/leaderboards.md).

`harness leaderboard RUN_DIR... --output SITE/` reads only what runs wrote to disk
(config.json, results.json, samples.jsonl), never live objects: `entries` turns runs
into rows, `compare` pairs rows of a task, `site` writes the pages.
"""

from __future__ import annotations

from pathlib import Path

from harness.leaderboards.entries import Entry, read_entries
from harness.leaderboards.pictures import is_training_run
from harness.leaderboards.site import write_site

__all__ = ["Entry", "build_site", "read_entries"]


def build_site(run_dirs: list[Path], output: Path, title: str = "harness leaderboard") -> list[Path]:
    """Write the site for `run_dirs` (evaluation runs, and training runs, whose curves are drawn)
    under `output`; index.html first, then the CSV, Markdown and JSON tables."""
    training = tuple(Path(d) for d in run_dirs if is_training_run(Path(d)))
    return write_site(read_entries([d for d in run_dirs if Path(d) not in training]), output, title, training)
