"""The runner and run store: run directory layout, resume, errors, cache, replay."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.api import HarnessError
from harness.runner import RunConfig, run_eval

PLUGIN = str(Path(__file__).parent / "plugins" / "slow_models.py")


def config(tmp_path, **kw):
    base = dict(
        model="slow4:x",
        tasks=["smoke-gen"],
        includes=[PLUGIN],
        output=tmp_path / "run",
        cache_path=tmp_path / "cache.sqlite",
        use_cache=False,
    )
    base.update(kw)
    return RunConfig(**base)


def lines(path):
    return [json.loads(x) for x in Path(path).read_text().splitlines()]


def test_run_directory_has_config_samples_and_results(tmp_path):
    res = run_eval(config(tmp_path, limit=5))
    out = tmp_path / "run"
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["identity"]["model"] == "slow4:x" and cfg["versions"]["python"]
    assert cfg["tasks"]["smoke-gen"]["data_sha256"]
    recs = lines(out / "samples.jsonl")
    assert len(recs) == 5
    for r in recs:
        assert {"task", "id", "score", "output", "error"} <= set(r)
        assert isinstance(r["score"], float) and r["error"] is None and r["output"] == " 4\n"
    results = json.loads((out / "results.json").read_text())
    acc = results["tasks"]["smoke-gen"]["metrics"]["accuracy"]
    assert results["tasks"]["smoke-gen"]["n"] == 5
    assert acc["value"] == pytest.approx(sum(r["score"] for r in recs) / 5)
    assert acc["ci95"][0] <= acc["value"] <= acc["ci95"][1]
    assert res.model_calls == 5


def test_rerun_resumes_without_calling_the_model(tmp_path):
    first = run_eval(config(tmp_path))
    again = run_eval(config(tmp_path))
    assert again.model_calls == 0
    assert again.results["tasks"] == first.results["tasks"]
    assert len(lines(tmp_path / "run" / "samples.jsonl")) == 20


def test_error_samples_are_counted_then_retried(tmp_path, monkeypatch):
    monkeypatch.setenv("SLOW_MODEL_FAIL", "capital of France")
    res = run_eval(config(tmp_path))
    assert res.n_errors == 1
    t = res.results["tasks"]["smoke-gen"]
    assert t["n"] == 19 and t["n_errors"] == 1
    bad = [r for r in lines(tmp_path / "run" / "samples.jsonl") if r["error"]]
    assert bad[0]["id"] == "gen-01" and bad[0]["output"] is None
    monkeypatch.delenv("SLOW_MODEL_FAIL")
    res2 = run_eval(config(tmp_path))
    assert res2.n_errors == 0 and res2.model_calls == 1
    recs = lines(tmp_path / "run" / "samples.jsonl")
    assert sorted(r["id"] for r in recs) == sorted({r["id"] for r in recs}) and len(recs) == 20


def test_changed_configuration_is_refused_unless_overwrite(tmp_path):
    run_eval(config(tmp_path, limit=3))
    with pytest.raises(HarnessError, match="different configuration.*limit"):
        run_eval(config(tmp_path, limit=4))
    res = run_eval(config(tmp_path, limit=4, overwrite=True))
    assert res.results["tasks"]["smoke-gen"]["n"] == 4


def test_torn_last_line_is_cut_on_resume(tmp_path):
    run_eval(config(tmp_path, limit=4))
    samples = tmp_path / "run" / "samples.jsonl"
    keep = samples.read_text().splitlines()[:2]
    samples.write_text("\n".join(keep) + '\n{"task": "smoke-gen", "id": "gen-0')
    res = run_eval(config(tmp_path, limit=4))
    assert res.model_calls == 2
    assert [r["id"] for r in lines(samples)] == ["gen-00", "gen-01", "gen-02", "gen-03"]


def test_response_cache_spares_model_calls_across_runs(tmp_path):
    run_eval(config(tmp_path, use_cache=True, output=tmp_path / "a"))
    res = run_eval(config(tmp_path, use_cache=True, output=tmp_path / "b"))
    assert res.model_calls == 0
    assert res.results["tasks"]["smoke-gen"]["metrics"]["accuracy"]["value"] > 0


def test_loglikelihood_task_and_multi_task_run(tmp_path):
    res = run_eval(config(tmp_path, tasks=["smoke-gen", "smoke-choice"], limit=6))
    assert set(res.results["tasks"]) == {"smoke-gen", "smoke-choice"}
    recs = [r for r in lines(tmp_path / "run" / "samples.jsonl") if r["task"] == "smoke-choice"]
    # the scripted model gives " No" -3.5 and " Yes" -4: label 1 ("No") rows are correct
    assert [r["answer"] for r in recs] == ["No"] * 6
    assert [r["score"] for r in recs] == [float(r["target"] == 1) for r in recs]


def _cli(args, env=None, **kw):
    e = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, env=e, **kw)


def _main(args, capsys):
    """The CLI in-process: (exit status, stdout, stderr)."""
    from harness.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
        raise SystemExit(0)
    out = capsys.readouterr()
    return exit_info.value.code, out.out, out.err


def test_sigkill_then_resume_matches_uninterrupted_run(tmp_path):
    common = ["eval", "--model", "slow4:x", "--task", "smoke-gen", "--include", PLUGIN, "--chunk-size", "2", "-q", "--no-cache"]
    env = {"SLOW_MODEL_DELAY": "0.05"}
    ref = _cli([*common, "--output", str(tmp_path / "ref")], env={"SLOW_MODEL_DELAY": "0"})
    assert ref.returncode == 0, ref.stderr
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", *common, "--output", str(out)],
        env=dict(os.environ, **env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    samples = out / "samples.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline and (not samples.exists() or len(samples.read_text().splitlines()) < 6):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    n_before = len(samples.read_text().splitlines())
    assert 6 <= n_before < 20
    resumed = _cli([*common, "--output", str(out)], env={"SLOW_MODEL_DELAY": "0"})
    assert resumed.returncode == 0, resumed.stderr
    recs = lines(samples)
    assert len(recs) == 20 and len({r["id"] for r in recs}) == 20
    a = json.loads((tmp_path / "ref" / "results.json").read_text())["tasks"]
    b = json.loads((out / "results.json").read_text())["tasks"]
    assert a == b


def test_replay_scores_recorded_outputs_and_flags_missing_ids(tmp_path):
    replay = tmp_path / "replay.jsonl"
    replay.write_text(
        json.dumps({"id": "gen-00", "output": "4"}) + "\n" + json.dumps({"id": "gen-01", "output": "Paris.", "task": "smoke-gen"}) + "\n"
    )
    res = run_eval(config(tmp_path, model=f"replay:{replay}", includes=[], limit=3))
    recs = {r["id"]: r for r in lines(tmp_path / "run" / "samples.jsonl")}
    assert recs["gen-00"]["score"] == 1.0 and recs["gen-01"]["score"] == 1.0
    assert "no output for sample 'gen-02'" in recs["gen-02"]["error"]
    assert res.n_errors == 1


@pytest.mark.parametrize(
    "content,message",
    [
        ("not json\n", "line 1 is not valid JSON"),
        ('{"output": "x"}\n', "lacks 'id' or 'output'"),
        ('{"id": 1, "output": 3}\n', "must be a string"),
    ],
)
def test_malformed_replay_file_is_one_line_exit_2(tmp_path, content, message, capsys):
    replay = tmp_path / "bad.jsonl"
    replay.write_text(content)
    code, _, err = _main(["eval", "--model", f"replay:{replay}", "--task", "smoke-gen", "--output", str(tmp_path / "o")], capsys)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_cli_errors_are_one_line_with_exit_2(tmp_path, capsys):
    cases = [
        (["eval", "--model", "nope:x", "--task", "smoke-gen"], "unknown model spec"),
        (["eval", "--model", "replay:x.jsonl", "--task", "nope"], "unknown task 'nope'"),
        (["eval", "--model", "slow4:x", "--include", PLUGIN, "--task", "smoke-gen", "--task-arg", "x=1"], "allowed: (none)"),
        (["eval", "--model", "slow4:x", "--include", PLUGIN, "--task", "smoke-gen", "--model-arg", "noeq"], "not key=value"),
        (["eval", "--model", "slow4:x", "--include", "/no/such.py", "--task", "smoke-gen"], "no such file"),
    ]
    for args, message in cases:
        code, _, err = _main([*args, "--output", str(tmp_path / "o")], capsys)
        assert code == 2, (args, err)
        assert message in err and len(err.strip().splitlines()) == 1, err
    # the real console entry point, once, with --debug showing the traceback
    r = _cli(["--debug", "eval", "--model", "nope:x", "--task", "smoke-gen"])
    assert r.returncode == 2 and "Traceback" in r.stderr


def test_cli_exit_status_1_when_samples_error(tmp_path):
    r = _cli(
        [
            "eval",
            "--model",
            "slow4:x",
            "--include",
            PLUGIN,
            "--task",
            "smoke-gen",
            "--limit",
            "3",
            "-q",
            "--no-cache",
            "--output",
            str(tmp_path / "o"),
        ],
        env={"SLOW_MODEL_FAIL": "Question"},
    )
    assert r.returncode == 1 and "3 sample(s) errored" in r.stderr
    assert "errors" in r.stdout
