"""The physics task: data, prompt, extraction, one-to-one vs paper scoring, judge, metrics."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from harness.api import Generation, HarnessError, ModelAdapter
from harness.record import SampleRecord
from harness.registry import create_model, create_task, register_model
from harness.roles import RoleModel
from harness.tasks.physics.judge import parse_judge_reply
from harness.tasks.physics.loader import DOMAINS, completed_answer

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


@register_model
class ScriptedJudge(ModelAdapter):
    """A judge that accepts a candidate iff it says 'not melt'; 'nojson' in it gets prose."""

    name = "test-physics-judge"
    calls: list = []

    def generate(self, requests, contexts):
        replies = []
        for r in requests:
            ScriptedJudge.calls.append(r)
            text = r.prompt[-1].content
            candidate = text.split("Candidate answer:\n")[1]
            if "nojson" in candidate:
                replies.append(Generation("This is not true."))
            else:
                ok = "not melt" in candidate
                replies.append(Generation(f'Sure. {{"equivalent": {json.dumps(ok)}, "reason": "scripted"}}'))
        return replies


@pytest.fixture(scope="module")
def task():
    t = create_task("physics", {"split": "all"})
    yield t
    t.close()


def sample_by_id(task, sample_id):
    return next(s for s in task.samples() if s.id == sample_id)


def test_packaged_data_counts_match_the_paper():
    def count(**args):
        return sum(1 for _ in create_task("physics", args).samples())

    assert count(split="all") == 999
    assert count(split="validation") == 231
    assert count() == 768  # default: test split, text only
    assert count(split="all", domain="optics") == 93
    ids = [s.id for s in create_task("physics", {"split": "all"}).samples()]
    assert len(ids) == len(set(ids))


def test_gold_answers_the_data_set_cuts_off_are_completed_from_the_worked_solution(task):
    # atomic/3-24 as the data set has it, and the formula its worked solution writes out
    solution = r"Hence $$\frac{\Gamma_{\bar{K}^0 n}}{\Gamma_{K^- p}} = 1.$$ The next decay is weak."
    assert completed_answer(r"\frac{\Gamma_{\bar{K}^0n}", solution) == r"\frac{\Gamma_{\bar{K}^0n}}{\Gamma_{K^- p}} = 1"
    assert completed_answer(r"x = \frac{a}{b}", solution) is None  # a whole answer is left as it is
    assert completed_answer(r"\frac{\Gamma_{\pi^- p}", solution) is None  # not in the solution: left to the checker
    two_ways = r"$$\frac{a}{b} + c$$ and $$\frac{a}{b} - c$$"
    assert completed_answer(r"\frac{a", two_ways) is None  # completions that disagree: none
    # at most one relation: the solution's further "\leq 50\%" is not the answer
    assert (
        completed_answer(r"y \approx \sqrt{\frac{2}{5}", r"$$ y \approx \sqrt{\frac{2}{5}} \leq 50\% $$") == r"y \approx \sqrt{\frac{2}{5}}"
    )
    sample = sample_by_id(task, "atomic/3-24")
    assert sample.target[0] == r"\frac{\Gamma_{\bar{K}^0n}}{\Gamma_{K^- p}} = 1"
    assert sample.metadata["cut_off_gold"] == [[0, r"\frac{\Gamma_{\bar{K}^0n}"]]
    [score] = task.score_batch([sample], [[Generation(r"\boxed{\frac{\Gamma_{\bar{K}^0 n}}{\Gamma_{K^- p}} = 1}")]])
    assert score.fields["gold_completed_from_solution"] == [0] and score.fields["gold_matched"] == 1


def test_prompt_is_the_paper_system_prompt_as_chat(task):
    s = sample_by_id(task, "optics/2-69")
    system, user = s.input
    assert system.role == "system" and "\\boxed{}" in system.content and "step by step" in system.content
    assert user.role == "user" and "70.6" not in user.content and len(user.content) > 50
    assert s.target == [r"70.6 \, \text{cm}"] or isinstance(s.target, list)


def test_bad_args_are_one_line_errors():
    with pytest.raises(HarnessError, match="rel_tol"):
        create_task("physics", {"rel_tol": "2"})
    with pytest.raises(HarnessError, match="data_dir"):
        create_task("physics", {"modality": "all"})
    with pytest.raises(HarnessError, match="not allowed"):
        create_task("physics", {"domain": "biology"})


def _score(task, sample, text):
    return task.score_batch([sample], [[Generation(text)]])[0]


def test_gold_answers_boxed_score_one_with_methods_recorded(task):
    s = sample_by_id(task, "atomic/2-24")
    score = _score(task, s, " ".join(rf"\boxed{{{a}}}" for a in s.target))
    assert score.value == 1.0 and score.fields["all_correct"]
    assert {c["method"] for c in score.fields["checks"]} and all("detail" in c for c in score.fields["checks"])


def test_one_to_one_matching_versus_the_paper_formula(task):
    s = sample_by_id(task, "atomic/2-24")
    gold = s.target
    assert len(gold) >= 2
    # the first answer boxed twice: strict credits it once, the paper formula counts both boxes
    score = _score(task, s, rf"\boxed{{{gold[0]}}} and again \boxed{{{gold[0]}}}")
    assert score.fields["gold_matched"] == 1
    assert score.value == pytest.approx(1 / len(gold))
    assert score.fields["paper_score"] == 1.0
    paper = create_task("physics", {"split": "all", "scoring": "paper"})
    try:
        assert _score(paper, s, rf"\boxed{{{gold[0]}}}").value == 1.0
    finally:
        paper.close()
    # the paper formula compares a box as written: words taken off by the reader do not unmatch it
    worded = sample_by_id(task, "atomic/1-41")
    assert worded.target[0].startswith(r"\text{")
    assert _score(task, worded, rf"\boxed{{{worded.target[0]}}}").fields["paper_score"] == 1.0


def test_reasoning_boxes_are_ignored_when_a_final_section_exists(task):
    s = sample_by_id(task, "optics/2-69")
    text = rf"<think>maybe \boxed{{{s.target[0]}}}</think> Final: \boxed{{3 \text{{ m}}}}"
    score = _score(task, s, text)
    assert score.answer == [r"3 \text{ m}"] and score.value == 0.0


def test_no_box_scores_zero_and_is_counted(task):
    s = sample_by_id(task, "optics/2-69")
    score = _score(task, s, "I do not know.")
    assert score.value == 0.0 and score.fields["n_boxes"] == 0
    metrics = task.aggregate([_record(score)])
    assert metrics["no_boxed_answer"].value == 1.0


def _record(score, sid="x"):
    return SampleRecord("physics", sid, score.value, None, fields=score.fields)


def test_verbal_answers_are_unjudged_without_a_judge(task):
    s = sample_by_id(task, "electro/3_4")  # \text{The copper wire will not melt.}
    score = _score(task, s, r"\boxed{\text{It does not melt}}")
    assert score.value == 0.0
    assert score.fields["unjudged_gold"] == [0]
    metrics = task.aggregate([_record(score)])
    assert metrics["unjudged"].value == 1.0 and metrics["unjudged"].ci95 is not None


def test_judge_decides_verbal_answers_and_prose_replies_stay_unjudged():
    t = create_task("physics", {"split": "all"})
    t.bind_roles({"judge": RoleModel.direct("judge", create_model("test-physics-judge:x", {}), t.name)})
    try:
        s = sample_by_id(t, "electro/3_4")
        ScriptedJudge.calls.clear()
        good = _score(t, s, r"\boxed{\text{The wire does not melt}}")
        assert good.value == 1.0 and good.fields["checks"][0]["method"] == "judge"
        request = ScriptedJudge.calls[0]
        assert request.temperature == 0.0
        assert "copper wire will not melt" in request.prompt[-1].content and "Problem:" in request.prompt[-1].content
        bad = _score(t, s, r"\boxed{\text{it melts nojson}}")
        assert bad.value == 0.0 and bad.fields["unjudged_gold"] == [0]
        assert "unjudged" in bad.fields["checks"][0]["detail"]
    finally:
        t.close()


def test_parse_judge_reply_never_substring_matches_true():
    assert parse_judge_reply('{"equivalent": true, "reason": "same"}') == (True, "same")
    assert parse_judge_reply('noise {"x": 1} then {"equivalent": false}')[0] is False
    assert parse_judge_reply("This is not true")[0] is None
    assert parse_judge_reply('{"equivalent": "true"}')[0] is None
    assert parse_judge_reply(None)[0] is None


def test_aggregate_reports_both_scorings_domains_and_counts(task):
    samples = [sample_by_id(task, i) for i in ("optics/2-69", "atomic/2-24")]
    texts = [r"\boxed{0.706\,\mathrm{m}}", rf"\boxed{{{samples[1].target[0]}}}"]
    scores = task.score_batch(samples, [[Generation(t)] for t in texts])
    metrics = task.aggregate([_record(sc, s.id) for sc, s in zip(scores, samples)])
    n_gold = len(samples[0].target) + len(samples[1].target)  # 2 + 5
    assert metrics["answer_accuracy"].value == pytest.approx(2 / n_gold)
    assert metrics["strict_accuracy"].value == 0.0
    assert metrics["paper_accuracy"].value == 1.0
    assert metrics["paper_minus_answer_fraction"].value > 0
    assert metrics["answer_accuracy/optics"].value == 0.5
    for name in ("timeouts", "parse_failures", "unjudged", "judged"):
        assert name in metrics
    assert all(m.ci95 is not None for m in metrics.values())


# ------------------------------------------------------------------ full copy with images


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    (tmp_path / "PHYSICS-eval").mkdir()
    for d in DOMAINS:
        rows = [
            {
                "id": f"{d}/1",
                "questions": "Find x.",
                "solutions": "So $x = \\frac{1}{2}$.",
                "final_answers": ["x = \\frac{1"],
                "graphs": None,
            },
            {
                "id": f"{d}/2",
                "questions": "Read the figure.",
                "solutions": "",
                "final_answers": ["2"],
                "graphs": [{"type": "image_url", "image_url": {"url": url}}],
            },
        ]
        (tmp_path / f"{d}_dataset.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
        (tmp_path / "PHYSICS-eval" / f"{d}_dataset_eval.jsonl").write_text(json.dumps(rows[0]) + "\n")
    return tmp_path


def test_modality_all_sends_images_and_requires_the_capability(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    t = create_task("physics", {"split": "all", "modality": "all", "data_dir": str(data_dir)})
    assert "images" in t.requires
    samples = {s.id: s for s in t.samples()}
    assert len(samples) == 12 and samples["optics/1"].metadata["split"] == "validation"
    assert samples["optics/1"].target == [r"x = \frac{1}{2}"]  # cut off in the data set, completed from its solution
    parts = samples["optics/2"].input[1].content
    assert parts[0] == {"type": "text", "text": "Read the figure."}
    assert Path(parts[1]["path"]).read_bytes() == PNG
    text_only = create_task("physics", {"split": "test", "data_dir": str(data_dir)})
    assert [s.id for s in text_only.samples()] == []  # the test-split problems all have figures
    assert "images" not in text_only.requires


def test_data_dir_errors_name_the_missing_file(tmp_path):
    with pytest.raises(HarnessError, match="atomic_dataset.jsonl"):
        list(create_task("physics", {"data_dir": str(tmp_path)}).samples())


# ------------------------------------------------------------------ end to end


def test_gold_replay_through_the_runner_and_the_cli_helper(tmp_path):
    from click.testing import CliRunner

    from harness.runner import RunConfig, run_eval
    from harness.tasks.physics.cli import physics_gold_replay

    replay = tmp_path / "gold.jsonl"
    args = ["--task-arg", "split=validation", "--task-arg", "domain=optics"]
    result = CliRunner().invoke(physics_gold_replay, ["--output", str(replay), *args])
    assert result.exit_code == 0, result.output
    lines = [json.loads(l) for l in replay.read_text().splitlines()]
    assert {"id", "output", "task"} <= set(lines[0])
    # one problem answered wrongly: its record must say why
    lines[0]["output"] = r"\boxed{42 \, \text{kg}}"
    replay.write_text("\n".join(json.dumps(l) for l in lines) + "\n")
    out = tmp_path / "run"
    run = run_eval(
        RunConfig(
            model=f"replay:{replay}", tasks=["physics"], output=out, use_cache=False, task_args={"split": "validation", "domain": "optics"}
        )
    )
    assert run.n_errors == 0
    metrics = json.loads((out / "results.json").read_text())["tasks"]["physics"]["metrics"]
    assert 0.9 <= metrics["answer_accuracy"]["value"] < 1.0
    assert metrics["strict_accuracy"]["value"] < 1.0 and len(metrics["answer_accuracy"]["ci95"]) == 2
    records = {r["id"]: r for r in map(json.loads, (out / "samples.jsonl").read_text().splitlines())}
    wrong = records[lines[0]["id"]]
    assert wrong["score"] < 1.0 and wrong["answer"] == [r"42 \, \text{kg}"]
    assert all({"method", "detail", "equal"} <= set(c) for c in wrong["fields"]["checks"])


def test_question_labels_give_gold_labels_only_when_they_count_the_gold_answers():
    from harness.tasks.physics.task import question_labels

    q = "A ball falls.\n(a) Find its speed.\n(b) Find the time. Use (a) to check (b)."
    assert question_labels(q, 2) == ["a", "b"]
    assert question_labels(q, 3) is None  # three gold answers, two sub-questions: no alignment
    assert question_labels("(b) only", 1) is None
