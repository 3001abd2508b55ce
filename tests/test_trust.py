"""Trust under stress: causes of errors shown, one writer per run directory,
honest tables and intervals, option listings, duplicate records, a broken
cache, hostile text and Markdown, a full disk."""

import base64
import errno
import json
import logging
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from harness.api import Generation, HarnessError
from harness.cli import main
from harness.metrics import count_metric, mean_metric, ratio_metric
from harness.registry import create_task
from harness.runner import RunConfig, run_eval
from harness.store import write_json_atomic
from harness.testing.openai_server import LoopbackOpenAIServer

PLUGIN = str(Path(__file__).parent / "plugins" / "slow_models.py")


def eval_slow(*args: str) -> None:
    """`harness eval` of the plugin's fast fake model, with `args` after the model."""
    main(["eval", "--model", "slow4:x", "--include", PLUGIN, *args])


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-trust-test")
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))


def test_error_causes_are_printed_with_counts_and_whether_a_rerun_helps(tmp_path, capsys):
    replay = tmp_path / "partial.jsonl"
    replay.write_text('{"id": "gen-00", "output": " 4"}\n')
    with pytest.raises(SystemExit) as exit_info:
        main(["eval", "--model", f"replay:{replay}", "--task", "smoke-gen", "--limit", "4", "--output", str(tmp_path / "a"), "-q"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and "3 sample(s) errored" in err
    assert "3 x no output for sample '…'" in err and "a rerun will not fix these" in err and "rerun the same command" not in err
    with LoopbackOpenAIServer(api_key="sk-trust-test") as server, pytest.raises(SystemExit):
        main(
            [
                "eval",
                "--model",
                "openai:no-such-model",
                "--model-arg",
                f"base_url={server.base_url}",
                "--task",
                "smoke-gen",
                "--limit",
                "3",
                "--output",
                str(tmp_path / "b"),
                "-q",
            ]
        )
    err = capsys.readouterr().err
    assert "3 x openai request failed: HTTP 404" in err and "a rerun will not fix these" in err
    causes = json.loads((tmp_path / "b" / "results.json").read_text())["tasks"]["smoke-gen"]["error_causes"]
    assert causes[0]["count"] == 3 and causes[0]["rerun_helps"] is False


def test_a_run_directory_has_one_writer_and_a_stale_lock_is_taken_over(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (out / "run.lock").write_text(json.dumps({"pid": holder.pid, "host": os.uname().nodename, "started": "now"}))
        with pytest.raises(SystemExit) as exit_info:
            eval_slow("--task", "smoke-gen", "--limit", "2", "--output", str(out), "-q", "--no-cache")
        assert exit_info.value.code == 2 and f"pid {holder.pid}" in capsys.readouterr().err
        assert sorted(p.name for p in out.iterdir()) == ["run.lock"]  # nothing written
    finally:
        holder.kill()
        holder.wait()
    result = run_eval(RunConfig(model="slow4:x", includes=[PLUGIN], tasks=["smoke-gen"], limit=2, output=out, use_cache=False))
    assert result.results["tasks"]["smoke-gen"]["n"] == 2 and not (out / "run.lock").exists()


def test_intervals_are_never_degenerate_for_proportions_and_counts_print_as_counts(tmp_path, capsys):
    none, every = mean_metric([0.0] * 20), mean_metric([1.0] * 20)
    assert none.ci95[0] == 0.0 and 0.1 < none.ci95[1] < 0.2 and every.ci95[1] == 1.0 and 0.8 < every.ci95[0] < 0.9
    assert none.n == 20 and none.kind == "proportion" and count_metric(0, 300).kind == "count"
    all_golds = ratio_metric([2, 3, 1], [2, 3, 1])  # every gold answer of every problem matched
    assert all_golds.value == 1.0 and all_golds.ci95[0] < 0.9 and all_golds.n == 3
    eval_slow("--task", "physics", "-T", "domain=optics", "--limit", "3", "--output", str(tmp_path / "run"), "-q", "--no-cache")
    table = capsys.readouterr().out.splitlines()
    assert table[2].split()[1:3] == ["accuracy", "*"]  # the headline first, marked
    no_box = next(line for line in table if "no_boxed_answer" in line).split()
    assert no_box[2] == "3" and no_box[-1] == "3"  # a count of 3 of 3 responses, not 3.0000
    checks = next(line for line in table if line.split()[1] == "timeouts").split()
    assert checks[-1] == "0"  # timeouts are counted over the checks made (none), not the samples


def test_listing_one_task_shows_its_options(capsys):
    main(["tasks", "physics"])
    out = capsys.readouterr().out
    assert "domain=<all|atomic" in out and "rel_tol=<float>" in out and "--model-role judge" in out


def test_repeated_records_are_dropped_with_a_warning_and_never_counted_twice(tmp_path, caplog):
    config = RunConfig(model="slow4:x", includes=[PLUGIN], tasks=["smoke-gen"], limit=4, output=tmp_path / "run", use_cache=False)
    first = run_eval(config)
    samples = tmp_path / "run" / "samples.jsonl"
    lines = samples.read_text().splitlines()
    samples.write_text("\n".join(lines + [lines[0]]) + "\n")  # a hand-added duplicate
    with caplog.at_level(logging.WARNING):
        again = run_eval(config)
    assert "repeated sample record" in caplog.text
    assert again.results["tasks"] == first.results["tasks"] and len(samples.read_text().splitlines()) == 4


def test_a_cache_that_breaks_costs_no_answer(tmp_path, caplog):
    cache = tmp_path / "ro" / "cache.sqlite"
    cache.parent.mkdir()
    cache.write_text("this is not an sqlite database")
    with caplog.at_level(logging.WARNING):
        result = run_eval(
            RunConfig(model="slow4:x", includes=[PLUGIN], tasks=["smoke-gen"], limit=3, output=tmp_path / "run", cache_path=cache)
        )
    assert result.n_errors == 0 and result.results["tasks"]["smoke-gen"]["n"] == 3
    assert "going on without it" in caplog.text


def test_hostile_text_is_bounded_and_markdown_is_escaped(tmp_path):
    task = create_task("physics", {"domain": "optics", "workers": "1"})
    samples = list(task.samples())[:3]
    hostile = "x \\boxed{" * 110_000  # about 1 MB of unclosed boxes
    unclosed_math = "x = 1 \\[ \\( $$ \\begin{equation} " * 25_000  # math that never closes, for the prose reader
    started = time.monotonic()
    responses = [[Generation(hostile)], [Generation(f"\\boxed{{{samples[1].target[0]}}}")], [Generation(unclosed_math)]]
    scores = task.score_batch(samples, responses)
    task.close()
    assert time.monotonic() - started < task.args.timeout_s and scores[0].value == 0.0 and scores[1].value > 0
    assert scores[2].value == 0.0
    from harness.leaderboards import build_site

    replay = tmp_path / "r.jsonl"
    replay.write_text('{"id": "gen-00", "output": "4"}\n')
    run_eval(RunConfig(model=f"replay:{replay}", tasks=["smoke-gen"], limit=1, output=tmp_path / "run", use_cache=False))
    paths = build_site([tmp_path / "run"], tmp_path / "board", title="<script>alert(1)</script>")
    markdown = next(p for p in paths if p.suffix == ".md").read_text()
    assert "<script>" not in markdown and "&lt;script&gt;" in markdown


def test_a_full_disk_names_the_path_and_leaves_no_temporary(tmp_path, monkeypatch):
    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(HarnessError, match=r"cannot write .*results.json: the disk is full"):
        write_json_atomic(tmp_path / "results.json", {"a": 1})
    assert list(tmp_path.iterdir()) == []


class EchoAuthHandler(BaseHTTPRequestHandler):
    """Lists one model, then answers every request 400 with the credentials it was sent echoed back."""

    def log_message(self, *args):
        pass

    def _reply(self, status, payload):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self._reply(200, {"data": [{"id": "m"}]})

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        auth = self.headers.get("Authorization", "")
        token = auth.split(" ", 1)[-1]
        self._reply(400, {"error": {"message": f"rejected Authorization: {auth}; token {token}"}})


@pytest.mark.parametrize("form", ["url_userinfo", "long_key"])
def test_no_credential_form_reaches_any_file(tmp_path, monkeypatch, form):
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoAuthHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    secret = "pw-" + "Q7x" * 20 if form == "url_userinfo" else "sk-" + "Zk9" * 139
    if form == "url_userinfo":
        monkeypatch.delenv("OPENAI_API_KEY")
        base_url = f"http://user:{secret}@127.0.0.1:{server.server_port}/v1"
    else:
        monkeypatch.setenv("OPENAI_API_KEY", secret)
        base_url = f"http://127.0.0.1:{server.server_port}/v1"
    try:
        with pytest.raises(SystemExit):
            main(
                [
                    "eval",
                    "--model",
                    "openai:m",
                    "--model-arg",
                    f"base_url={base_url}",
                    "--model-arg",
                    "max_retries=0",
                    "--task",
                    "smoke-gen",
                    "--limit",
                    "2",
                    "--output",
                    str(tmp_path / "run"),
                    "-q",
                ]
            )
    finally:
        server.shutdown()
    forms = [secret[:8], secret[-8:], base64.b64encode(f"user:{secret}".encode()).decode()[:12]]
    written = "".join(p.read_text(errors="replace") for p in (tmp_path / "run").iterdir())
    assert "rejected Authorization" in written  # the error was stored ...
    assert not any(f in written for f in forms)  # ... without the credential in any form


def test_a_killed_run_resends_no_answered_request(tmp_path):
    """Answers are cached as they arrive, not per chunk: SIGKILL mid-chunk, rerun, and
    only the requests that were in flight (at most --concurrency) are sent again."""
    out, env = tmp_path / "run", dict(os.environ, HARNESS_CACHE_DIR=str(tmp_path / "cache"), OPENAI_API_KEY="sk-trust-test")
    with LoopbackOpenAIServer(latency_s=0.25, api_key="sk-trust-test") as server:
        argv = [
            "eval",
            "--model",
            "openai:mock",
            "--model-arg",
            f"base_url={server.base_url}",
            "--task",
            "smoke-gen",
            "--limit",
            "16",
            "--concurrency",
            "2",
            "--output",
            str(out),
            "-q",
        ]
        child = subprocess.Popen([sys.executable, "-m", "harness.cli", *argv], env=env, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while server.stats.successes < 8 and time.monotonic() < deadline:
            time.sleep(0.02)
        child.kill()
        child.wait()
        answered_before = server.stats.successes
        assert 8 <= answered_before < 16 and not (out / "samples.jsonl").exists()  # killed inside the one chunk
        main(argv)
        assert server.stats.successes <= 16 + 2  # only the in-flight ones again
    assert len((out / "samples.jsonl").read_text().splitlines()) == 16


@pytest.mark.parametrize("kind", ["vector", "bank"])
def test_each_malformed_steering_file_is_one_line_and_exit_2(tmp_path, capsys, kind):
    import torch
    from safetensors.torch import save_file

    from harness.adapters.steering.bank import BANK_FORMAT, load_bank
    from harness.adapters.steering.caa import VECTOR_FORMAT, load_vector

    load = load_vector if kind == "vector" else load_bank
    good_meta = (
        {"format": VECTOR_FORMAT, "layer": "0", "model_fingerprint": "f", "meta": "{}"}
        if kind == "vector"
        else {"format": BANK_FORMAT, "layers": "0", "source_length": "3", "model_fingerprint": "f", "position_scheme": "rope", "meta": "{}"}
    )
    good = {"vector": torch.ones(4)} if kind == "vector" else {"layer.0.keys": torch.ones(1, 2, 4), "layer.0.values": torch.ones(1, 2, 4)}
    first = next(iter(good))
    cases = {
        "missing tensor": ({}, good_meta),
        "NaN": ({**good, first: torch.full_like(good[first], float("nan"))}, good_meta),
        "integer dtype": ({**good, first: good[first].long()}, good_meta),
        "wrong shape": ({**good, first: torch.ones(2, 2, 2, 2)}, good_meta),
        "bad meta JSON": (good, {**good_meta, "meta": "{not json"}),
        "missing field": (good, {k: v for k, v in good_meta.items() if k != "model_fingerprint"}),
    }
    if kind == "bank":
        cases["unknown position scheme"] = (good, {**good_meta, "position_scheme": "alibi"})
    path = tmp_path / f"{kind}.safetensors"
    save_file(good, str(path), metadata=good_meta)
    load(path)  # the well-formed file loads
    for name, (tensors, meta) in cases.items():
        save_file(tensors or {"other": torch.ones(1)}, str(path), metadata=meta)
        with pytest.raises(HarnessError) as e:
            load(path)
        assert "\n" not in str(e.value) and "rebuild it" in str(e.value), name


def test_an_unreachable_hub_fails_fast_with_the_fix(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env.update(HF_ENDPOINT="http://127.0.0.1:9", HF_HOME=str(tmp_path / "hf"))  # nothing listens there
    started = time.monotonic()
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "eval",
            "--model",
            "hf:nobody/not-cached",
            "--task",
            "smoke-gen",
            "--output",
            str(tmp_path / "run"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 2 and "cannot be reached" in out.stderr and "local model directory" in out.stderr
    assert time.monotonic() - started < 10


def test_training_and_evaluation_directories_are_never_mixed(tmp_path, capsys):
    train_dir = tmp_path / "trained"
    train_dir.mkdir()
    (train_dir / "config.json").write_text(json.dumps({"kind": "train", "format": "harness-assign-add-run/1", "steps": 3}))
    for extra in ([], ["--overwrite"]):
        with pytest.raises(SystemExit) as exit_info:
            eval_slow("--task", "smoke-gen", "--output", str(train_dir), *extra)
        assert exit_info.value.code == 2 and "is a training run" in capsys.readouterr().err
    assert json.loads((train_dir / "config.json").read_text())["kind"] == "train"


def test_a_cache_that_turns_read_only_mid_run_costs_no_answer(tmp_path, monkeypatch, caplog):
    import sqlite3

    import harness.cache as cache_module

    real_connect = sqlite3.connect

    class ReadOnlyAfterFirstWrite:
        """A connection whose writes fail after the first, as when the disk turns read-only mid-run."""

        def __init__(self, *args, **kwargs):
            self._db, self._writes = real_connect(*args, **kwargs), 0

        def executemany(self, *args):
            self._writes += 1
            if self._writes > 1:
                raise sqlite3.OperationalError("attempt to write a readonly database")
            return self._db.executemany(*args)

        def __getattr__(self, name):
            return getattr(self._db, name)

    monkeypatch.setattr(cache_module.sqlite3, "connect", ReadOnlyAfterFirstWrite)
    with caplog.at_level(logging.WARNING):
        result = run_eval(
            RunConfig(
                model="slow4:x",
                includes=[PLUGIN],
                tasks=["smoke-gen"],
                limit=6,
                chunk_size=2,
                output=tmp_path / "run",
                cache_path=tmp_path / "cache.sqlite",
            )
        )
    assert result.n_errors == 0 and result.results["tasks"]["smoke-gen"]["n"] == 6
    assert "readonly" in caplog.text and caplog.text.count("going on without it") == 1


def test_progress_moves_per_sample_as_answers_arrive():
    from harness.cache import CachedModel
    from harness.registry import create_model
    from harness.runner import _solve_chunk

    task = create_task("smoke-gen", {})
    samples = list(task.samples())[:6]
    with LoopbackOpenAIServer(latency_s=0.3, api_key="sk-trust-test") as server:
        model = create_model("openai:mock", {"base_url": server.base_url, "concurrency": "2"})
        moments: list[float] = []
        started = time.monotonic()
        _solve_chunk(task, samples, CachedModel(model, None), lambda: moments.append(time.monotonic() - started))
        finished = time.monotonic() - started
        model.close()
    assert len(moments) == 6 and moments[0] < finished - 0.5  # the first sample counted long before the chunk ends


def test_an_output_path_that_is_not_utf8_is_one_line_and_leaves_no_temporary(tmp_path, capsys):
    out = Path(os.fsdecode(os.fsencode(str(tmp_path)) + b"/run-\xff"))
    with pytest.raises(SystemExit) as exit_info:
        eval_slow("--task", "smoke-gen", "--limit", "1", "--output", str(out), "-q")
    assert exit_info.value.code == 2 and "not valid UTF-8" in capsys.readouterr().err
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")] and not (out / "run.lock").exists()
