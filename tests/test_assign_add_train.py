"""The trainer: phase-1 behaviour from scratch with the paper's settings,
phase 3 from the authors' step-6,001 weights, exact resume, refusing changed
settings, reuse of a finished run, initial weights from a checkpoint, and the
train/analyze CLI commands."""

from __future__ import annotations

import csv
import json

import pytest
import torch
from click.testing import CliRunner

from harness.api import HarnessError
from harness.tasks.assign_add.adapter import AssignAddAdapter
from harness.tasks.assign_add.checkpoints import RELEASED_DIR
from harness.tasks.assign_add.cli import analyze_cmd, train_cmd
from harness.tasks.assign_add.train import TrainConfig, train

pytestmark = pytest.mark.slow  # training runs: deselect with -m "not slow" for a quick pass

TINY = dict(eval_every=1, checkpoint_every=3, eval_n=40, batch_size=64)


def _rows(run_dir):
    with (run_dir / "metrics.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def test_short_run_shows_phase_one_behaviour(tmp_path):
    """Paper settings from a fresh init: by step 450 direct addition is learned
    and generalises beyond chance to held-out pairs, while variable sequences lag."""
    summary = train(tmp_path / "run", TrainConfig(steps=450, eval_every=450, checkpoint_every=450, eval_n=500), log=lambda _: None)
    acc = summary.last_eval
    assert acc["acc_0var_train"] > 0.9
    assert acc["acc_0var_heldout_pair"] > 0.2  # chance is 1/59
    assert acc["acc_1var_heldout_pair"] < 0.5 and acc["acc_2var_train"] < 0.5
    assert summary.step == 450 and summary.steps_per_s > 0


def test_phase_three_from_the_authors_step_6001_weights(tmp_path):
    """Diagnostic (a) of the trajectory reproduction (docs/assign_add.md): from the
    authors' step-6,001 weights, phase 3 (every var-restricted pool > 0.95) appears
    by the authors' step 17,000, i.e. within 10,999 more steps. 12-25 min on 1 thread."""
    config = TrainConfig(
        steps=17_000 - 6_001, init="released/ck_6001", eval_every=250, eval_n=1000, checkpoint_every=5000, stop_at="phase3"
    )
    summary = train(tmp_path / "run", config, log=lambda _: None)
    assert summary.phases["phase3"] is not None, summary.last_eval
    assert summary.last_eval["acc_1var_heldout_pair"] > 0.95  # phase 2 kept


def test_resume_reproduces_an_uninterrupted_run(tmp_path):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    train(straight, TrainConfig(steps=6, **TINY), log=lambda _: None)
    train(resumed, TrainConfig(steps=3, **TINY), log=lambda _: None)
    with (resumed / "metrics.csv").open("a") as f:  # an evaluation logged after the last checkpoint, then a torn row
        f.write("4,9.9" + ",0.5" * 9 + ",1.0,1.0\n" + "2,0.7,0.5")
    logs = []
    train(resumed, TrainConfig(steps=6, **TINY), log=logs.append)
    assert "resuming" in logs[0] and "from step 3" in logs[0]
    a = torch.load(straight / "checkpoints" / "step_000006.pth", weights_only=True)
    b = torch.load(resumed / "checkpoints" / "step_000006.pth", weights_only=True)
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-6) for k in a)
    strip = lambda rows: [{k: v for k, v in r.items() if not k.endswith("seconds")} for r in rows]  # noqa: E731
    assert strip(_rows(straight)) == strip(_rows(resumed))
    assert [int(r["step"]) for r in _rows(resumed)] == list(range(7))


def test_changed_settings_and_finished_runs(tmp_path):
    run = tmp_path / "run"
    train(run, TrainConfig(steps=2, **TINY), log=lambda _: None)
    with pytest.raises(HarnessError, match="seed=0"):
        train(run, TrainConfig(steps=4, seed=1, **TINY), log=lambda _: None)
    with pytest.raises(HarnessError, match="precision='bf16'"):
        train(run, TrainConfig(steps=4, precision="fp32", **TINY), log=lambda _: None)
    logs = []
    again = train(run, TrainConfig(steps=2, **TINY), log=logs.append)
    assert again.step == 2 and any("reusing" in line for line in logs)
    saved = json.loads((run / "config.json").read_text())
    del saved["precision"]  # a run from before the setting existed: its CPU forward pass was float32
    (run / "config.json").write_text(json.dumps(saved))
    with pytest.raises(HarnessError, match="precision='fp32' \\(now 'bf16'\\)"):
        train(run, TrainConfig(steps=2, **TINY), log=lambda _: None)
    assert train(run, TrainConfig(steps=2, precision="fp32", **TINY), log=lambda _: None).step == 2
    with pytest.raises(HarnessError, match="batch-size"):
        TrainConfig(steps=2, batch_size=0)
    with pytest.raises(HarnessError, match="released/ck_1"):
        TrainConfig(steps=2, init="released/nope")


def test_initial_weights_from_the_papers_checkpoint(tmp_path):
    rows = []
    train(tmp_path / "run", TrainConfig(steps=0, init="released/ck_1", **TINY), log=lambda _: None, on_eval=rows.append)
    assert [r["step"] for r in rows] == [0] and rows[0]["acc_0var_train"] < 0.1  # the untrained model, reported once
    ours = torch.load(tmp_path / "run" / "checkpoints" / "step_000000.pth", weights_only=True)
    theirs = torch.load(RELEASED_DIR / "ck_1.pth", weights_only=True)
    assert set(ours) == set(theirs) and all(torch.equal(ours[k], theirs[k]) for k in theirs)


def test_cli_train_then_eval_and_analyze_the_run(tmp_path):
    run = tmp_path / "run"
    args = [
        "--steps",
        "4",
        "--output",
        str(run),
        "--eval-every",
        "2",
        "--checkpoint-every",
        "2",
        "--eval-n",
        "20",
        "--batch-size",
        "32",
        "--threads",
        "1",
        "--pairs-frac",
        "0.5",
    ]
    result = CliRunner().invoke(train_cmd, args)
    assert result.exit_code == 0, result.output
    assert "trained to step 4" in result.output and "phase1: not reached" in result.output
    assert (run / "phases.png").read_bytes()[:4] == b"\x89PNG"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["step"] == 4 and summary["threads"] == 1 and set(summary["phases"]) == {"phase1", "phase2", "phase3"}
    assert len(_rows(run)) == 3

    model = AssignAddAdapter(str(run))
    assert model.describe()["step"] == 4
    assert model.describe()["trained_partition"] == {"pairs_frac": 0.5, "partition_seed": 42}

    out = tmp_path / "measures.json"
    result = CliRunner().invoke(analyze_cmd, ["--model", f"assign-add:{run}", "--all-checkpoints", "--n", "16", "--output", str(out)])
    assert result.exit_code == 0, result.output
    rows = json.loads(out.read_text())
    assert [r["step"] for r in rows] == [0, 2, 4]
    assert all(0 <= r["l1_eq_attends_operands"] <= 1 and len(r["mlp1_adds_heldout_pairs_ci95"]) == 2 for r in rows)

    bad = CliRunner().invoke(analyze_cmd, ["--model", "assign-add:released/final", "--all-checkpoints"])
    assert isinstance(bad.exception, HarnessError)


def test_sigterm_saves_the_step_and_resume_continues_exactly(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    settings = dict(steps=400, eval_every=50, checkpoint_every=1000, eval_n=40, batch_size=64)
    straight = tmp_path / "straight"
    train(straight, TrainConfig(**settings), log=lambda _: None)
    run = tmp_path / "run"
    code = (
        "import sys, pathlib; from harness.tasks.assign_add.train import TrainConfig, train\n"
        f"train(pathlib.Path(sys.argv[1]), TrainConfig(**{settings!r}), log=lambda m: print(m, flush=True))"
    )
    child = subprocess.Popen([sys.executable, "-c", code, str(run)], stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not ((run / "metrics.csv").exists() and len(_rows(run)) >= 3):
        time.sleep(0.05)
    child.send_signal(signal.SIGTERM)
    out, _ = child.communicate(timeout=60)
    assert child.returncode != 0 and "interrupted at step" in out
    stopped_at = int(out.split("interrupted at step ")[1].split(";")[0])
    assert 100 <= stopped_at < 400 and stopped_at == torch.load(run / "state.pt", weights_only=True)["step"]
    train(run, TrainConfig(**settings), log=lambda _: None)
    a = torch.load(straight / "checkpoints" / "step_000400.pth", weights_only=True)
    b = torch.load(run / "checkpoints" / "step_000400.pth", weights_only=True)
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-6) for k in a)
    assert os.path.exists(run / "phases.png")
