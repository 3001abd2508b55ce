"""Reading data files with errors a user can act on; writing text for Markdown tables."""

from __future__ import annotations

import gzip
import html
import json
from pathlib import Path
from typing import Iterator

from harness.api import HarnessError


def markdown_cell(value: object) -> str:
    """Text safe in a Markdown table cell: HTML escaped (renderers that allow HTML
    must not run model text), pipes escaped, line breaks flattened."""
    return html.escape(str(value)).replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _open_text(path: Path):
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else open(path, encoding="utf-8")


def read_jsonl(path: str | Path) -> Iterator[dict]:
    """Yield the JSON objects of a .jsonl (or .jsonl.gz) file; a bad line is a HarnessError naming it."""
    path = Path(path)
    try:
        with _open_text(path) as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    raise HarnessError(f"{path} line {n} is not valid JSON ({e.msg}); fix or remove that line") from None
                if not isinstance(obj, dict):
                    raise HarnessError(f"{path} line {n} is not a JSON object; each line must be {{...}}")
                yield obj
    except FileNotFoundError:
        raise HarnessError(f"cannot read {path}: no such file; check the path") from None
    except (OSError, UnicodeDecodeError) as e:
        raise HarnessError(f"cannot read {path} ({e}); check that it is a UTF-8 JSONL file") from None
