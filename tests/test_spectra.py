"""The spectral lens: estimators on synthetic spectra, per-sample gradients against a
loop, and `harness analyze spectra` end to end on a tiny HF model and on Assign-and-Add."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner

from harness.cli import main
from harness.registry import create_model
from harness.spectra.cli import spectra_cmd
from harness.spectra.estimate import BlockMoments, block_bootstrap, descending_eigenvalues, effective_rank, gram_spectrum, summarize
from harness.spectra.probe import IGNORE, ProbeBatch, per_sample_gradients
from harness.tasks.assign_add.model import AssignAddTransformer, ModelShape


def _power_law_tail(alpha: float, seed: int = 0, d: int = 64, sequences: int = 256):
    """Vectors whose population covariance has eigenvalues k^-alpha in a random basis, 16 per sequence."""
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.standard_normal((d, d)))
    scale = np.sqrt(np.arange(1, d + 1) ** -alpha)
    moments = BlockMoments(d, 32)
    for i in range(sequences):
        moments.add(i * 32 // sequences, (rng.standard_normal((16, d)) * scale) @ basis.T)
    return summarize(descending_eigenvalues(moments.covariance()), block_bootstrap(moments, 200, rng)).tail


@pytest.mark.parametrize("alpha", [0.8, 1.5])
def test_power_law_exponent_is_recovered_within_its_interval(alpha):
    tail = _power_law_tail(alpha)
    assert tail is not None and tail.ci95 is not None and tail.fit_range == (9, 32)
    assert tail.ci95[0] <= alpha <= tail.ci95[1], tail
    assert tail.ci95[1] - tail.ci95[0] < 0.1  # narrow enough to tell 0.8 from 1.5


def test_block_moments_give_the_covariance_and_effective_rank_its_limits():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((300, 5)) @ rng.standard_normal((5, 5))
    moments = BlockMoments(5, 3)
    for block, rows in enumerate(np.array_split(x, 3)):
        moments.add(block, rows)
    np.testing.assert_allclose(moments.covariance(), np.cov(x.T, bias=True), atol=1e-10)
    assert effective_rank(np.ones(7)) == pytest.approx(7) and effective_rank(np.array([3.0, 0, 0])) == pytest.approx(1)


def test_probe_rows_are_right_padded_with_the_answer_as_labels():
    batch = ProbeBatch.from_rows([[1, 2, 3], [4]], [[7, 8], [9]], pad_id=0)
    assert batch.input_ids.tolist() == [[1, 2, 3, 7], [4, 0, 0, 0]]
    assert batch.labels.tolist() == [[IGNORE, IGNORE, 7, 8], [9, IGNORE, IGNORE, IGNORE]]
    assert batch.prompt_lengths.tolist() == [3, 1]


def _naive_gradients(probe, batch: ProbeBatch, names: list[str]) -> np.ndarray:
    """One backward pass per sample on the row without its padding, the way a reader would check it."""
    params = dict(probe.module.named_parameters())
    rows = []
    for i in range(len(batch)):
        probe.module.zero_grad()
        length = int((batch.labels[i] != IGNORE).nonzero().max()) + 1
        logits = probe.logits(batch.input_ids[i : i + 1, :length])[0]
        F.cross_entropy(logits, batch.labels[i, :length], ignore_index=IGNORE).backward()
        rows.append(torch.cat([params[n].grad.flatten() for n in names]).numpy())
    return np.stack(rows)


def _check_against_loop(probe, batch: ProbeBatch, names: list[str]) -> None:
    fast = per_sample_gradients(probe, batch, names, batch_size=3)  # 3 does not divide 8: a ragged last chunk
    slow = _naive_gradients(probe, batch, names)
    np.testing.assert_allclose(fast, slow, rtol=1e-4, atol=1e-6)
    singular = np.linalg.svd(slow.astype(np.float64), compute_uv=False)
    np.testing.assert_allclose(
        np.sqrt(len(batch) * gram_spectrum(fast.astype(np.float64) @ fast.T.astype(np.float64))), singular, rtol=1e-4
    )


def test_per_sample_gradients_equal_a_loop_on_a_tiny_assign_add_model(tmp_path):
    model = AssignAddTransformer(ModelShape(d_model=16, d_head=16, d_mlp=32))
    model.init_weights(torch.Generator().manual_seed(0))
    torch.save(model.state_dict(), tmp_path / "tiny.pth")
    probe = create_model(f"assign-add:{tmp_path / 'tiny.pth'}", {}).spectral_probe()
    tokens = torch.randint(0, 59, (8, 16), generator=torch.Generator().manual_seed(1)).tolist()
    batch = ProbeBatch.from_rows(tokens, [[t % 59] for t in range(8)], 0)
    _check_against_loop(probe, batch, probe.layer_parameters(1))


def test_per_sample_gradients_equal_a_loop_on_a_tiny_hf_model(tiny_gpt2_dir):
    adapter = create_model(f"hf:{tiny_gpt2_dir}", {"attn_implementation": "eager"})
    probe = adapter.spectral_probe()
    prompts = [[5 + i] * (3 + i % 4) for i in range(8)]  # ragged: right padding must not leak into the loss
    batch = ProbeBatch.from_rows(prompts, [[7, 9][: 1 + i % 2] for i in range(8)], adapter._pad_id)
    _check_against_loop(probe, batch, probe.layer_parameters(1)[:4])


def _run(*args):
    result = CliRunner().invoke(spectra_cmd, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _summary(folder):
    with open(folder / "summary.csv") as f:
        return list(csv.DictReader(f))


def test_command_on_a_tiny_hf_model_is_deterministic(tmp_path, tiny_gpt2_dir):
    common = ("--model", f"hf:{tiny_gpt2_dir}", "--task", "smoke-gen", "--n", 16, "--grad-n", 12, "--blocks", 8, "--bootstrap", 40)
    _run(*common, "--output", tmp_path / "a")
    _run(*common, "--output", tmp_path / "b")
    rows = _summary(tmp_path / "a")
    assert [(r["kind"], r["layer"]) for r in rows] == [("activation", "0"), ("activation", "1"), ("gradient", "params")]
    assert rows[0]["dimension"] == "64" and int(rows[2]["dimension"]) == sum(
        p.numel() for n, p in create_model(f"hf:{tiny_gpt2_dir}", {}).model.named_parameters() if n.startswith("transformer.h.1.")
    )
    assert (tmp_path / "a" / "summary.csv").read_text() == (tmp_path / "b" / "summary.csv").read_text()
    assert (tmp_path / "a" / "spectra.png").stat().st_size > 0


def test_command_on_assign_add_checkpoints_gives_a_trajectory(tmp_path):
    _run(
        "--model", "assign-add:released/ck_1", "--model", "assign-add:released/ck_501", "--task", "assign_add",
        "--n", 64, "--grad-n", 16, "--bootstrap", 40, "--layers", "-1", "--params", "blocks.1.mlp.*", "--output", tmp_path,
    )  # fmt: skip
    rows = _summary(tmp_path)
    assert [(r["step"], r["kind"], r["layer"]) for r in rows] == [
        ("1", "activation", "1"), ("1", "gradient", "params"), ("501", "activation", "1"), ("501", "gradient", "params"),
    ]  # fmt: skip
    assert rows[0]["samples"] == str(64 * 16) and rows[1]["dimension"] == str(2 * 128 * 512)
    assert float(rows[0]["tail_ci95_low"]) <= float(rows[0]["tail_exponent"]) <= float(rows[0]["tail_ci95_high"])
    document = json.loads((tmp_path / "spectra.json").read_text())
    assert document["models"][1]["gradient_params"] == ["blocks.1.mlp.W_in", "blocks.1.mlp.W_out"]
    assert (tmp_path / "trajectory.png").is_file()


def test_last_positions_give_one_vector_per_sample(tmp_path):
    _run("--model", "assign-add:released/ck_1", "--task", "assign_add", "--n", 40, "--grad-n", 0, "--layers", 0, "--positions", "last",
         "--bootstrap", 20, "--blocks", 8, "--output", tmp_path)  # fmt: skip
    [row] = _summary(tmp_path)
    assert (row["kind"], row["samples"]) == ("activation", "40")
    assert json.loads((tmp_path / "spectra.json").read_text())["config"]["positions"] == "last"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--layers", "2"), "layer 2 does not exist; the model has layers 0-1"),
        (("--params", "nothing.*"), "--params 'nothing.*' matches no trainable parameter"),
        (("--n", "1"), "--n 1: a covariance needs at least 2 samples"),
        (("--fit-range", "9-64"), "--fit-range '9-64': write LO:HI"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, args, message):
    argv = ["analyze", "spectra", "--model", "assign-add:released/ck_1", "--task", "assign_add", "--n", "8", "--grad-n", "4"]
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--blocks", "4", *args, "--output", str(tmp_path)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and message in err and len(err.strip().splitlines()) == 1, err
