"""Assign-and-Add data: the partition, the training stream, the pools, the text
form and the task's scoring. Sequences are checked by an independent decoder
that reads them the way a person would (bind each variable, then add)."""

from __future__ import annotations

import random
from typing import get_args

import numpy as np
import pytest

from harness.api import Generation, HarnessError
from harness.record import SampleRecord
from harness.registry import build_args
from harness.tasks.assign_add.generator import (
    EXACT_POOLS,
    FIRST_VAR,
    MOD,
    PAD,
    POOL_NAMES,
    POOLS,
    TrainingStream,
    draw_exact_pool,
    draw_pool,
    make_partition,
    pool_rng,
    training_rows,
)
from harness.tasks.assign_add.render import parse_answer, render_text, tokens_from_text
from harness.tasks.assign_add.task import AssignAddTask, PoolName

A, B, K, L = 0, 1, 10, 11


def decode(tokens) -> dict:
    """Read one sequence: assignments, operands (as ('var', i) or ('num', n)) and the answer."""
    tokens = [int(t) for t in tokens]
    assert len(tokens) == 16 and tokens[12] == MOD and tokens[15] == MOD + 1
    prefix = tokens[:12]
    bindings, i = {}, 0
    while i < 12:
        if prefix[i] == PAD:
            i += 1
            continue
        var, value = prefix[i], prefix[i + 1]
        assert var >= FIRST_VAR and 0 <= value < MOD, f"not a VAR VALUE pair at {i}: {prefix}"
        assert var - FIRST_VAR not in bindings, "variable assigned twice"
        bindings[var - FIRST_VAR] = value
        i += 2
    operands = []
    for t in tokens[13:15]:
        operands.append(("var", t - FIRST_VAR) if t >= FIRST_VAR else ("num", t))
    values = [bindings[x] if kind == "var" else x for kind, x in operands]
    return {"bindings": bindings, "operands": operands, "values": values, "answer": sum(values) % MOD, "pads": prefix.count(PAD)}


def test_partition_is_the_papers_draw():
    p = make_partition(0.7, 42)
    pairs = [(a, b) for a in range(MOD) for b in range(MOD)]
    expected = set(random.Random(42).sample(pairs, 2436))
    assert {tuple(x) for x in p.train_pairs} == expected
    assert len(p.heldout_pairs) == 1045
    assert not expected & {tuple(x) for x in p.heldout_pairs}
    assert make_partition(0.5, 1).train_mask.sum() == int(0.5 * MOD * MOD)


@pytest.mark.parametrize("frac", [0.0, 1.0, 0.0001])
def test_partition_rejects_empty_sides(frac):
    with pytest.raises(HarnessError, match="pairs_frac"):
        make_partition(frac, 42)


def test_training_rows_match_the_paper_counts():
    p = make_partition()
    rows = training_rows(p)
    assert len(rows) == 102_312
    assert np.bincount(rows[:, 1]).tolist() == [29232, 24360, 24360, 24360]
    assert p.train_mask[rows[:, 2], rows[:, 3]].all()
    thinned = training_rows(p, two_var_frequency=0.25)
    n3 = (thinned[:, 1] == 3).sum()
    assert 0.2 * 24360 < n3 < 0.3 * 24360 and (thinned[:, 1] != 3).sum() == 102_312 - 24360


def test_training_stream_never_shows_heldout_pairs_or_barred_slots():
    p = make_partition()
    stream = TrainingStream(p, seed=3)
    types = np.zeros(4)
    for _ in range(8):
        batch = stream.next_batch(512)
        for tokens, label, t in zip(batch.tokens, batch.labels, batch.seq_type):
            d = decode(tokens)
            assert d["answer"] == label
            assert p.train_mask[d["values"][0], d["values"][1]], "a held-out pair reached training"
            (k1, x1), (k2, x2) = d["operands"]
            assert not (k1 == "var" and x1 in (K, L)), "k/l on the LHS in training"
            assert not (k2 == "var" and x2 in (A, B)), "a/b on the RHS in training"
            n_assign = len(d["bindings"])
            assert 1 <= n_assign <= 6 and d["pads"] == 12 - 2 * n_assign
            assert (k1 == "var") + (k2 == "var") == {0: 0, 1: 1, 2: 1, 3: 2}[int(t)]
            types[t] += 1
    share = types / types.sum()
    assert np.allclose(share, [12 / 42, 10 / 42, 10 / 42, 10 / 42], atol=0.03)


def test_stream_is_seeded_and_resumable():
    p = make_partition()
    a, b = TrainingStream(p, seed=7), TrainingStream(p, seed=7)
    a.next_batch(16)
    state = a.get_state()
    first = a.next_batch(16).tokens
    b.set_state(state)
    assert np.array_equal(first, b.next_batch(16).tokens)
    assert not np.array_equal(first, TrainingStream(p, seed=8).next_batch(16).tokens)


@pytest.mark.parametrize("spec", POOLS, ids=lambda s: s.name)
def test_each_pool_holds_what_its_name_says(spec):
    p = make_partition()
    batch = draw_pool(spec, p, 400, pool_rng(0, spec.name))
    for tokens, label in zip(batch.tokens, batch.labels):
        d = decode(tokens)
        assert d["answer"] == label
        assert p.train_mask[d["values"][0], d["values"][1]] != spec.heldout_pair
        kinds = [k for k, _ in d["operands"]]
        assert kinds.count("var") == spec.n_vars
        (k1, x1), (k2, x2) = d["operands"]
        bad = (k1 == "var" and x1 in (K, L)) + (k2 == "var" and x2 in (A, B))
        expected_bad = {"train": 0, "restricted": 1, "one_bad": 1, "two_bad": 2}[spec.var_slots]
        assert bad == expected_bad
    assert len(batch) == 400


def test_exact_pools_are_exhaustive():
    p = make_partition()
    zero = draw_exact_pool("exact_0var_heldout_pair", p, np.random.default_rng(0))
    assert len(zero) == 1045 and len({(a, b) for a, b in zip(zero.n1, zero.n2)}) == 1045
    union = draw_exact_pool("exact_2var_union", p, np.random.default_rng(0))
    assert len(union) == 193_580
    rows = set(zip(union.n1.tolist(), union.n2.tolist(), union.lhs_var.tolist(), union.rhs_var.tolist()))
    assert len(rows) == 193_580  # no duplicates
    for i in np.random.default_rng(1).integers(0, len(union), 300):
        assert decode(union.tokens[i])["answer"] == union.labels[i]


def test_render_and_read_back():
    p = make_partition()
    batch = draw_pool(POOLS[7], p, 50, pool_rng(0, "x"))
    for tokens in batch.tokens:
        text = render_text(tokens.tolist())
        back = tokens_from_text(text)
        assert decode(back)["values"] == decode(tokens)["values"]
        assert render_text(back) == text
    text = render_text(
        [PAD] * 4 + [FIRST_VAR + 11, 20, FIRST_VAR + 4, 21, PAD, FIRST_VAR, 31, PAD, MOD, FIRST_VAR + 11, FIRST_VAR, MOD + 1]
    )
    assert text.splitlines()[1:] == ["l=20, e=21, a=31", "l+a="]
    for bad in ["hello", "a=1\n", "a=1, a=2\nb+a=", "a=99\na+1=", "a=1\na+77="]:
        with pytest.raises(ValueError):
            tokens_from_text(bad)


@pytest.mark.parametrize(
    "reply,expected",
    [
        ("51", 51),
        (" 51\n", 51),
        ("The answer is 51.", 51),
        ("-3", -3),
        ("", None),
        ("fifty-one", None),
        (None, None),
        ("7" * 5000, None),
        ("9" * 18, 999_999_999_999_999_999),
    ],
)
def test_parse_answer_takes_the_first_integer(reply, expected):
    assert parse_answer(reply) == expected


def _task(**kw) -> AssignAddTask:
    return AssignAddTask(build_args(AssignAddTask.Args, {k: str(v) for k, v in kw.items()}, "task arg", "assign_add"))


def test_pool_arg_lists_every_pool():
    assert set(get_args(PoolName)) == {"all", *POOL_NAMES} and len(POOL_NAMES) == 9


def test_task_samples_are_deterministic_and_pool_independent():
    all_pools = list(_task(n=20).samples())
    assert len(all_pools) == 180 and len({s.id for s in all_pools}) == 180
    one = list(_task(n=20, pool="1var_restricted").samples())
    assert [s.input for s in one] == [s.input for s in all_pools if s.metadata["pool"] == "1var_restricted"]
    assert [s.input for s in _task(n=20, seed=1).samples()] != [s.input for s in all_pools]
    assert _task(n=20).data_fingerprint() == _task(n=20).data_fingerprint() != _task(n=20, seed=1).data_fingerprint()
    exhaustive = _task(n=0, exhaustive="true")
    assert exhaustive.pools() == list(EXACT_POOLS)


@pytest.mark.parametrize(
    "raw,match",
    [
        ({"n": "-1"}, "n=-1"),
        ({"n": "0"}, "n=0"),
        ({"pairs_frac": "1.0"}, "pairs_frac"),
        ({"pool": "3var"}, "not allowed"),
    ],
)
def test_task_args_are_validated(raw, match):
    with pytest.raises(HarnessError, match=match):
        build_args(AssignAddTask.Args, raw, "task arg", "assign_add")


def test_scoring_counts_parse_failures_and_reports_every_pool():
    task = _task(n=4)
    samples = list(task.samples())
    replies = []
    for i, s in enumerate(samples):
        replies.append({0: str(s.target), 1: f"It is {(s.target + 1) % MOD}", 2: "no idea", 3: f" {s.target}\n"}[i % 4])
    scores = task.score_batch(samples, [[Generation(text=r)] for r in replies])
    assert [sc.value for sc in scores[:4]] == [1.0, 0.0, 0.0, 1.0]
    assert "parse failure" in scores[2].explanation and scores[2].fields["parsed"] is False
    assert "expected" in scores[1].explanation and scores[1].answer == (samples[1].target + 1) % MOD
    records = [SampleRecord.of(task.name, s, [], sc, None) for s, sc in zip(samples, scores)]
    metrics = task.aggregate(records)
    assert set(metrics) == {f"acc_{p}" for p in POOL_NAMES} | {"accuracy", "parse_failures"}
    assert all(m.value == 0.5 and m.ci95[0] < 0.5 < m.ci95[1] for k, m in metrics.items() if k.startswith("acc_"))
    assert metrics["parse_failures"].value == 9
    partial = task.aggregate([r for r in records if r.fields["pool"] == "0var_train"])
    assert set(partial) == {"accuracy", "acc_0var_train", "parse_failures"}
    request = task.requests(samples[0])[0]
    assert request.metadata["tokens"] == samples[0].metadata["tokens"]
    assert request.metadata["partition"] == {"pairs_frac": 0.7, "partition_seed": 42}
