"""The paper's model: loading (released and hostile files), the fast forward
against the plain one, the `assign-add:` adapter, the released checkpoints'
published accuracies, the progress measures, and a run through the runner."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from harness.api import GenerateRequest, HarnessError, RequestContext
from harness.registry import build_args
from harness.tasks.assign_add.adapter import AssignAddAdapter
from harness.tasks.assign_add.analyze import analyze_checkpoints
from harness.tasks.assign_add.checkpoints import RELEASED_DIR, resolve
from harness.tasks.assign_add.generator import POOLS, draw_pool, make_partition, pool_rng
from harness.tasks.assign_add.model import AssignAddTransformer, ModelShape, load_checkpoint_file, model_from_state_dict
from harness.tasks.assign_add.render import render_text

# Published accuracies (2,000 sequences per pool) of the released checkpoints, in POOLS order.
# ck_6001 / 1var_restricted sits 0.025 above what both our generator and a port of
# the paper's own pool builder measure on large samples (0.645-0.651), so the
# reproduction uses 6,000 sequences per pool to keep our own noise well inside ±0.03.
PUBLISHED = {
    "ck_501": [0.999, 0.666, 0.359, 0.164, 0.293, 0.299, 0.199, 0.287, 0.266],
    "ck_6001": [1.00, 0.990, 0.999, 0.991, 0.673, 0.966, 0.938, 0.552, 0.387],
    "final": [1.00, 0.989, 1.00, 0.992, 0.998, 0.996, 0.982, 0.975, 0.998],
}


@pytest.fixture(scope="module")
def released():
    return {name: load_checkpoint_file(RELEASED_DIR / f"{name}.pth").eval() for name in ("ck_1", *PUBLISHED)}


def test_released_checkpoints_reproduce_the_published_accuracies(released):
    p = make_partition()
    for i, spec in enumerate(POOLS):
        batch = draw_pool(spec, p, 6000, pool_rng(0, spec.name))
        tokens = torch.from_numpy(batch.tokens)
        for name, expected in PUBLISHED.items():
            got = float((released[name].predict(tokens).numpy() == batch.labels).mean())
            assert abs(got - expected[i]) <= 0.03, f"{name} {spec.name}: {got:.3f} vs published {expected[i]:.3f}"


def test_state_dict_is_transformerlens_compatible(released):
    sd = torch.load(RELEASED_DIR / "final.pth", map_location="cpu", weights_only=True)
    ours = AssignAddTransformer().state_dict()
    assert set(ours) == set(sd) and all(ours[k].shape == sd[k].shape for k in sd)
    assert sum(p.numel() for p in AssignAddTransformer().parameters()) == 281_216
    assert all(torch.equal(released["final"].state_dict()[k], sd[k]) for k in sd)


def test_fast_forward_equals_the_plain_forward(released):
    tokens = torch.from_numpy(draw_pool(POOLS[8], make_partition(), 128, pool_rng(0, "f")).tokens)
    general = AssignAddTransformer(ModelShape(d_model=32, n_heads=2, d_head=16, d_mlp=64, n_layers=3), mlp0_removed=False)
    general.init_weights(torch.Generator().manual_seed(0))
    with torch.no_grad():
        for buf in (b for n, b in general.named_buffers() if ".b_" in n):
            buf.normal_(0, 0.1)  # biases on: the fast path must carry them exactly
    fast_path = AssignAddTransformer(ModelShape(d_model=32, n_heads=2, d_head=16, d_mlp=64))
    fast_path.load_state_dict({k: v for k, v in general.state_dict().items() if not k.startswith("blocks.2")}, strict=False)
    with torch.no_grad():
        for model in (released["final"], released["ck_501"], general, fast_path):
            full, patterns = model.forward_full(tokens)
            assert torch.allclose(model.forward_last(tokens), full[:, -1], atol=1e-4, rtol=1e-4)
            assert torch.allclose(patterns[0].sum(-1), torch.ones(1))


def _save(tmp_path: Path, obj, name="x.pth") -> Path:
    path = tmp_path / name
    torch.save(obj, path)
    return path


class _Payload:
    def __reduce__(self):
        return (print, ("code ran",))


def test_hostile_or_foreign_checkpoints_are_refused(tmp_path):
    sd = torch.load(RELEASED_DIR / "final.pth", map_location="cpu", weights_only=True)
    with pytest.raises(HarnessError, match="weights-only"):
        load_checkpoint_file(_save(tmp_path, {"x": _Payload()}, "evil.pth"))
    (tmp_path / "junk.pth").write_bytes(pickle.dumps([1, 2]) + b"garbage")
    with pytest.raises(HarnessError):
        load_checkpoint_file(tmp_path / "junk.pth")
    with pytest.raises(HarnessError, match="LayerNorm"):
        model_from_state_dict({**sd, "blocks.0.ln1.w": torch.ones(128)}, "ln.pth")
    with pytest.raises(HarnessError, match="shape"):
        model_from_state_dict({**sd, "blocks.1.attn.W_O": torch.zeros(1, 128, 64)}, "bad.pth")
    with pytest.raises(HarnessError, match="vocabulary"):
        model_from_state_dict({**sd, "unembed.W_U": torch.zeros(128, 113), "unembed.b_U": torch.zeros(113)}, "p113.pth")
    with pytest.raises(HarnessError, match="missing"):
        model_from_state_dict({k: v for k, v in sd.items() if k != "blocks.1.mlp.W_in"}, "nomlp.pth")
    with pytest.raises(HarnessError, match="state dict"):
        model_from_state_dict([1, 2], "list.pth")


def test_checkpoint_targets_resolve(tmp_path):
    ref = resolve("released/ck_6001")
    assert ref.step == 6001 and ref.partition == {"pairs_frac": 0.7, "partition_seed": 42}
    for bad in ("released/ck_2", str(tmp_path / "missing")):
        with pytest.raises(HarnessError, match="released/"):
            resolve(bad)
    with pytest.raises(HarnessError, match="no checkpoints"):
        resolve(str(tmp_path))
    # The paper's own run layout: checkpoints/checkpoint_step_N.pth and TRAIN_PAIRS_FRAC in config.json.
    (tmp_path / "checkpoints").mkdir()
    for step in (1, 501):
        (tmp_path / "checkpoints" / f"checkpoint_step_{step}.pth").write_bytes((RELEASED_DIR / f"ck_{step}.pth").read_bytes())
    (tmp_path / "config.json").write_text(json.dumps({"TRAIN_PAIRS_FRAC": 0.5, "SEED": 42}))
    latest = resolve(str(tmp_path))
    assert latest.step == 501 and latest.partition == {"pairs_frac": 0.5, "partition_seed": 42}


def _requests(batch, partition=None):
    return [
        GenerateRequest(
            prompt=render_text(t.tolist()),
            metadata={"tokens": t.tolist(), "partition": partition or {"pairs_frac": 0.7, "partition_seed": 42}},
        )
        for t in batch.tokens
    ]


def test_adapter_answers_from_tokens_or_text_and_refuses_bad_requests():
    model = AssignAddAdapter("released/final", build_args(AssignAddAdapter.Args, {"batch_size": "7"}, "model arg", "assign-add"))
    batch = draw_pool(POOLS[3], make_partition(), 200, pool_rng(0, "adapter"))
    ctx = [RequestContext("assign_add", str(i), 0) for i in range(200)]
    from_tokens = model.generate(_requests(batch), ctx)
    assert np.mean([int(g.text) == y for g, y in zip(from_tokens, batch.labels)]) > 0.97
    text_only = [GenerateRequest(prompt=r.prompt) for r in _requests(batch)]
    from_text = model.generate(text_only, ctx)
    assert np.mean([int(g.text) == y for g, y in zip(from_text, batch.labels)]) > 0.95
    bad = [
        GenerateRequest(prompt="x", metadata={"tokens": [1] * 15}),
        GenerateRequest(prompt="x", metadata={"tokens": ["1"] * 16}),
        GenerateRequest(prompt="What is 2+2?"),
        _requests(batch, {"pairs_frac": 0.5, "partition_seed": 42})[0],
        _requests(batch)[0],
    ]
    out = model.generate(bad, ctx[:5])
    assert [g.error is not None for g in out] == [True, True, True, True, False]
    assert "pairs_frac=0.7" in out[3].error
    assert model.describe()["step"] == 40000 and model.fingerprint() != AssignAddAdapter("released/ck_6001").fingerprint()
    if not torch.cuda.is_available():
        with pytest.raises(HarnessError, match="device=cpu"):
            AssignAddAdapter("released/final", build_args(AssignAddAdapter.Args, {"device": "cuda"}, "model arg", "m"))
    with pytest.raises(HarnessError, match="batch_size"):
        build_args(AssignAddAdapter.Args, {"batch_size": "0"}, "model arg", "assign-add")


def test_progress_measures_tell_the_papers_story():
    refs = [resolve(f"released/{n}") for n in ("ck_1", "ck_501", "ck_6001", "final")]
    rows = {r.label.split("/")[1]: r for r in analyze_checkpoints(refs, n_per_pool=128)}
    m = {k: {name: metric.value for name, metric in r.metrics.items()} for k, r in rows.items()}
    assert all(v < 0.3 for v in m["ck_1"].values())  # untrained
    # After phase 1 the MLP adds, including held-out pairs, but binding has not formed.
    assert m["ck_501"]["mlp1_adds_train_pairs"] > 0.9 and m["ck_501"]["l1_eq_attends_operands"] < 0.5
    # After phase 2, values attend to their variable and "=" attends to the bound values.
    for name in ("ck_6001", "final"):
        assert m[name]["l0_value_attends_variable"] > 0.95 and m[name]["l1_eq_attends_operands"] > 0.95
        assert m[name]["mlp1_adds_heldout_pairs"] > 0.95
    assert all(r.metrics["l1_eq_attends_operands"].ci95 is not None for r in rows.values())


def test_eval_through_the_runner(tmp_path):
    from harness.runner import RunConfig, run_eval

    out = tmp_path / "run"
    result = run_eval(
        RunConfig(model="assign-add:released/ck_6001", tasks=["assign_add"], task_args={"n": "100"}, output=out, use_cache=False)
    )
    metrics = json.loads((out / "results.json").read_text())["tasks"]["assign_add"]["metrics"]
    assert metrics["acc_1var_train"]["value"] > 0.95 and metrics["acc_2var_2restricted"]["value"] < 0.6
    assert all(len(m["ci95"]) == 2 for m in metrics.values())
    assert result.n_errors == 0
    lines = (out / "samples.jsonl").read_text().splitlines()
    assert len(lines) == 900 and {"pool", "parsed"} <= set(json.loads(lines[0])["fields"]) and "explanation" in json.loads(lines[0])
    # Replayed outputs, rewritten as a chatty model would write them, or unreadable.
    replay = tmp_path / "replay.jsonl"
    with replay.open("w") as f:
        for i, line in enumerate(lines):
            rec = json.loads(line)
            output = [f"The sum is {rec['output']}.", "I am not sure.", rec["output"]][i % 3]
            f.write(json.dumps({"task": "assign_add", "id": rec["id"], "output": output}) + "\n")
    replayed = run_eval(
        RunConfig(model=f"replay:{replay}", tasks=["assign_add"], task_args={"n": "100"}, output=tmp_path / "replayed", use_cache=False)
    )
    replayed_metrics = replayed.results["tasks"]["assign_add"]["metrics"]
    assert replayed_metrics["parse_failures"]["value"] == 300
    records = [json.loads(x) for x in (tmp_path / "replayed" / "samples.jsonl").read_text().splitlines()]
    original = {json.loads(x)["id"]: json.loads(x)["score"] for x in lines}
    assert all(r["score"] == (0.0 if i % 3 == 1 else original[r["id"]]) for i, r in enumerate(records))
    mismatched = run_eval(
        RunConfig(
            model="assign-add:released/final",
            tasks=["assign_add"],
            task_args={"n": "5", "pairs_frac": "0.5"},
            output=tmp_path / "mm",
            use_cache=False,
        )
    )
    assert mismatched.n_errors == 45  # every request refused: the split is not the checkpoint's


def test_a_language_model_reads_the_text_form(tiny_gpt2_dir, tmp_path):
    """An hf: model gets the rendered text; replies without an integer are
    parse failures, counted in `parse_failures` and scored wrong."""
    from harness.runner import RunConfig, run_eval

    out = tmp_path / "lm"
    result = run_eval(
        RunConfig(
            model=f"hf:{tiny_gpt2_dir}",
            tasks=["assign_add"],
            task_args={"n": "2"},
            model_args={"device": "cpu"},
            output=out,
            use_cache=False,
        )
    )
    assert result.n_errors == 0
    records = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(records) == 18 and all(r["output"] is not None for r in records)
    failures = sum(not r["fields"]["parsed"] for r in records)
    metrics = result.results["tasks"]["assign_add"]["metrics"]
    assert metrics["parse_failures"]["value"] == failures
    assert all(r["score"] == 0.0 for r in records if not r["fields"]["parsed"])
