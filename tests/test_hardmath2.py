"""HARDMath2: packaged dev set, authors' one-point numeric comparison, parse failures counted as wrong."""

from __future__ import annotations

import pytest

from harness.api import Generation
from harness.record import SampleRecord
from harness.registry import create_task
from harness.tasks.hardmath.hardmath2 import grade_hardmath2, load_hardmath2, parameter_point


@pytest.fixture(scope="module")
def problems():
    return {p.id: p for p in load_hardmath2()}


def test_dev_set_is_packaged(problems):
    assert len(problems) == 215
    assert problems["integrals-10"].parameters == ("\\epsilon",)
    assert parameter_point(("x", "\\epsilon")) == parameter_point(("x", "\\epsilon"))
    assert 1 <= parameter_point(("x",))["x"] <= 2


def test_reference_passes_and_changed_answers_fail(problems):
    p = problems["integrals-10"]  # I(ε) = (2^{7/13} - 1)^{1/11} / ε^{136/77}
    assert grade_hardmath2(p.solution, p.solution, p.parameters)["status"] == "correct"
    same = r"\boxed{\left(2^{7/13}-1\right)^{1/11} \epsilon^{-136/77}}"
    assert grade_hardmath2(p.solution, same, p.parameters)["status"] == "correct"
    assert grade_hardmath2(p.solution, r"\boxed{1.1 \left(2^{7/13}-1\right)^{1/11} \epsilon^{-136/77}}", p.parameters)["status"] == "wrong"
    assert grade_hardmath2(p.solution, r"\boxed{\frac{1}{, \epsilon}}", p.parameters)["status"] == "parse_failure"
    assert grade_hardmath2(p.solution, r"\boxed{y \epsilon}", p.parameters)["status"] == "parse_failure"  # unknown symbol


def test_task_counts_parse_failures_as_wrong(problems):
    task = create_task("hardmath2", {"type": "integrals", "workers": "1"})
    samples = [s for s in task.samples() if s.id in ("integrals-10", "integrals-0")]
    outputs = [[Generation(problems[s.id].solution)] for s in samples[:1]] + [[Generation("I cannot box this")]]
    scores = task.score_batch(samples, outputs)
    assert [sc.value for sc in scores] == [1.0, 0.0] and scores[1].fields["status"] == "parse_failure"
    records = [SampleRecord.of(task.name, s, [], sc, None) for s, sc in zip(samples, scores)]
    metrics = task.aggregate(records)
    assert metrics["accuracy"].value == 0.5 and metrics["accuracy_of_parsed"].value == 1.0
    assert metrics["parse_failures"].value == 1
    task.close()
