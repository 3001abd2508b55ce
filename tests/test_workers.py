"""`--backend ray --workers N` on a local Ray cluster of this machine's CPUs: the same
results as the plain runner, nothing lost or stored twice when a worker is killed,
the cache read by workers and written by the driver alone, clear refusals."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from harness.api import HarnessError
from harness.runner import RunConfig, run_eval

ray = pytest.importorskip("ray")

SLOW_TASK = str(Path(__file__).parent / "plugins" / "slow_tasks.py")


@pytest.fixture(scope="module")
def ray_cluster():
    """One local Ray cluster with this machine's 2 CPUs for the module; run_eval reuses it."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def _results(run_dir: Path) -> dict:
    results = json.loads((run_dir / "results.json").read_text())
    results.pop("elapsed_s")
    return results


def _stored(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines() if line.strip()]


def _config(model_dir, out, **changes) -> RunConfig:
    base = {"model": f"hf:{model_dir}", "tasks": ["smoke-gen", "smoke-choice"], "output": out, "use_cache": False, "chunk_size": 3}
    return RunConfig(**{**base, **changes})


def test_two_workers_give_the_plain_runners_results(ray_cluster, trained_qa_dir, tmp_path):
    plain = run_eval(_config(trained_qa_dir, tmp_path / "plain"))
    one = run_eval(_config(trained_qa_dir, tmp_path / "one", backend="ray", workers=1))
    two = run_eval(_config(trained_qa_dir, tmp_path / "two", backend="ray", workers=2))
    assert plain.results["tasks"]["smoke-gen"]["metrics"]["accuracy"]["value"] > 0  # a model that gets some right
    assert _results(plain.output) == _results(one.output) == _results(two.output)
    by_id = lambda run: {(r["task"], r["id"]): (r["score"], r["responses"]) for r in _stored(run.output)}  # noqa: E731
    assert by_id(plain) == by_id(one) == by_id(two)
    config = json.loads((two.output / "config.json").read_text())
    assert config["config"]["workers"] == 2 and config["config"]["backend"] == "ray"
    assert config["model"]["fingerprint"] == json.loads((plain.output / "config.json").read_text())["model"]["fingerprint"]


def _worker_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if b"ModelWorker" in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


def test_a_killed_worker_loses_and_duplicates_nothing(ray_cluster, trained_qa_dir, tmp_path, caplog):
    reference = run_eval(_config(trained_qa_dir, tmp_path / "plain", tasks=["slow-gen"], includes=[SLOW_TASK]))
    out = tmp_path / "killed"
    killed: list[int] = []

    def kill_one_worker_mid_run() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            stored = out / "samples.jsonl"
            if stored.exists() and stored.read_text().count("\n") >= 3:  # one chunk in, more to come
                pids = _worker_pids()
                if pids:
                    os.kill(pids[0], signal.SIGKILL)
                    killed.append(pids[0])
            time.sleep(0.05)

    killer = threading.Thread(target=kill_one_worker_mid_run)
    killer.start()
    with caplog.at_level(logging.WARNING, logger="harness.workers"):
        run = run_eval(_config(trained_qa_dir, out, tasks=["slow-gen"], includes=[SLOW_TASK], backend="ray", workers=2))
    killer.join()
    assert killed, "no worker was killed: the run ended before the first chunk was stored"
    ids = [r["id"] for r in _stored(out)]
    assert len(ids) == len(set(ids)) == 20
    assert _results(run.output) == _results(reference.output)
    assert any("died" in m for m in caplog.messages)


def test_workers_read_the_cache_and_the_driver_writes_it(ray_cluster, tiny_gpt2_dir, tmp_path):
    cache = tmp_path / "cache.sqlite"
    first = run_eval(_config(tiny_gpt2_dir, tmp_path / "a", use_cache=True, cache_path=cache, backend="ray", workers=2))
    assert first.model_calls == 20 + 40  # 20 generations, 20 two-way log-likelihoods
    again = run_eval(_config(tiny_gpt2_dir, tmp_path / "b", use_cache=True, cache_path=cache, backend="ray", workers=2))
    assert again.model_calls == 0
    assert _results(first.output)["tasks"] == _results(again.output)["tasks"]


def test_impossible_requests_are_refused_at_once(ray_cluster, tiny_gpt2_dir, tmp_path):
    with pytest.raises(HarnessError, match="has 2 CPUs; ask for at most 2"):
        run_eval(_config(tiny_gpt2_dir, tmp_path / "x", backend="ray", workers=3))
    with pytest.raises(HarnessError, match="replicas of a local model"):
        run_eval(RunConfig(model="openai:gpt-4o", tasks=["smoke-gen"], output=tmp_path / "y", backend="ray", workers=2))
    with pytest.raises(HarnessError, match="add --backend ray"):
        run_eval(_config(tiny_gpt2_dir, tmp_path / "z", workers=2))
    with pytest.raises(HarnessError, match=r"^hf model directory '.*no-such-model' does not exist; pass a local model directory"):
        run_eval(_config(tmp_path / "no-such-model", tmp_path / "w", backend="ray", workers=1))


@pytest.mark.slow
def test_a_killed_driver_resumes_with_workers(trained_qa_dir, tmp_path):
    """SIGKILL of `harness eval --backend ray` mid-run, then the same command: complete, nothing twice."""
    out = tmp_path / "run"
    command = [sys.executable, "-m", "harness.cli", "eval", "--model", f"hf:{trained_qa_dir}", "--task", "slow-gen"]
    command += ["--include", SLOW_TASK, "--backend", "ray", "--workers", "2", "--chunk-size", "2", "--no-cache", "-q", "-o", str(out)]
    driver = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and driver.poll() is None:
        stored = out / "samples.jsonl"
        if stored.exists() and stored.read_text().count("\n") >= 4:
            break
        time.sleep(0.05)
    assert driver.poll() is None, "the run ended before it could be killed"
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait()
    partial = len(_stored(out))
    assert 4 <= partial < 20
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
    ids = [r["id"] for r in _stored(out)]
    assert len(ids) == len(set(ids)) == 20
