"""Where checkpoints live: the released ones shipped in the package, and run
directories (ours from `harness train assign-add`, or the paper's own layout).

A run directory holds `config.json` (the training split among its settings)
and `checkpoints/step_<N>.pth` (TransformerLens state dicts); the paper's runs
use `checkpoints/checkpoint_step_<N>.pth` and its `config.json` keys
`TRAIN_PAIRS_FRAC`/`SEED`, which are read too.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from harness.api import HarnessError
from harness.tasks.assign_add.generator import PAIRS_FRAC_DEFAULT, PARTITION_SEED_DEFAULT

RELEASED_DIR = Path(__file__).parent / "data" / "released"
RELEASED_STEPS = {"ck_1": 1, "ck_501": 501, "ck_6001": 6001, "final": 40000}
"""Released checkpoints of the paper's run: its initial weights, steps 501 and
6,001, and the end of the 40,000-step run. Name them `released/<name>`."""
RELEASED_PARTITION = {"pairs_frac": PAIRS_FRAC_DEFAULT, "partition_seed": PARTITION_SEED_DEFAULT}

RUN_CONFIG = "config.json"
CHECKPOINT_SUBDIR = "checkpoints"
_STEP_FILE = re.compile(r"^(?:checkpoint_)?step_(\d+)\.pth$")


@dataclass(frozen=True)
class CheckpointRef:
    """A checkpoint file, its training step when known, and the number-pair
    split it was trained on (None when unknown: nothing to check against)."""

    path: Path
    step: int | None
    partition: dict | None
    label: str


def step_file_name(step: int) -> str:
    return f"step_{step:06d}.pth"


def run_checkpoints(run_dir: Path) -> list[CheckpointRef]:
    """The checkpoints of a run directory, by training step."""
    partition = _run_partition(run_dir)
    found = []
    for folder in (run_dir / CHECKPOINT_SUBDIR, run_dir):
        if folder.is_dir():
            for f in folder.iterdir():
                m = _STEP_FILE.match(f.name)
                if m and f.is_file():
                    found.append(CheckpointRef(f, int(m.group(1)), partition, f"{run_dir.name}@{int(m.group(1))}"))
    return sorted(found, key=lambda c: c.step)


def _run_partition(run_dir: Path) -> dict | None:
    path = run_dir / RUN_CONFIG
    if not path.is_file():
        return None
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise HarnessError(f"{path}: unreadable run config ({e}); repair or delete it") from None
    if "pairs_frac" in config:
        return {"pairs_frac": float(config["pairs_frac"]), "partition_seed": int(config["partition_seed"])}
    if "TRAIN_PAIRS_FRAC" in config:  # the paper's own run directory
        return {"pairs_frac": float(config["TRAIN_PAIRS_FRAC"]), "partition_seed": int(config.get("SEED", 42))}
    return None


def resolve(target: str) -> CheckpointRef:
    """`released/<name>`, a .pth file, or a run directory (its latest checkpoint)."""
    if target.startswith("released/"):
        name = target.removeprefix("released/")
        if name not in RELEASED_STEPS:
            raise HarnessError(f"unknown released checkpoint '{name}'; use one of: released/{', released/'.join(RELEASED_STEPS)}")
        return CheckpointRef(RELEASED_DIR / f"{name}.pth", RELEASED_STEPS[name], RELEASED_PARTITION, target)
    path = Path(target).expanduser()
    if path.is_file():
        m = _STEP_FILE.match(path.name)
        run_dir = path.parent.parent if path.parent.name == CHECKPOINT_SUBDIR else path.parent
        return CheckpointRef(path, int(m.group(1)) if m else None, _run_partition(run_dir), path.name)
    if path.is_dir():
        found = run_checkpoints(path)
        if not found:
            raise HarnessError(
                f"run directory {path} has no checkpoints/step_<N>.pth yet; train it first (harness train assign-add --output {path})"
            )
        return found[-1]
    raise HarnessError(
        f"assign-add target '{target}' not found; give a .pth file, a run directory from `harness train assign-add`, "
        f"or released/{{{','.join(RELEASED_STEPS)}}}"
    )
