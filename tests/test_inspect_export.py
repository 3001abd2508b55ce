"""`harness export inspect`: a run read back by inspect_ai's own log reader and command
line, with each sample's input, output, verdict and explanation, and errors as errors."""

import json
import subprocess
import sys

import pytest

pytest.importorskip("inspect_ai")  # the [inspect] extra
from inspect_ai.log import read_eval_log, read_eval_log_sample_summaries  # noqa: E402

from harness.cli import main  # noqa: E402
from harness.store import read_finished_run  # noqa: E402


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """smoke-gen answered (one sample missing from the replay: an error), PHYSICS not answered at all."""
    tmp = tmp_path_factory.mktemp("inspect_export")
    replay = tmp / "r.jsonl"
    replay.write_text(
        "".join(json.dumps({"task": "smoke-gen", "id": f"gen-0{i}", "output": " 4" if i == 0 else " no"}) + "\n" for i in range(3))
    )
    args = ["eval", "--model", f"replay:{replay}", "--task", "smoke-gen", "--task", "physics", "--limit", "4", "-q"]
    with pytest.raises(SystemExit):  # error samples make a non-zero exit; the run directory is complete
        main([*args, "--output", str(tmp / "run")])
    return tmp / "run"


def test_each_sample_reads_back_with_input_output_verdict_and_explanation(run_dir, tmp_path):
    main(["export", "inspect", str(run_dir), "--task", "smoke-gen", "--output", str(tmp_path / "gen.eval")])
    log = read_eval_log(str(tmp_path / "gen.eval"))
    records = {r.id: r for r in read_finished_run(run_dir).task_records("smoke-gen")}
    assert log.status == "success" and log.eval.task == "smoke-gen" and log.eval.model.startswith("harness/replay:")
    assert [s.id for s in log.samples] == list(records) and len(records) == 4
    for sample in log.samples:
        rec = records[sample.id]
        assert sample.input[0].text == rec.input and sample.target == rec.target
        if rec.error:
            assert sample.error.message == rec.error and sample.scores is None
        else:
            score = sample.scores["accuracy"]
            assert (score.value, score.answer, score.explanation) == (rec.score, rec.answer, rec.explanation)
            assert sample.output.completion == rec.output
    assert [s.id for s in log.samples if s.error] == ["gen-03"]
    metric = log.results.scores[0].metrics["accuracy"]
    stored = json.loads((run_dir / "results.json").read_text())["tasks"]["smoke-gen"]["metrics"]["accuracy"]
    assert metric.value == stored["value"] == 1 / 3 and metric.metadata["ci95"] == stored["ci95"]
    assert log.results.scores[0].unscored_samples == 1
    summaries = read_eval_log_sample_summaries(str(tmp_path / "gen.eval"))  # what `inspect view` lists
    assert len(summaries) == 4 and sum(1 for s in summaries if s.error) == 1


def test_inspects_command_line_reads_every_task_of_a_run(run_dir, tmp_path):
    main(["export", "inspect", str(run_dir), "--output", str(tmp_path / "logs")])
    for task in ("smoke-gen", "physics"):
        out = subprocess.run(
            [sys.executable, "-m", "inspect_ai", "log", "dump", str(tmp_path / "logs" / f"{task}.eval")],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 0, out.stderr[-2000:]
        dumped = json.loads(out.stdout)
        assert dumped["eval"]["task"] == task and len(dumped["samples"]) == 4


def test_one_file_for_a_run_of_several_tasks_is_one_line_and_exit_2(run_dir, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["export", "inspect", str(run_dir), "--output", str(tmp_path / "both.eval")])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--task" in err and not (tmp_path / "both.eval").exists()
