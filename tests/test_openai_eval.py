"""End to end: `harness eval --model openai:NAME` against the loopback server."""

import json

import pytest

from harness.cli import main
from harness.io import read_jsonl
from harness.tasks.smoke import DATA
from harness.testing.openai_server import LoopbackOpenAIServer

QUESTIONS = {row["question"]: row["answer"] for row in read_jsonl(DATA / "smoke_gen.jsonl")}


def quiz_responder(call):
    """Answers the smoke-gen questions, wrongly for every third one, then rambles (cut by the stop)."""
    question = call.prompt.removeprefix("Question: ").removesuffix("\nAnswer:")
    index = list(QUESTIONS).index(question)
    answer = "wrong" if index % 3 == 2 else QUESTIONS[question]
    return f" {answer}\nQuestion: and another?"


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-e2e-secret-key-42")
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))


def run_cli(*argv):
    main(list(argv))


def eval_mock(srv, *args):
    """`harness eval` of the loopback server's model `mock`, with `args` after its base_url."""
    run_cli("eval", "--model", "openai:mock", "--model-arg", f"base_url={srv.base_url}", *args)


def test_eval_writes_run_directory_with_each_sample_answered_once(tmp_path):
    out = tmp_path / "run"
    with LoopbackOpenAIServer(quiz_responder, faults_per_prompt=("429", "500"), api_key="sk-e2e-secret-key-42") as srv:
        for run_dir, concurrency in ((out, "4"), (tmp_path / "again", "2")):
            eval_mock(
                srv,
                "--model-arg",
                "backoff_s=0.01",
                "--task",
                "smoke-gen",
                "--limit",
                "5",
                "--concurrency",
                concurrency,
                "--output",
                str(run_dir),
                "--quiet",
            )
        # the second run (another --concurrency, same answers) is served from the response cache
        assert srv.stats.successes == 5 and set(srv.stats.successes_by_prompt.values()) == {1}
        assert srv.stats.faults == {"429": 5, "500": 5}
    records = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert [r["id"] for r in records] == [f"gen-0{i}" for i in range(5)]
    assert [r["score"] for r in records] == [1.0, 1.0, 0.0, 1.0, 1.0] and all(r["error"] is None for r in records)
    assert records[0]["output"] == " 4"  # cut at the stop sequence
    results = json.loads((out / "results.json").read_text())["tasks"]["smoke-gen"]
    assert results["n"] == 5 and results["metrics"]["accuracy"]["value"] == pytest.approx(0.8)
    config = (out / "config.json").read_text()
    assert "sk-e2e-secret-key-42" not in config
    assert json.loads(config)["model"]["endpoint"] == "chat"


def test_eval_loglikelihood_task_through_completions_endpoint(tmp_path):
    out = tmp_path / "run"
    with LoopbackOpenAIServer() as srv:
        eval_mock(
            srv,
            "--model-arg",
            "endpoint=completions",
            "--task",
            "smoke-choice",
            "--limit",
            "4",
            "--output",
            str(out),
            "--quiet",
            "--no-cache",
        )
    records = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    # the mock LM gives " Yes" -0.4 and " No" -0.3: it always answers No
    assert [r["answer"] for r in records] == ["No"] * 4 and all(r["fields"]["logprobs"] == pytest.approx([-0.4, -0.3]) for r in records)
    labels = [row["label"] for row in read_jsonl(DATA / "smoke_choice.jsonl")][:4]
    assert [r["score"] for r in records] == [float(label == 1) for label in labels]


def test_eval_with_a_failing_server_marks_errors_and_goes_on(tmp_path):
    out = tmp_path / "run"
    with LoopbackOpenAIServer(quiz_responder, always_fail={"capital": "503"}) as srv, pytest.raises(SystemExit) as e:
        eval_mock(
            srv,
            "--model-arg",
            "max_retries=1",
            "--model-arg",
            "backoff_s=0",
            "--task",
            "smoke-gen",
            "--limit",
            "5",
            "--output",
            str(out),
            "--quiet",
            "--no-cache",
        )
    assert e.value.code == 1  # the CLI's status when some samples errored
    records = {r["id"]: r for r in map(json.loads, (out / "samples.jsonl").read_text().splitlines())}
    failed = [i for i, r in records.items() if r["error"]]
    assert failed == ["gen-01"] and "HTTP 503" in records["gen-01"]["error"]
    results = json.loads((out / "results.json").read_text())["tasks"]["smoke-gen"]
    assert results["n"] == 4 and results["n_errors"] == 1


def test_eval_against_unreachable_server_exits_2_with_one_line(tmp_path, capsys):
    with LoopbackOpenAIServer() as srv:
        url = srv.base_url  # the server is gone once the block ends
    with pytest.raises(SystemExit) as e:
        run_cli(
            "eval",
            "--model",
            "openai:mock",
            "--model-arg",
            f"base_url={url}",
            "--task",
            "smoke-gen",
            "--output",
            str(tmp_path / "run"),
            "--quiet",
        )
    err = capsys.readouterr().err
    assert e.value.code == 2
    assert err.count("\n") == 1 and err.startswith("error: cannot reach the OpenAI-compatible server")
