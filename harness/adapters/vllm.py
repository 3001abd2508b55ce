"""`vllm:<model>`: a vLLM server as the model under test, started and stopped by the harness.

lm-eval's maintainers advise serving a model with vLLM and calling it as an
OpenAI endpoint rather than driving vLLM in-process; this adapter does both
halves. It starts `vllm serve MODEL` as a subprocess on a free loopback port
(tensor and data parallel sizes are model args), waits for `GET /health`,
answers through the OpenAI adapter (chat or completions for generation, the
completions endpoint with `echo` + `logprobs` for log-likelihoods), and stops
the server when the run ends, on Ctrl-C too. The server's process group is
terminated, then killed; the server also gets SIGTERM if the harness itself
dies (Linux parent-death signal), so no orphan keeps the GPUs.

With `base_url=...` it connects to a server that is already running instead.
Steering methods need the model's forward pass, which a server does not
expose: `--steer` refuses this adapter (use `hf:` for steering).
"""

from __future__ import annotations

import ctypes
import dataclasses
import logging
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from harness.adapters import openai_api
from harness.adapters.openai_api import OpenAIAdapter, redact_url
from harness.api import GenerateRequest, Generation, HarnessError, Loglikelihood, LoglikelihoodRequest, ModelAdapter, RequestContext
from harness.fingerprint import canonical_json
from harness.registry import register_model

log = logging.getLogger(__name__)

HEALTH_POLL_S = 0.5
STOP_GRACE_S = 30.0


@dataclass(frozen=True)
class VLLMArgs:
    base_url: str | None = None  # a running vLLM server (http://HOST:PORT/v1); none: start one
    endpoint: Literal["chat", "completions"] = "chat"  # for generation; log-likelihoods always use completions
    tensor_parallel_size: int = 1  # GPUs per replica (vllm serve --tensor-parallel-size)
    data_parallel_size: int = 1  # replicas behind the one server (vllm serve --data-parallel-size)
    dtype: str = "auto"  # vllm serve --dtype
    max_model_len: int | None = None  # vllm serve --max-model-len
    gpu_memory_utilization: float | None = None  # vllm serve --gpu-memory-utilization
    serve_args: str | None = None  # further vllm serve flags, shell-quoted, e.g. "--enforce-eager --seed 0"
    executable: str = "vllm"  # the vllm command (on PATH, or a path)
    python: str | None = None  # instead: PYTHON -m vllm.entrypoints.openai.api_server (a vLLM in another venv)
    port: int = 0  # 0: a free loopback port
    startup_timeout_s: float = 900.0  # loading weights and compiling can take minutes
    # Client side, as for openai: (see that adapter)
    concurrency: int = 64  # requests in flight; vLLM batches them on the server
    max_retries: int = 5
    timeout_s: float = 600.0
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    system_prompt: str | None = None
    extra_body: str | None = None  # JSON object merged into every request body
    api_key_env: str = "VLLM_API_KEY"  # vLLM's own variable: a server started here requires it when set

    def __post_init__(self):
        checks = [
            (
                self.tensor_parallel_size >= 1 and self.data_parallel_size >= 1,
                "tensor_parallel_size and data_parallel_size must be 1 or more",
            ),
            (self.startup_timeout_s > 0, "startup_timeout_s must be positive"),
            (0 <= self.port < 65536, "port must be between 0 and 65535"),
            (self.gpu_memory_utilization is None or 0 < self.gpu_memory_utilization <= 1, "gpu_memory_utilization must be in (0, 1]"),
        ]
        for ok, problem in checks:
            if not ok:
                raise HarnessError(f"model arg: {problem}")
        if self.serve_args is not None:
            try:
                shlex.split(self.serve_args)
            except ValueError as e:
                raise HarnessError(
                    f"model arg serve_args is not shell-quoted text ({e}); write it like serve_args='--enforce-eager'"
                ) from None
        self.client_args("http://127.0.0.1:1/v1", "chat")  # the openai adapter's own checks, now

    def client_args(self, base_url: str, endpoint: str) -> openai_api.Args:
        shared = {f.name: getattr(self, f.name) for f in dataclasses.fields(openai_api.Args) if hasattr(self, f.name)}
        return openai_api.Args(**{**shared, "base_url": base_url, "endpoint": endpoint})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the harness process dies (Linux), so a
    killed run leaves no server holding the GPUs."""
    if sys.platform.startswith("linux"):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class VLLMServer:
    """One `vllm serve` subprocess: started in its own process group, ready when
    `GET /health` answers 200, stopped by SIGTERM to the group, then SIGKILL."""

    def __init__(self, command: list[str], port: int, env: dict[str, str] | None = None):
        self.command = command
        self.port = port
        self.root = f"http://127.0.0.1:{port}"
        handle, name = tempfile.mkstemp(prefix="harness-vllm-", suffix=".log")
        self.log_path = Path(name)
        with os.fdopen(handle, "wb") as log_file:
            try:
                self.process: subprocess.Popen | None = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # Ctrl-C reaches the harness, which stops the server in order
                    preexec_fn=_die_with_parent,
                    env=env,
                )
            except OSError as e:
                self.log_path.unlink(missing_ok=True)
                raise HarnessError(
                    f"cannot start {shlex.join(command[:3])} ({e.strerror}); install vLLM or pass --model-arg python=..."
                ) from None

    def last_lines(self, n: int = 3) -> str:
        try:
            lines = [line for line in self.log_path.read_text(errors="replace").splitlines() if line.strip()]
        except OSError:
            return ""
        return " | ".join(lines[-n:])

    def wait_healthy(self, timeout_s: float) -> float:
        """Seconds until the server answered /health; one clear error if it exits or never answers."""
        started = time.monotonic()
        while True:
            assert self.process is not None
            code = self.process.poll()
            if code is not None:
                raise HarnessError(
                    f"vllm serve exited with status {code} before it was ready: {self.last_lines() or 'no output'} "
                    f"(full log: {self.log_path}); fix the model args or the model, then rerun"
                )
            try:
                with urllib.request.urlopen(f"{self.root}/health", timeout=5) as resp:
                    if resp.status == 200:
                        return time.monotonic() - started
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() - started > timeout_s:
                raise HarnessError(
                    f"vllm serve did not answer /health within {timeout_s:.0f} s (last output: {self.last_lines() or 'none'}; "
                    f"log: {self.log_path}); raise --model-arg startup_timeout_s=... if loading is slow"
                )
            time.sleep(HEALTH_POLL_S)

    def stop(self, keep_log: bool = False) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                log.warning("vllm serve did not stop within %.0f s of SIGTERM; killing it", STOP_GRACE_S)
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            except ProcessLookupError:
                pass
        try:
            os.killpg(process.pid, signal.SIGKILL)  # workers the server left behind in its group
        except (ProcessLookupError, PermissionError):
            pass
        if not keep_log:
            self.log_path.unlink(missing_ok=True)


@register_model
class VLLMAdapter(ModelAdapter):
    """vLLM behind its OpenAI-compatible server, started here or already running."""

    name = "vllm"
    description = "A vLLM server started for the run (vllm serve; tensor/data parallel sizes as args) or given by base_url."
    Args = VLLMArgs
    capabilities = frozenset({"generate", "loglikelihood", "token_logprobs", "structured_output"})
    steering_refusal = "steering needs the model's forward pass, which a vllm: server does not expose; use --model hf:MODEL with --steer"

    def __init__(self, target: str, args: VLLMArgs | None = None):
        super().__init__(target, args)
        if not target:
            raise HarnessError("name the model to serve: --model vllm:<hub id or local path>, e.g. vllm:Qwen/Qwen3-8B")
        a = self.args
        self.server: VLLMServer | None = None
        self.startup_s: float | None = None
        self._clients: dict[str, OpenAIAdapter] = {}
        try:
            base_url = a.base_url or self._start_server()
            self.base_url = base_url.rstrip("/")
            self._clients["generate"] = OpenAIAdapter(target, a.client_args(self.base_url, a.endpoint))
            self._clients["loglikelihood"] = (
                self._clients["generate"]
                if a.endpoint == "completions"
                else OpenAIAdapter(target, a.client_args(self.base_url, "completions"))
            )
        except BaseException:
            self.close()
            raise
        if a.endpoint == "completions":
            self.capabilities = frozenset({"generate", "loglikelihood", "token_logprobs"})

    def server_command(self, port: int) -> list[str]:
        a = self.args
        if a.python:
            launcher = [a.python, "-m", "vllm.entrypoints.openai.api_server", "--model", self.target]
        else:
            found = shutil.which(a.executable)
            if found is None:
                raise HarnessError(
                    f"'{a.executable}' is not on PATH; install vLLM (pip install vllm), pass --model-arg python=/path/to/venv/bin/python, "
                    "or connect to a running server with --model-arg base_url=http://HOST:PORT/v1"
                )
            launcher = [found, "serve", self.target]
        flags = ["--host", "127.0.0.1", "--port", str(port), "--served-model-name", self.target]
        flags += ["--tensor-parallel-size", str(a.tensor_parallel_size), "--data-parallel-size", str(a.data_parallel_size)]
        flags += ["--dtype", a.dtype]
        if a.max_model_len is not None:
            flags += ["--max-model-len", str(a.max_model_len)]
        if a.gpu_memory_utilization is not None:
            flags += ["--gpu-memory-utilization", str(a.gpu_memory_utilization)]
        return launcher + flags + shlex.split(a.serve_args or "")

    def _start_server(self) -> str:
        port = self.args.port or free_port()
        self.server = VLLMServer(self.server_command(port), port)
        log.info("started vllm serve %s on port %d (log %s)", self.target, port, self.server.log_path)
        try:
            self.startup_s = self.server.wait_healthy(self.args.startup_timeout_s)
        except BaseException:
            self.server.stop(keep_log=True)
            raise
        return f"{self.server.root}/v1"

    def fingerprint(self) -> str:
        """What changes answers: the weights (target), dtype, context length, sampling defaults and
        extra flags, and the server when one was given; not the port, parallel sizes or concurrency."""
        a = self.args
        answer_affecting = {
            "base_url": redact_url(a.base_url) if a.base_url else None,
            "endpoint": a.endpoint,
            "dtype": a.dtype,
            "max_model_len": a.max_model_len,
            "serve_args": a.serve_args,
            "max_tokens": a.max_tokens,
            "temperature": a.temperature,
            "top_p": a.top_p,
            "seed": a.seed,
            "system_prompt": a.system_prompt,
            "extra_body": a.extra_body,
        }
        return f"vllm:{self.target}:{canonical_json(answer_affecting)}"

    def describe(self) -> dict:
        a = self.args
        out = {
            "server": "given by base_url" if a.base_url else "started by the harness",
            "base_url": redact_url(self.base_url),
            "endpoint": a.endpoint,
            "tensor_parallel_size": a.tensor_parallel_size,
            "data_parallel_size": a.data_parallel_size,
        }
        if self.server is not None:
            out["command"] = shlex.join(self.server.command)
            out["startup_s"] = round(self.startup_s or 0.0, 2)
        return out

    def _answer_with(self, client: OpenAIAdapter, call):
        client.answered_sink = self.answered_sink  # answers reach the runner's cache as they arrive
        try:
            return call()
        finally:
            client.answered_sink = None

    def generate(self, requests: list[GenerateRequest], contexts: list[RequestContext]) -> list[Generation]:
        client = self._clients["generate"]
        return self._answer_with(client, lambda: client.generate(requests, contexts))

    def loglikelihood(self, requests: list[LoglikelihoodRequest], contexts: list[RequestContext]) -> list[Loglikelihood]:
        client = self._clients["loglikelihood"]
        return self._answer_with(client, lambda: client.loglikelihood(requests, contexts))

    def close(self) -> None:
        for client in {id(c): c for c in self._clients.values()}.values():
            client.close()
        self._clients = {}
        if self.server is not None:
            self.server.stop()
            self.server = None
