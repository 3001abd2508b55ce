"""HARDMath: data, ground truth, answer location, numeric grading, task, generators."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from harness.api import Generation, HarnessError, Sample
from harness.record import SampleRecord
from harness.registry import create_model, create_task
from harness.roles import RoleModel
from harness.tasks.hardmath.answers import AnswerError, regime_answers
from harness.tasks.hardmath.cli import hardmath_command
from harness.tasks.hardmath.generate import generate
from harness.tasks.hardmath.loader import dedupe, load_subset
from harness.tasks.hardmath.reference import reference_output
from harness.tasks.hardmath.scoring import grade_output
from harness.tasks.hardmath.specs import Roots, Traditional, parse_spec
from harness.tasks.hardmath.truth import compute_truth, nondim_numeric_value, traditional_integral


@pytest.fixture(scope="module")
def mini():
    return {p.id: p for p in load_subset("mini")}


def _truth(p):
    return compute_truth(p.kind, parse_spec(p), p.stored_large_eval_point)


def test_mini_sizes_dedupe_and_every_question_parses(mini):
    problems = list(mini.values())
    assert len(problems) == 366 and len(dedupe(problems)) == 308
    assert all(parse_spec(p) is not None for p in problems)
    assert parse_spec(mini["140"]) == Roots(8, 7, -1, -1)


def test_nondim_numeric_truth_matches_keys(mini):
    for p in mini.values():
        if p.kind == "nondim_numeric":
            assert round(nondim_numeric_value(parse_spec(p)), 2) == pytest.approx(float(p.answer_val), abs=0.011)


def test_traditional_integral_quadrature_matches_closed_form():
    # ∫_0^∞ dx/(ε + x^2) = π/(2√ε); on [0, 1e6] the tail is negligible.
    spec = Traditional(1e6, ((1.0, 2.0),))
    assert traditional_integral(spec, 1e-4) == pytest.approx(3.141592653589793 / 2 / 1e-2, rel=1e-6)


@pytest.mark.parametrize("pid", ["0", "70", "140", "260", "306", "197"])
def test_reference_solution_passes_every_graded_regime(mini, pid):
    p = mini[pid]
    result = grade_output(p.kind, _truth(p), reference_output(p))
    assert result.error is None and result.verdicts
    assert all(v.status == "pass" for v in result.verdicts), [v.detail for v in result.verdicts]


def test_traditional_integral_keys_are_checked_per_regime(mini):
    # Paper Box 1 bug: the intermediate "large ε" formula uses the wrong term; the small-ε
    # height-times-width key for x^5 lacks the factor π/(5 sin(π/5)) = 1.069 and is 6.5% low.
    p = mini["320"]  # 1/(ε + 2 x^5 + 6 x^9) on [0, 84]
    truth = _truth(p)
    status = {v.regime: v.status for v in grade_output(p.kind, truth, reference_output(p)).verdicts}
    assert status == {"small": "fail", "large": "fail", "very_large": "pass"}
    exact = r"\boxed{\frac{0.9307}{\epsilon^{0.8}}, \frac{0.8364}{\epsilon^{0.8889}}, \frac{84}{\epsilon}}"
    assert grade_output(p.kind, truth, exact).credit == 1.0


def test_dominant_balance_ode_key_is_detected_and_the_taylor_answer_passes(mini):
    # y''' = y/(5x^4+10x^2-15x-4) + y'^2 + y''/(...) + e^{-x}, y(0) = 1: y'''(0) = -1/4 + 1, so y ~ 1 + x^3/8;
    # the key keeps only e^{-x} (y ~ 1 + x^3/6), 33% off in y - y(0).
    p = mini["200"]
    truth = _truth(p)
    key = grade_output(p.kind, truth, reference_output(p))
    assert [v.status for v in key.verdicts] == ["fail"]  # large x is undetermined: a coefficient is singular first
    assert grade_output(p.kind, truth, r"\boxed{[y = 1 + 0.125 x^{3}, y = 0]}").credit == 1.0


def test_perturbed_answers_fail(mini):
    p = mini["140"]  # roots: one root scaled by 10% fails its regime
    truth = _truth(p)
    small = r"\frac{1}{\epsilon}, e^{\frac{i \pi}{7}}, -1, e^{\frac{3 i \pi}{7}}, e^{\frac{5 i \pi}{7}}, e^{-\frac{i \pi}{7}}, e^{-\frac{3 i \pi}{7}}, e^{-\frac{5 i \pi}{7}}"
    large = r"\epsilon^{-1/8}, -\epsilon^{-1/8}, i \epsilon^{-1/8}, -i \epsilon^{-1/8}, e^{\frac{i\pi}{4}} \epsilon^{-1/8}, e^{\frac{3 i\pi}{4}} \epsilon^{-1/8}, e^{-\frac{i\pi}{4}} \epsilon^{-1/8}, e^{-\frac{3 i\pi}{4}} \epsilon^{-1/8}"
    good = f"Small: $\\boxed{{[{small}]}}$; large: $\\boxed{{[{large}]}}$"
    assert grade_output(p.kind, truth, good).credit == 1.0
    scaled = good.replace(r"\frac{1}{\epsilon}", r"\frac{1.1}{\epsilon}")
    assert grade_output(p.kind, truth, scaled).credit == 0.5
    swapped = f"Small: $\\boxed{{[{large}]}}$; large: $\\boxed{{[{small}]}}$"
    assert grade_output(p.kind, truth, swapped).credit == 0.0
    p = mini["260"]  # Laplace: a 10% coefficient change and a sign flip both fail
    truth = _truth(p)
    assert grade_output(p.kind, truth, r"\boxed{- \frac{0.598151940408207 e^{2.1141 x}}{x}}").credit == 1.0
    assert grade_output(p.kind, truth, r"\boxed{- \frac{0.658 e^{2.1141 x}}{x}}").credit == 0.0
    assert grade_output(p.kind, truth, r"\boxed{\frac{0.598151940408207 e^{2.1141 x}}{x}}").credit == 0.0


def test_equivalent_forms_accepted_for_nondim(mini):
    p = mini["0"]  # ε = a1 (a3/a2)^(7/2) / a3
    truth = _truth(p)
    for answer in (r"\frac{a_1 a_3^{5/2}}{a_2^{7/2}}", r"\epsilon = a_{1} a_{3}^{2.5} a_{2}^{-3.5}"):
        assert grade_output(p.kind, truth, f"$\\boxed{{{answer}}}$").credit == 1.0
    assert grade_output(p.kind, truth, r"\boxed{\frac{a_1 a_3^{5/2}}{a_2^{5/2}}}").credit == 0.0
    p = mini["70"]  # numeric ε = 80√30/27 ≈ 16.23: a closed form counts
    assert grade_output(p.kind, _truth(p), r"\boxed{\frac{80\sqrt{30}}{27}}").credit == 1.0
    assert grade_output(p.kind, _truth(p), r"\boxed{17.9}").credit == 0.0


def test_regime_labels_order_and_failures():
    text = r"for large $\epsilon$: $\boxed{[1, 2]}$ and for small $\epsilon$: $\boxed{[3]}$"
    assert regime_answers(text, "roots", ("small", "large")) == {"large": ["1", "2"], "small": ["3"]}
    assert regime_answers(r"\boxed{[y = 1 + x, y = 2]}", "ode", ("small", "large")) == {"small": "y = 1 + x", "large": "y = 2"}
    with pytest.raises(AnswerError):
        regime_answers("no box here", "ode", ("small", "large"))
    pm = regime_answers(r"\boxed{[\pm \frac{1}{\sqrt{\epsilon}}, \pm 1]}", "roots", ("large",))
    assert pm == {"large": [r"+ \frac{1}{\sqrt{\epsilon}}", r"- \frac{1}{\sqrt{\epsilon}}", "+ 1", "- 1"]}


def test_a_careful_reader_reads_real_spellings_and_decides_non_answers(mini):
    """Spellings of real responses (bench/real_outputs.py): a derivation's last line, thin
    spaces, a series with "...", font sizes and a summation index i are read; an unfilled
    template, an empty box, a sentence, several formulas for one answer and a code name
    are decided wrong ("fail", with the reason), not left as unread parse errors."""
    p = mini["260"]  # Laplace, one regime: -0.598151940408207 e^{2.1141 x} / x
    truth = _truth(p)
    right = r"- \frac{0.598151940408207 e^{2.1141 x}}{x}"
    read = {
        "derivation": r"\boxed{\begin{aligned} I(x) &\approx \int_{0}^{1} e^{x t} dt \\ &= " + right + r"\end{aligned}}",
        "thin space": r"\boxed{-0.598151940408207 \, \frac{e^{2.1141 x}}{x}}",
        "series": r"\boxed{" + right + " + ...}",
        "font size": r"\boxed{\large " + right + "}",
        "summation index": r"\boxed{-\sum_{i=0}^{0} \frac{0.598151940408207 e^{2.1141 x}}{x}}",
    }
    for name, text in read.items():
        assert grade_output(p.kind, truth, text).credit == 1.0, name
    decided = {
        "template": (r"\boxed{{} + {} x^{-1}}", "unfilled template"),
        "empty box": (r"\boxed{boxed{}}", "unfilled template"),
        "sentence": (r"\boxed{\text{No closed-form solution found}}", "words where a formula belongs"),
        "hedge": (r"\boxed{" + right + r", \frac{0.6}{x}}", "2 formulas where the regime asks for one"),
        "code name": (r"\boxed{min\_integrand + x}", "the answer depends on"),
    }
    for name, (text, reason) in decided.items():
        (verdict,) = grade_output(p.kind, truth, text).verdicts
        assert verdict.status == "fail" and reason in verdict.detail, (name, verdict)
    rows = r"\boxed{\begin{aligned}\text{Small roots} &= [1, 2] \\ \text{Large roots} &= [3]\end{aligned}}"
    assert regime_answers(rows, "roots", ("small", "large")) == {"small": ["1", "2"], "large": ["3"]}
    label_rows = r"\boxed{\begin{aligned} &\text{Small roots} \\ &[1, 2] \\ &\text{Large roots} \\ &[3] \end{aligned}}"
    assert regime_answers(label_rows, "roots", ("small", "large")) == {"small": ["1", "2"], "large": ["3"]}
    colon_in_label = r"\boxed{\begin{aligned} \text{{Small x regime}: } y &= 1 + x \\ \text{{Large x regime}: } y &= 2 \end{aligned}}"
    assert regime_answers(colon_in_label, "ode", ("small", "large")) == {"small": "1 + x", "large": "2"}
    boxed_rows = r"\begin{aligned} \text{For small }\epsilon:\quad & \boxed{\left[ 1, 2 \right]} \\ \text{For large }\epsilon:\quad & \boxed{\left[ 3 \right]} \end{aligned}"
    assert regime_answers(rf"\boxed{{{boxed_rows}}}", "roots", ("small", "large")) == {"small": ["1", "2"], "large": ["3"]}
    cases = r"\boxed{\begin{cases} y_\text{small}(x), & x \ll 1 \\ y_\text{large}(x), & x \gg 1 \end{cases}}"
    assert regime_answers(cases, "ode", ("small", "large")) == {"small": r"y_\text{small}(x)", "large": r"y_\text{large}(x)"}


def test_hostile_and_unreadable_answers_are_parse_failures(mini):
    p = mini["306"]
    truth = _truth(p)
    for text in (r"\boxed{\frac{1}{, \epsilon, x}", r"\boxed{a, b, \text{no idea}}", "I give up", r"\boxed{\epsilon^{}, 1, 1}"):
        result = grade_output(p.kind, truth, text)
        assert result.credit == 0.0
        assert result.error or all(v.status in ("parse_error", "fail") for v in result.verdicts)


def test_task_scores_replay_and_audits_keys(tmp_path, mini):
    task = create_task("hardmath", {"type": "integral_traditional", "workers": "1"})
    samples = list(task.samples())
    assert len(samples) == 60 and samples[0].id == "306"
    picked = [s for s in samples if s.id in ("306", "320")]
    outputs = [[Generation(reference_output(mini[s.id]))] for s in picked]
    scores = task.score_batch(picked, outputs)
    by_id = {s.id: sc for s, sc in zip(picked, scores)}
    assert by_id["306"].value == 1.0 and by_id["306"].fields["key_verified"] is True
    assert by_id["320"].value == pytest.approx(1 / 3) and by_id["320"].fields["key_verified"] is False
    bad = task.score_batch([picked[0]], [[Generation("no boxed answer")]])[0]
    assert bad.value == 0.0 and bad.fields["parse_failure"] is True
    records = [SampleRecord.of(task.name, s, [], sc, None) for s, sc in zip(picked, scores)] + [
        SampleRecord.of(task.name, picked[0], [], bad, None)
    ]
    metrics = task.aggregate(records)
    assert metrics["key_disagreements"].value == 1 and metrics["parse_failures"].value == 1
    assert metrics["accuracy"].ci95 is not None
    task.write_artifacts(records, tmp_path)
    audit = [json.loads(line) for line in (tmp_path / "hardmath_key_audit.jsonl").read_text().splitlines()]
    assert [a["id"] for a in audit] == ["320"] and audit[0]["disagreeing_regimes"][0]["values"]
    task.close()


def test_a_runaway_answer_is_a_counted_timeout(mini):
    task = create_task("hardmath", {"type": "integral_traditional", "workers": "1", "timeout_s": "3"})
    sample = next(s for s in task.samples() if s.id == "306")
    task._ensure_truth(["306"])  # ground truth first, so the 3 s limit applies to the answer alone
    score = task.score_batch([sample], [[Generation(r"\boxed{10^{10^{10^{10}}}, 1, 1}")]])[0]
    assert score.value == 0.0 and score.fields["timeout"] is True and "timeout" in score.explanation
    assert task.aggregate([SampleRecord("hardmath", "306", 0.0, None, fields=score.fields)])["timeouts"].value == 1
    task.close()


def test_task_args_are_validated():
    with pytest.raises(HarnessError):
        create_task("hardmath", {"shots": "9"})
    with pytest.raises(HarnessError):
        create_task("hardmath", {"type": "pde"})
    with pytest.raises(HarnessError, match="no such file"):
        list(create_task("hardmath", {"data": "/nonexistent.jsonl"}).samples())


def test_shots_come_from_the_training_pool_not_the_evaluated_problems(mini):
    task = create_task("hardmath", {"shots": "3", "type": "roots", "dedupe": "false"})
    samples: list[Sample] = list(task.samples())
    assert len(samples) == 63
    pool_ids = {p.id for p in load_subset("shots")}
    assert all(set(s.metadata["shots"]) <= pool_ids and len(s.metadata["shots"]) == 3 for s in samples)
    assert not pool_ids & set(mini)
    again = list(create_task("hardmath", {"shots": "3", "type": "roots", "dedupe": "false"}).samples())
    assert [s.metadata["shots"] for s in again] == [s.metadata["shots"] for s in samples]


@pytest.mark.parametrize(
    "kind,n", [("nondim_symbolic", 100), ("nondim_numeric", 100), ("integral_traditional", 100), ("roots", 10), ("integral_laplace", 15)]
)
def test_generated_problems_have_verified_keys(kind, n):
    problems = generate(kind, n, seed=7)
    assert len(problems) == n and len({p["question"] for p in problems}) == n
    assert all(p["key_verified"] for p in problems)


def test_generate_cli_is_deterministic_and_evaluable(tmp_path):
    runner = CliRunner()
    files = []
    for name in ("a.jsonl", "b.jsonl"):
        out = tmp_path / name
        result = runner.invoke(hardmath_command, ["--type", "integral_traditional", "--n", "5", "--seed", "3", "--output", str(out)])
        assert result.exit_code == 0, result.output
        files.append(out.read_bytes())
    assert files[0] == files[1]
    other = tmp_path / "c.jsonl"
    runner.invoke(hardmath_command, ["--type", "integral_traditional", "--n", "5", "--seed", "4", "--output", str(other)])
    assert other.read_bytes() != files[0]
    task = create_task("hardmath", {"data": str(tmp_path / "a.jsonl"), "workers": "1"})
    samples = list(task.samples())
    rows = [json.loads(line) for line in files[0].decode().splitlines()]
    scores = task.score_batch(samples, [[Generation(r["solution"])] for r in rows])
    assert [s.value for s in scores] == [1.0] * 5
    task.close()


def test_end_to_end_replay_run_writes_key_audit_and_metrics(tmp_path, mini):
    from harness.runner import RunConfig, run_eval

    replay = tmp_path / "replay.jsonl"
    ids = ["65", "66", "67", "68"]
    rows = [{"task": "hardmath", "id": i, "output": reference_output(mini[i])} for i in ids]
    rows[-1]["output"] = r"$\boxed{\epsilon \approx 123.45}$"  # a wrong value
    replay.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "run"
    result = run_eval(
        RunConfig(
            model=f"replay:{replay}",
            tasks=["hardmath"],
            task_args={"type": "nondim_numeric", "workers": "1"},
            output=out,
            limit=4,
            use_cache=False,
        )
    )
    metrics = result.results["tasks"]["hardmath"]["metrics"]
    assert metrics["accuracy"]["value"] == pytest.approx(0.75) and metrics["accuracy"]["ci95"]
    assert metrics["key_disagreements"]["value"] == 0
    records = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert [r["id"] for r in records] == ids and all(r["fields"]["key_verified"] for r in records)
    assert (out / "hardmath_key_audit.jsonl").exists()


def test_paper_scoring_sympy_for_nondim_and_judge_for_the_rest(tmp_path):
    task = create_task("hardmath", {"scoring": "paper", "type": "nondim_symbolic", "workers": "1"})
    sample = next(iter(task.samples()))
    equivalent = r"\boxed{\frac{a_1 a_3^{5/2}}{a_2^{7/2}}}"  # the official parse_latex scored this 0
    assert task.score_batch([sample], [[Generation(equivalent)]])[0].value == 1.0
    assert task.score_batch([sample], [[Generation(r"\boxed{a_1}")]])[0].value == 0.0
    task.close()
    unjudged = create_task("hardmath", {"scoring": "paper", "type": "roots", "workers": "1"})
    sample = next(iter(unjudged.samples()))
    score = unjudged.score_batch([sample], [[Generation(r"\boxed{[1]}")]])[0]
    assert (
        score.fields["unjudged"] is True
        and unjudged.aggregate([SampleRecord.of("hardmath", sample, [], score, None)])["unjudged"].value == 1
    )
    unjudged.close()
    judge_file = tmp_path / "judge.jsonl"
    judge_file.write_text(json.dumps({"id": sample.id, "output": "Half of the roots match. \\boxed{0.5}"}) + "\n")
    judged = create_task("hardmath", {"scoring": "paper", "type": "roots", "workers": "1"})
    judged.bind_roles({"judge": RoleModel.direct("judge", create_model(f"replay:{judge_file}", {}), judged.name)})
    score = judged.score_batch([sample], [[Generation(r"\boxed{[1]}")]])[0]
    assert score.value == 0.5 and score.fields["judged"] is True
    judged.close()


@pytest.mark.parametrize(
    "model,pid,statuses",
    [
        # one box per regime over a worked solution: graded per regime, not "no answer"
        ("mistral7b_5shot", "309", {"small": "pass", "large": "fail", "very_large": "pass"}),
        # `boxed{` without its backslash, the dataset's own spelling: read and graded (the formula is wrong)
        ("gpt3.5_0shot", "0", {"epsilon": "fail"}),
        # roots in several boxes, labelled by the text before them
        ("mistral7b_0shot", "129", {"small": "fail", "large": "fail"}),
    ],
)
def test_published_responses_are_read_and_graded(model, pid, statuses):
    from harness.tasks.hardmath.published import published_replays

    row = next(r for r in published_replays()[model] if r["id"] == pid)
    task = create_task("hardmath", {"workers": "1"})
    try:
        sample = next(s for s in task.samples() if s.id == pid)
        score = task.score_batch([sample], [[Generation(row["output"])]])[0]
    finally:
        task.close()
    assert not score.fields["parse_failure"]
    assert {v["regime"]: v["status"] for v in score.fields["regimes"]} == statuses
    assert score.value == pytest.approx(sum(s == "pass" for s in statuses.values()) / len(statuses))
