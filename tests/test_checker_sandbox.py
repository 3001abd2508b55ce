"""The sandboxed worker pool and hostile model output (harness.checker.sandbox)."""

from __future__ import annotations

import os
import time

import pytest

from harness.checker import CheckerPool, verify


def sleep_for(seconds: float) -> str:
    time.sleep(seconds)
    return "woke"


def allocate(n_bytes: int) -> int:
    return len(bytearray(n_bytes))


def crash() -> None:
    os._exit(3)


def square(x: int) -> int:
    return x * x


@pytest.fixture(scope="module")
def pool():
    with CheckerPool(workers=2, memory_mb=512) as p:
        yield p


def test_map_keeps_input_order(pool):
    outcomes = pool.map(square, [(i,) for i in range(10)], timeout_s=5)
    assert [o.value for o in outcomes] == [i * i for i in range(10)]
    assert {o.status for o in outcomes} == {"ok"}


def test_timeout_kills_and_replaces_the_worker(pool):
    start = time.monotonic()
    slow, fast = pool.map(sleep_for, [(30,), (0,)], timeout_s=1.0)
    assert time.monotonic() - start < 5
    assert slow.status == "timeout" and slow.value is None
    assert fast.status == "ok" and fast.value == "woke"
    assert pool.run(square, 7).value == 49  # the pool still works


def test_memory_cap_is_reported_as_memory(pool):
    outcome = pool.run(allocate, 4 * 1024**3, timeout_s=10)
    assert outcome.status == "memory"
    assert pool.run(allocate, 1024).value == 1024


def test_a_crashing_worker_is_an_error_not_a_hang(pool):
    outcome = pool.run(crash, timeout_s=5)
    assert outcome.status == "error" and "exit code 3" in outcome.error
    assert pool.run(square, 3).value == 9


MARKER = "/tmp/harness_checker_pwned"
HOSTILE = [
    r"10^{10^{10^{10}}}",
    r"2^{2^{2^{2^{2^{2^{2^{2}}}}}}}",
    r"(10^{10^{10}})! - 1",
    r"\frac{1}{" * 1000 + "x" + "}" * 1000,
    "(" * 1000 + "x" + ")" * 1000,
    "x+" * 50_000 + "x",
    f"__import__('os').system('touch {MARKER}')",
    rf"\text{{__import__('os').system('touch {MARKER}')}}",
    f"exec(\"open('{MARKER}', 'w')\")",
    "lambda: 0",
    "\u202e\u0000\ud7ff 𝔸𝔹 ∑∫ \\alpha\u0301",
    r"\sum_{n=1}^{10^{12}} n^{n}",
    r"\int_0^{10^{100}} e^{x^{x}} dx",
    r"\begin{pmatrix}" + "&".join(["1"] * 300) + r"\end{pmatrix}",
]


def test_hostile_inputs_return_within_the_timeout_and_execute_nothing(pool):
    if os.path.exists(MARKER):
        os.remove(MARKER)
    timeout = 2.0
    jobs = [(gold, bad) for bad in HOSTILE for gold in ("1", r"\frac{\sqrt{\pi}}{2}")]
    jobs += [(bad, "1") for bad in HOSTILE]
    start = time.monotonic()
    outcomes = pool.map(verify, jobs, timeout_s=timeout)
    elapsed = time.monotonic() - start
    # every check ends by its deadline; two workers share the jobs
    assert elapsed < timeout * len(jobs) / 2 + 10
    for (gold, bad), o in zip(jobs, outcomes):
        assert o.status in ("ok", "timeout", "memory"), (bad[:40], o)
        if o.status == "ok":
            assert o.value.equal is not True, (gold[:40], bad[:40], o.value)
    assert not os.path.exists(MARKER)
