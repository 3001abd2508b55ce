"""`harness steer ...` commands on a tiny Llama."""

from __future__ import annotations

import csv

import pytest
from click.testing import CliRunner

from harness.adapters.steering.bank import load_bank
from harness.adapters.steering.caa import load_vector
from harness.adapters.steering.cli import steer_group


def invoke(*args):
    result = CliRunner().invoke(steer_group, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_the_cli_reaches_the_steer_group_lazily():
    from harness.cli import cli

    assert set(steer_group.commands) == {"bank", "vector", "layers", "compare"}
    assert cli.get_command(None, "steer") is steer_group


def test_bank_and_vector_build_write_loadable_files(tmp_path, tiny_llama_dir):
    bank_path, vector_path = tmp_path / "b.safetensors", tmp_path / "v.safetensors"
    out = invoke("bank", "build", "-m", f"hf:{tiny_llama_dir}", "--guidance", "You are curious.", "--layers", "1", "-o", bank_path)
    assert "1 layers" in out
    assert load_bank(bank_path).layers == (1,) and load_bank(bank_path).guidance == "You are curious."
    invoke("vector", "build", "-m", f"hf:{tiny_llama_dir}", "-T", "trait=openness", "--layer", "1", "--n", "4", "-o", vector_path)
    vector = load_vector(vector_path)
    assert vector.layer == 1 and vector.meta["trait"] == "openness" and vector.meta["n_pairs"] == 4


def test_layers_ranks_every_layer(tmp_path, tiny_llama_dir):
    out = invoke("layers", "-m", f"hf:{tiny_llama_dir}", "--guidance", "You are curious.", "--n", "2", "-o", tmp_path)
    rows = list(csv.DictReader(open(tmp_path / "ranking.csv")))
    assert sorted(int(r["layer"]) for r in rows) == [0, 1]
    masses = [float(r["bank_mass"]) for r in rows]
    assert masses == sorted(masses, reverse=True) and all(0 < m < 1 for m in masses)
    assert "bank_mass" in out


def test_compare_writes_table_plot_and_leaderboard_runs(tmp_path, tiny_llama_dir):
    from harness.leaderboards import build_site, read_entries

    out_dir = tmp_path / "cmp"
    invoke(
        "compare",
        "-m",
        f"hf:{tiny_llama_dir}",
        "-M",
        "dtype=float32",
        "-t",
        "persona",
        "-T",
        "trait=openness",
        "-T",
        "n=2",
        "-T",
        "n_drift=1",
        "-T",
        "n_neutral=1",
        "-T",
        "neutral_tokens=3",
        "--methods",
        "none,prompt,mi",
        "--sweep",
        "mi.layers=all;0",
        "-o",
        out_dir,
    )
    rows = list(csv.DictReader(open(out_dir / "compare.csv")))
    assert [r["label"] for r in rows] == ["none", "prompt", "mi_layersall_strength0", "mi_layers0_strength0"]
    by_label = {r["label"]: r for r in rows}
    assert float(by_label["none"]["control"]) == 0.0
    # MI at all layers is content-matched prompting: same control, same storage
    assert abs(float(by_label["prompt"]["control"]) - float(by_label["mi_layersall_strength0"]["control"])) < 1e-4
    assert by_label["mi_layersall_strength0"]["kv_bytes_added_per_sequence"] == by_label["prompt"]["kv_bytes_added_per_sequence"]
    assert 2 * int(by_label["mi_layers0_strength0"]["kv_bytes_added_per_sequence"]) == int(
        by_label["prompt"]["kv_bytes_prompting_equivalent"]
    )
    assert (out_dir / "compare.png").stat().st_size > 1000 and "| run |" in (out_dir / "compare.md").read_text()
    entries = read_entries(sorted((out_dir / "runs").iterdir()))
    steering = {e.steering.split(" ")[0] for e in entries}
    assert steering == {"none", "prompt", "mi"} and len(entries) == 4 and len({e.label for e in entries}) == 4
    build_site(sorted((out_dir / "runs").iterdir()), tmp_path / "site")
    assert (tmp_path / "site" / "plane-persona.png").stat().st_size > 5000  # the control-drift plane of the steering runs


def test_steering_material_comes_from_the_task_through_the_registry(tiny_llama_dir):
    from harness.api import HarnessError
    from harness.registry import create_task

    target = create_task("persona", {"trait": "openness", "direction": "away"}).steering_target(3)
    assert target.guidance and target.control_metric == "control" and len(target.contrastive_pairs) == 3
    assert create_task("guidance_shift", {}).steering_target(3).guidance is None  # schedules: no single guidance
    with pytest.raises(HarnessError, match="offers no steering material"):
        CliRunner().invoke(
            steer_group,
            ["vector", "build", "-m", f"hf:{tiny_llama_dir}", "-t", "smoke-gen", "--layer", "0", "-o", "v.safetensors"],
            catch_exceptions=False,
        )
