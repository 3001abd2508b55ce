"""A real OpenAI-compatible HTTP server on 127.0.0.1 for tests and benchmarks.

Stdlib only (`ThreadingHTTPServer`, HTTP/1.1 keep-alive). It serves
`GET /v1/models`, `POST /v1/chat/completions` and `POST /v1/completions`
(with `echo` + `logprobs`), answers through a deterministic responder after a
configurable latency, injects failures on demand, and counts what it served so
tests can check that every prompt was answered exactly once.

Failure kinds: "400" (its message echoes the Authorization header, as some
servers do, to test redaction), "429" (with a Retry-After header), "500",
"503", "malformed" (HTTP 200 whose body is not JSON), "empty" (HTTP 200
without choices), "hang" (no answer for `hang_s`, then the connection closes)
and "drop" (the connection closes at once). Faults come from
`faults_per_prompt` (the first attempts of every distinct prompt fail in that
order: exact counts), `always_fail` (a prompt containing the marker always
fails that way) or `fault_rates` (a seeded random draw per request).

The mock language model behind the completions logprobs splits text into
tokens with `tokenize` (leading whitespace + a run of non-spaces) and gives
each token the log-probability `-0.1 * len(token)`; its top alternative at
every position is " a" (-0.2), so a token of at most 2 characters is greedy.
`HFBackend` puts a local transformers model behind the server instead
(greedy answers, real prompt logprobs with the tokenizer's own tokens).

Run standalone (the benchmark does, to keep the server off the client's GIL):
`python -m harness.testing.openai_server --latency-ms 100 --rate-429 0.05`.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import socket
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Literal

FAULT_KINDS: tuple[str, ...] = ("400", "429", "500", "503", "malformed", "empty", "hang", "drop")

GREEDY_ALTERNATIVE = " a"
_TOKEN = re.compile(r"\s*\S+|\s+")


def tokenize(text: str) -> list[str]:
    """The mock model's tokens: concatenated they give back `text` exactly."""
    return _TOKEN.findall(text)


def token_logprob(token: str) -> float:
    return -0.1 * len(token)


@dataclass(frozen=True)
class Call:
    """What the responder sees: the endpoint, the prompt text (for chat, the
    last user message's text) and the whole request body."""

    endpoint: Literal["chat", "completions"]
    prompt: str
    body: dict


def echo_responder(call: Call) -> str:
    """Answers with the prompt itself: deterministic and easy to assert on."""
    return call.prompt


Responder = Callable[[Call], str]
PromptScorer = Callable[[str, str, int], dict]
"""(prompt, generated, top_n) -> {"tokens", "token_logprobs", "top_logprobs",
"text_offset"} over prompt + generated, each tokenized on its own (as a server
appends generated tokens to the prompt's)."""


@dataclass
class ServerStats:
    """Counters, updated under a lock by the handler threads."""

    requests: int = 0
    by_path: Counter = field(default_factory=Counter)
    faults: Counter = field(default_factory=Counter)
    successes: int = 0
    successes_by_prompt: Counter = field(default_factory=Counter)
    attempts_by_prompt: Counter = field(default_factory=Counter)
    max_in_flight: int = 0
    in_flight: int = 0
    authorization_headers: Counter = field(default_factory=Counter)

    def to_json(self) -> dict:
        return {
            "requests": self.requests,
            "by_path": dict(self.by_path),
            "faults": dict(self.faults),
            "successes": self.successes,
            "prompts": len(self.attempts_by_prompt),
            "prompts_answered_once": sum(1 for v in self.successes_by_prompt.values() if v == 1),
            "prompts_answered_more_than_once": sum(1 for v in self.successes_by_prompt.values() if v > 1),
            "max_in_flight": self.max_in_flight,
        }


class _QuietThreadingServer(ThreadingHTTPServer):
    """A deep accept queue (many clients connect at once) and no traceback
    when a client hangs up first (timeout tests do that on purpose); other
    handler errors (a responder bug) are still printed."""

    daemon_threads = True
    request_queue_size = 1024

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class LoopbackOpenAIServer:
    """Context manager: `with LoopbackOpenAIServer(latency_s=0.1) as srv: srv.base_url`."""

    def __init__(
        self,
        responder: Responder = echo_responder,
        *,
        latency_s: float = 0.0,
        faults_per_prompt: tuple[str, ...] = (),
        fault_rates: dict[str, float] | None = None,
        always_fail: dict[str, str] | None = None,
        scorer: PromptScorer | None = None,
        retry_after: str | None = "0",
        hang_s: float = 5.0,
        seed: int = 0,
        models: tuple[str, ...] = ("mock",),
        api_key: str | None = None,
        port: int = 0,
    ):
        for kind in (*faults_per_prompt, *(fault_rates or {}), *(always_fail or {}).values()):
            if kind not in FAULT_KINDS:
                raise ValueError(f"unknown fault '{kind}'; use one of {', '.join(FAULT_KINDS)}")
        if sum((fault_rates or {}).values()) > 1:
            raise ValueError("fault rates add up to more than 1")
        self.responder = responder
        self.scorer = scorer or mock_prompt_logprobs
        self.latency_s = latency_s
        self.faults_per_prompt = tuple(faults_per_prompt)
        self.fault_rates = dict(fault_rates or {})
        self.always_fail = dict(always_fail or {})
        self.retry_after = retry_after
        self.hang_s = hang_s
        self.models = models
        self.api_key = api_key
        self.stats = ServerStats()
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._httpd = _QuietThreadingServer(("127.0.0.1", port), _make_handler(self))
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> LoopbackOpenAIServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (the standalone entry point)."""
        try:
            self._httpd.serve_forever(poll_interval=0.05)
        except KeyboardInterrupt:
            pass
        finally:
            self._httpd.server_close()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> LoopbackOpenAIServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -------------------------------------------------------------- decisions

    def choose_fault(self, prompt_key: str) -> str | None:
        with self._lock:
            attempt = self.stats.attempts_by_prompt[prompt_key]
            self.stats.attempts_by_prompt[prompt_key] += 1
            marked = [kind for marker, kind in self.always_fail.items() if marker in prompt_key]
            if marked:
                return marked[0]
            if attempt < len(self.faults_per_prompt):
                return self.faults_per_prompt[attempt]
            draw = self._rng.random()
        for kind, rate in self.fault_rates.items():
            if draw < rate:
                return kind
            draw -= rate
        return None

    def record(self, **changes) -> None:
        with self._lock:
            for name, value in changes.items():
                counter = getattr(self.stats, name)
                if isinstance(counter, Counter):
                    counter[value] += 1
                else:
                    setattr(self.stats, name, counter + value)
            self.stats.max_in_flight = max(self.stats.max_in_flight, self.stats.in_flight)


# ------------------------------------------------------------------ responses


def _apply_stop_and_limit(text: str, stop: list[str], max_tokens: int | None) -> tuple[str, str]:
    """Cut the answer like a real server: at the earliest stop string
    (excluded), else after `max_tokens` mock tokens."""
    cuts = [i for i in (text.find(s) for s in stop if s) if i >= 0]
    if cuts:
        return text[: min(cuts)], "stop"
    tokens = tokenize(text)
    if max_tokens is not None and len(tokens) > max_tokens:
        return "".join(tokens[:max_tokens]), "length"
    return text, "stop"


def _stop_list(body: dict) -> list[str]:
    stop = body.get("stop") or []
    return [stop] if isinstance(stop, str) else list(stop)


def _max_tokens(body: dict) -> int | None:
    value = body.get("max_completion_tokens", body.get("max_tokens"))
    return int(value) if value is not None else None


def _message_text(content) -> str:
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content if p.get("type") == "text")


def _usage(prompt: str, completion: str) -> dict:
    p, c = len(tokenize(prompt)), len(tokenize(completion))
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


def chat_response(server: LoopbackOpenAIServer, body: dict) -> dict:
    messages = body.get("messages") or []
    users = [m for m in messages if m.get("role") == "user"]
    prompt = _message_text(users[-1]["content"]) if users else ""
    text, finish = _apply_stop_and_limit(server.responder(Call("chat", prompt, body)), _stop_list(body), _max_tokens(body))
    return {
        "id": "chatcmpl-loopback",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model"),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
        "usage": _usage(prompt, text),
    }


def mock_prompt_logprobs(prompt: str, generated: str, top_n: int) -> dict:
    """The mock LM's `logprobs` block: `tokenize` tokens, logprob
    -0.1 * len(token), top alternative " a" (-0.2), none for the first token."""
    tokens = tokenize(prompt) + tokenize(generated)
    offsets, pos = [], 0
    for t in tokens:
        offsets.append(pos)
        pos += len(t)
    lps: list[float | None] = [token_logprob(t) for t in tokens]
    lps[0:1] = [None] * min(1, len(lps))  # the first token has no context
    tops = []
    for t, lp in zip(tokens, lps):
        top = {t: lp, GREEDY_ALTERNATIVE: token_logprob(GREEDY_ALTERNATIVE)}
        tops.append(None if lp is None else dict(sorted(top.items(), key=lambda kv: -kv[1])[: max(top_n, 1)]))
    return {"tokens": tokens, "token_logprobs": lps, "top_logprobs": tops, "text_offset": offsets}


def completion_response(server: LoopbackOpenAIServer, body: dict) -> dict:
    prompt = body.get("prompt", "")
    if isinstance(prompt, list):  # a batch of prompts is not used by the harness adapter
        prompt = prompt[0] if prompt else ""
    answer = server.responder(Call("completions", prompt, body))
    text, finish = _apply_stop_and_limit(answer, _stop_list(body), _max_tokens(body))
    echo = bool(body.get("echo"))
    choice: dict = {"index": 0, "text": prompt + text if echo else text, "finish_reason": finish, "logprobs": None}
    if body.get("logprobs") is not None:
        block = server.scorer(prompt, text, int(body["logprobs"]))
        if not echo:  # only the generated tokens
            keep = [i for i, o in enumerate(block["text_offset"]) if o >= len(prompt)]
            block = {k: [v[i] for i in keep] for k, v in block.items()}
        choice["logprobs"] = block
    return {
        "id": "cmpl-loopback",
        "object": "text_completion",
        "created": int(time.time()),
        "model": body.get("model"),
        "choices": [choice],
        "usage": _usage(prompt, text),
    }


class HFBackend:
    """A local transformers model behind the server: greedy answers
    (`respond`, chat prompts through the tokenizer's chat template) and real
    prompt log-probabilities with the tokenizer's own tokens and character
    offsets (`prompt_logprobs`). One lock: handler threads share the model.
    Use as `LoopbackOpenAIServer(backend.respond, scorer=backend.prompt_logprobs)`."""

    def __init__(self, model_dir):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.model = AutoModelForCausalLM.from_pretrained(model_dir).train(False)  # inference mode
        self._lock = threading.Lock()

    def respond(self, call: Call) -> str:
        import torch

        if call.endpoint == "chat":
            messages = [{"role": m["role"], "content": _message_text(m["content"])} for m in call.body["messages"]]
            text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        else:
            text = call.prompt
        ids = self.tokenizer(text, return_tensors="pt")
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        with self._lock, torch.no_grad():
            out = self.model.generate(**ids, max_new_tokens=_max_tokens(call.body) or 16, do_sample=False, pad_token_id=pad)
        return self.tokenizer.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)

    def prompt_logprobs(self, prompt: str, generated: str, top_n: int) -> dict:
        import torch

        ids, offsets = [], []
        for start, part in ((0, prompt), (len(prompt), generated)):
            enc = self.tokenizer(part, return_offsets_mapping=True, add_special_tokens=False)
            ids += enc["input_ids"]
            offsets += [(start + a, start + b) for a, b in enc["offset_mapping"]]
        with self._lock, torch.no_grad():
            logprobs = self.model(torch.tensor([ids])).logits[0].float().log_softmax(-1)
        token_logprobs: list[float | None] = [None] + [float(logprobs[i - 1, ids[i]]) for i in range(1, len(ids))]
        tops: list[dict | None] = [None]
        for i in range(1, len(ids)):
            values, indices = logprobs[i - 1].topk(max(top_n, 1))
            tops.append({self.tokenizer.decode([int(t)]): float(v) for v, t in zip(values, indices)})
        text = prompt + generated
        return {
            "tokens": [text[a:b] for a, b in offsets],
            "token_logprobs": token_logprobs,
            "top_logprobs": tops,
            "text_offset": [a for a, _ in offsets],
        }


# ------------------------------------------------------------------ HTTP


def _make_handler(server: LoopbackOpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are separate writes: avoid the 40 ms delayed-ACK stall

        def log_message(self, format, *args) -> None:  # quiet: tests read the counters instead
            pass

        def _send_json(self, status: int, payload, headers: dict | None = None) -> None:
            """Status line, headers and body in one write: one syscall, no delayed-ACK stall."""
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            lines = [
                f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}",
                "Content-Type: application/json",
                f"Content-Length: {len(data)}",
                *(f"{k}: {v}" for k, v in (headers or {}).items()),
            ]
            self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode() + data)

        def _error(self, status: int, message: str, headers: dict | None = None) -> None:
            self._send_json(status, {"error": {"message": message, "type": "loopback", "code": status}}, headers)

        def _authorised(self) -> bool:
            header = self.headers.get("Authorization", "")
            server.record(authorization_headers=header)
            if server.api_key is not None and header != f"Bearer {server.api_key}":
                self._error(401, "invalid API key")
                return False
            return True

        def do_GET(self) -> None:
            server.record(requests=1, by_path=self.path)
            if self.path == "/stats":
                self._send_json(200, server.stats.to_json())
            elif self.path == "/health":  # vLLM's readiness route
                self._send_json(200, {})
            elif self.path.rstrip("/") == "/v1/models":
                if self._authorised():
                    self._send_json(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in server.models]})
            else:
                self._error(404, f"no route {self.path}")

        def do_POST(self) -> None:
            server.record(requests=1, by_path=self.path, in_flight=1)
            try:
                self._post()
            finally:
                server.record(in_flight=-1)

        def _post(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if not self._authorised():
                return
            routes = {"/v1/chat/completions": chat_response, "/v1/completions": completion_response}
            route = routes.get(self.path)
            if route is None:
                self._error(404, f"no route {self.path}")
                return
            try:
                body = json.loads(raw)
            except ValueError:
                self._error(400, "request body is not JSON")
                return
            if body.get("stream"):
                self._error(400, "streaming is not supported by the loopback server")
                return
            if body.get("model") not in server.models:
                self._error(404, f"model {body.get('model')!r} not found")
                return
            key = self.path + json.dumps(body.get("messages", body.get("prompt")), sort_keys=True)
            fault = server.choose_fault(key)
            if fault is not None:
                server.record(faults=fault)
                self._send_fault(fault)
                return
            if server.latency_s > 0:
                time.sleep(server.latency_s)
            payload = route(server, body)
            server.record(successes=1, successes_by_prompt=key)
            self._send_json(200, payload)

        def _send_fault(self, fault: str) -> None:
            if fault == "400":
                self._error(400, f"bad request (credentials seen: {self.headers.get('Authorization', '')})")
            elif fault == "429":
                headers = {"Retry-After": server.retry_after} if server.retry_after is not None else {}
                self._error(429, "rate limited", headers)
            elif fault in ("500", "503"):
                self._error(int(fault), "injected server error")
            elif fault == "malformed":
                self._send_json(200, b'{"choices": [{"message": ')
            elif fault == "empty":
                self._send_json(200, {"id": "x", "choices": []})
            else:
                if fault == "hang":
                    time.sleep(server.hang_s)
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    return Handler


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="Serve the loopback OpenAI-compatible mock until interrupted.")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--latency-ms", type=float, default=0.0)
    for kind in FAULT_KINDS:
        p.add_argument(f"--rate-{kind}", type=float, default=0.0, help=f"fraction of requests answered with fault {kind}")
    p.add_argument("--retry-after", default="0")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--model", action="append", default=None)
    a = p.parse_args(argv)
    rates = {k: getattr(a, f"rate_{k}") for k in FAULT_KINDS if getattr(a, f"rate_{k}") > 0}
    srv = LoopbackOpenAIServer(
        latency_s=a.latency_ms / 1000,
        fault_rates=rates,
        retry_after=a.retry_after,
        seed=a.seed,
        models=tuple(a.model or ["mock"]),
        port=a.port,
    )
    print(srv.base_url, flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
