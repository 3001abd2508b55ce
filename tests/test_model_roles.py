"""Model roles end to end: a PHYSICS judge on the loopback OpenAI server goes
through the runner (stored, cached, counted), and `harness score` re-scores the
run from its stored responses without calling any model."""

import json

import pytest

from harness.cli import main
from harness.registry import create_task
from harness.testing.openai_server import LoopbackOpenAIServer

ANSWERS = [r"\boxed{\text{The wire does not melt}}", r"\boxed{\text{it melts}}", r"\boxed{42}"]


def verdict_responder(call):
    candidate = call.prompt.split("Candidate answer:\n")[1]
    return json.dumps({"equivalent": "not melt" in candidate, "reason": "scripted"})


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-role-test")
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def replay_file(tmp_path):
    task = create_task("physics", {"split": "all", "domain": "electro"})
    ids = [s.id for s in task.samples()][:3]
    path = tmp_path / "answers.jsonl"
    path.write_text("".join(json.dumps({"id": i, "output": a}) + "\n" for i, a in zip(ids, ANSWERS)))
    return path


def eval_args(replay_file, base_url, out):
    return [
        "eval",
        "--model",
        f"replay:{replay_file}",
        "--task",
        "physics",
        "-T",
        "split=all",
        "-T",
        "domain=electro",
        "--limit",
        "3",
        "--model-role",
        "judge=openai:mock",
        "--model-role-arg",
        f"judge:base_url={base_url}",
        "--output",
        str(out),
        "--quiet",
    ]


def read_records(run_dir):
    return [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]


def test_judge_role_is_stored_cached_counted_and_rescored_without_calls(tmp_path, replay_file):
    first, second = tmp_path / "run", tmp_path / "again"
    with LoopbackOpenAIServer(verdict_responder, api_key="sk-role-test") as server:
        main(eval_args(replay_file, server.base_url, first))
        asked = server.stats.successes
        records = read_records(first)
        judged = [r for r in records if r["role_responses"]]
        assert asked > 0 and sum(len(r["role_responses"]["judge"]) for r in judged) == asked
        results = json.loads((first / "results.json").read_text())
        assert results["role_calls"] == {"judge": asked} and results["model_calls"] == 3
        assert all(json.loads(c["response"]["text"])["reason"] == "scripted" for r in judged for c in r["role_responses"]["judge"])
        assert any(c["method"] == "judge" for r in records for c in r["fields"]["checks"])
        config = json.loads((first / "config.json").read_text())
        assert config["roles"]["judge"]["spec"] == "openai:mock" and "sk-role-test" not in json.dumps(config)

        main(eval_args(replay_file, server.base_url, second))  # another run directory, same cache: nothing is sent
        assert server.stats.successes == asked
        assert json.loads((second / "results.json").read_text())["role_calls"] == {"judge": 0}

        before = (first / "results.json").read_bytes()
        main(["score", str(first)])  # unchanged: the same results.json, byte for byte, and no call
        assert (first / "results.json").read_bytes() == before
        main(["score", str(first), "-T", "scoring=paper", "--output", str(tmp_path / "paper")])
        assert server.stats.successes == asked
    paper = json.loads((tmp_path / "paper" / "results.json").read_text())["tasks"]["physics"]
    assert paper["args"]["scoring"] == "paper" and paper != results["tasks"]["physics"]
    assert read_records(tmp_path / "paper")[0]["role_responses"] == records[0]["role_responses"]


def test_rescoring_in_place_with_changed_args_is_refused(tmp_path, replay_file, capsys):
    with LoopbackOpenAIServer(verdict_responder, api_key="sk-role-test") as server:
        main(eval_args(replay_file, server.base_url, tmp_path / "run"))
    with pytest.raises(SystemExit) as exit_info:
        main(["score", str(tmp_path / "run"), "-T", "rel_tol=0.05"])
    assert exit_info.value.code == 2 and "--output" in capsys.readouterr().err


def test_unknown_role_and_old_task_arg_are_one_line_errors(tmp_path, replay_file, capsys):
    for extra, message in (
        (["--model-role", "grader=openai:x"], "declared by none of the tasks"),
        (["-T", "judge=openai:x"], "--model-role judge=openai:x"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(["eval", "--model", f"replay:{replay_file}", "--task", "physics", *extra, "--output", str(tmp_path / "x")])
        assert exit_info.value.code == 2 and message in capsys.readouterr().err
