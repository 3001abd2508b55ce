"""The openai: adapter against a real HTTP server on 127.0.0.1 (harness.testing.openai_server)."""

import base64
import email.utils
import json
import socket
import time

import pytest

from harness.adapters.openai_api import (
    Args,
    OpenAIAdapter,
    PermanentError,
    continuation_loglikelihood,
    parse_retry_after,
    proxy_for,
)
from harness.api import ChatMessage, GenerateRequest, HarnessError, LoglikelihoodRequest, RequestContext
from harness.registry import build_args
from harness.testing.openai_server import LoopbackOpenAIServer, echo_responder

FAST = dict(backoff_s=0.01, max_backoff_s=0.2, timeout_s=5.0)


def adapter(srv, **kw):
    return OpenAIAdapter("mock", Args(base_url=srv.base_url, **{**FAST, **kw}))


def contexts(n):
    return [RequestContext("t", f"s{i}", 0) for i in range(n)]


def generate(model, reqs):
    return model.generate(reqs, contexts(len(reqs)))


class Recorder:
    """A responder that echoes and keeps every request body it saw."""

    def __init__(self, answer=echo_responder):
        self.bodies, self.answer = [], answer

    def __call__(self, call):
        self.bodies.append(call.body)
        return self.answer(call)


@pytest.fixture(autouse=True)
def no_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


# ---------------------------------------------------------------- generation


def test_chat_generation_sends_messages_stop_and_limits():
    rec = Recorder()
    with LoopbackOpenAIServer(rec) as srv:
        model = adapter(srv, system_prompt="Be brief.", seed=7)
        try:
            (out,) = generate(model, [GenerateRequest("Paris is nice.\nQuestion: next", stop=("\n", "Question:"), max_tokens=9)])
        finally:
            model.close()
    assert out.error is None and out.text == "Paris is nice." and out.finish_reason == "stop"
    body = rec.bodies[0]
    assert body["model"] == "mock" and body["stop"] == ["\n", "Question:"] and body["max_tokens"] == 9 and body["seed"] == 7
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Paris is nice.\nQuestion: next"},
    ]


def test_completions_generation_reports_length_finish():
    rec = Recorder()
    with LoopbackOpenAIServer(rec) as srv:
        model = adapter(srv, endpoint="completions", max_tokens_field="max_completion_tokens")
        try:
            (out,) = generate(model, [GenerateRequest("one two three four", max_tokens=2, temperature=0.5)])
        finally:
            model.close()
    assert out.text == "one two" and out.finish_reason == "length"
    # max_tokens_field applies to chat only; the completions API knows max_tokens
    assert rec.bodies[0]["prompt"] == "one two three four" and rec.bodies[0]["max_tokens"] == 2
    assert rec.bodies[0]["temperature"] == 0.5 and "stop" not in rec.bodies[0]


def test_more_than_four_stop_sequences_are_applied_locally():
    rec = Recorder()
    with LoopbackOpenAIServer(rec) as srv:
        model = adapter(srv)
        try:
            (out,) = generate(model, [GenerateRequest("alpha beta; gamma", stop=("A", "B", "C", "D", ";"))])
        finally:
            model.close()
    assert rec.bodies[0]["stop"] == ["A", "B", "C", "D"]
    assert out.text == "alpha beta" and out.finish_reason == "stop"


def test_model_args_override_request_settings_and_extra_body_is_merged():
    rec = Recorder()
    with LoopbackOpenAIServer(rec) as srv:
        model = OpenAIAdapter(
            "mock",
            build_args(
                Args,
                {
                    "base_url": srv.base_url,
                    "max_tokens": "50",
                    "temperature": "0.2",
                    "top_p": "0.9",
                    "max_tokens_field": "max_completion_tokens",
                    "extra_body": '{"top_k": 1}',
                },
                "model arg",
                "openai",
            ),
        )
        try:
            generate(model, [GenerateRequest("hi", max_tokens=3, seed=1)])
        finally:
            model.close()
    body = rec.bodies[0]
    assert body["max_completion_tokens"] == 50 and "max_tokens" not in body
    assert body["temperature"] == 0.2 and body["top_p"] == 0.9 and body["top_k"] == 1 and body["seed"] == 1


def test_images_become_base64_data_url_parts(tmp_path):
    png = tmp_path / "dot.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\nfake-pixels")
    rec = Recorder()
    message = ChatMessage("user", ({"type": "text", "text": "What is this?"}, {"type": "image", "path": str(png)}))
    missing = ChatMessage("user", ({"type": "image", "path": str(tmp_path / "gone.png")},))
    with LoopbackOpenAIServer(rec) as srv:
        model = adapter(srv)
        try:
            assert "images" in model.capabilities
            ok, bad = generate(model, [GenerateRequest((message,)), GenerateRequest((missing,))])
        finally:
            model.close()
    assert ok.text == "What is this?" and ok.error is None
    assert bad.text is None and "gone.png" in bad.error
    parts = rec.bodies[0]["messages"][0]["content"]
    assert parts[0] == {"type": "text", "text": "What is this?"}
    url = parts[1]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,") and base64.b64decode(url.split(",", 1)[1]) == png.read_bytes()


def test_requests_run_in_parallel_within_the_limit():
    with LoopbackOpenAIServer(latency_s=0.1) as srv:
        model = adapter(srv, concurrency=16)
        try:
            start = time.perf_counter()
            outs = generate(model, [GenerateRequest(f"q{i}") for i in range(16)])
            elapsed = time.perf_counter() - start
        finally:
            model.close()
        assert [o.text for o in outs] == [f"q{i}" for i in range(16)]  # answers in request order
        assert elapsed < 0.8, f"16 x 100 ms took {elapsed:.2f} s: not parallel"
        assert srv.stats.max_in_flight >= 8
    with LoopbackOpenAIServer(latency_s=0.02) as srv:
        model = adapter(srv, concurrency=3)
        try:
            generate(model, [GenerateRequest(f"q{i}") for i in range(12)])
        finally:
            model.close()
        assert srv.stats.max_in_flight <= 3


# ---------------------------------------------------------------- retries and failures


def test_every_fault_kind_is_retried_and_each_prompt_answered_once():
    faults = ("429", "500", "503", "malformed", "empty", "drop")
    with LoopbackOpenAIServer(faults_per_prompt=faults) as srv:
        model = adapter(srv, max_retries=len(faults), concurrency=4)
        try:
            outs = generate(model, [GenerateRequest(f"p{i}") for i in range(5)])
        finally:
            model.close()
        assert [o.text for o in outs] == [f"p{i}" for i in range(5)] and all(o.error is None for o in outs)
        assert srv.stats.successes == 5 and set(srv.stats.successes_by_prompt.values()) == {1}
        assert srv.stats.faults == {k: 5 for k in faults}
    assert model.stats["retries"] == 5 * len(faults)


def test_retry_after_header_sets_the_wait():
    with LoopbackOpenAIServer(faults_per_prompt=("429",), retry_after="0.4") as srv:
        model = adapter(srv, backoff_s=0.0, max_backoff_s=5.0)  # without Retry-After the retry would be immediate
        try:
            start = time.perf_counter()
            (out,) = generate(model, [GenerateRequest("x")])
            waited = time.perf_counter() - start
        finally:
            model.close()
    assert out.text == "x" and 0.4 <= waited < 2.0


def test_retry_after_is_capped_by_max_backoff():
    with LoopbackOpenAIServer(faults_per_prompt=("429",), retry_after="60") as srv:
        model = adapter(srv, max_backoff_s=0.1)
        try:
            start = time.perf_counter()
            (out,) = generate(model, [GenerateRequest("x")])
        finally:
            model.close()
    assert out.text == "x" and time.perf_counter() - start < 2.0


def test_parse_retry_after_seconds_date_and_milliseconds():
    now = 1_700_000_000.0
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after": email.utils.formatdate(now + 5, usegmt=True)}, now=now) == pytest.approx(5.0)
    assert parse_retry_after({"retry-after": email.utils.formatdate(now - 5, usegmt=True)}, now=now) == 0.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({"retry-after": "soon"}) is None and parse_retry_after({}) is None


def test_hanging_request_times_out_and_is_retried():
    with LoopbackOpenAIServer(faults_per_prompt=("hang",), hang_s=3.0) as srv:
        model = adapter(srv, timeout_s=0.3)
        try:
            start = time.perf_counter()
            (out,) = generate(model, [GenerateRequest("slow")])
            elapsed = time.perf_counter() - start
        finally:
            model.close()
    assert out.text == "slow" and elapsed < 2.0 and model.stats["timeout"] == 1


@pytest.mark.parametrize("retries", [0, 2])
def test_failure_after_retries_is_an_error_response_and_the_batch_goes_on(retries):
    with LoopbackOpenAIServer(always_fail={"BROKEN": "500"}) as srv:
        model = adapter(srv, max_retries=retries)
        try:
            good, bad = generate(model, [GenerateRequest("fine"), GenerateRequest("BROKEN")])
        finally:
            model.close()
        assert good.text == "fine" and good.error is None
        assert bad.text is None and f"after {retries + 1} attempts" in bad.error and "HTTP 500" in bad.error
        assert srv.stats.faults["500"] == retries + 1


def test_client_errors_are_not_retried():
    with LoopbackOpenAIServer(always_fail={"BAD": "400"}) as srv:
        model = adapter(srv, max_retries=5)
        try:
            (out,) = generate(model, [GenerateRequest("BAD")])
        finally:
            model.close()
        assert "HTTP 400" in out.error and srv.stats.faults["400"] == 1


# ---------------------------------------------------------------- start-up checks and secrets


def test_unreachable_server_is_one_clear_harness_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before the adapter connects
    with pytest.raises(HarnessError, match=rf"cannot reach .*127\.0\.0\.1:{port}.*base_url") as e:
        OpenAIAdapter("mock", Args(base_url=f"http://127.0.0.1:{port}/v1"))
    assert "\n" not in str(e.value)


def test_base_url_falls_back_to_the_environment(monkeypatch):
    with LoopbackOpenAIServer() as srv:
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
        model = OpenAIAdapter("mock", Args(**FAST))
        try:
            assert model.describe()["base_url"] == srv.base_url and model.describe()["model_listed_by_server"] is True
            assert generate(model, [GenerateRequest("env")])[0].text == "env"
        finally:
            model.close()


def test_api_key_is_sent_but_never_exposed(monkeypatch):
    secret = "sk-test-0123456789abcdef"
    monkeypatch.setenv("MY_KEY", secret)
    with LoopbackOpenAIServer(api_key=secret, always_fail={"BAD": "400", "DOWN": "500"}) as srv:
        model = adapter(srv, api_key_env="MY_KEY", max_retries=1)
        try:
            ok, bad, down = generate(model, [GenerateRequest("hi"), GenerateRequest("BAD"), GenerateRequest("DOWN")])
            exposed = [model.fingerprint(), json.dumps(model.describe()), repr(model.args), bad.error, down.error]
        finally:
            model.close()
        assert srv.stats.authorization_headers[f"Bearer {secret}"] >= 3
    assert ok.text == "hi" and "***" in bad.error  # the server echoed the key; the adapter redacted it
    assert not any(secret in text for text in exposed)


def test_rejected_key_is_a_harness_error_without_the_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-key-9876")
    with LoopbackOpenAIServer(api_key="sk-right") as srv:
        with pytest.raises(HarnessError, match=r"rejected the API key \(HTTP 401\); set \$OPENAI_API_KEY") as e:
            adapter(srv)
    assert "sk-wrong" not in str(e.value)


def test_proxy_from_the_environment_with_no_proxy_exceptions(monkeypatch):
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert proxy_for("https://api.openai.com/v1") is None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    assert proxy_for("https://api.openai.com/v1") == "http://proxy.internal:3128"
    assert proxy_for("http://127.0.0.1:8000/v1") is None


def test_fingerprint_ignores_operational_settings():
    with LoopbackOpenAIServer() as srv:
        models = [adapter(srv, concurrency=1, max_retries=0), adapter(srv, concurrency=64, timeout_s=1.0), adapter(srv, temperature=0.7)]
        try:
            prints = [m.fingerprint() for m in models]
        finally:
            for m in models:
                m.close()
    assert prints[0] == prints[1] != prints[2]


@pytest.mark.parametrize(
    "raw, problem",
    [
        ({"concurrency": "0"}, "concurrency"),
        ({"base_url": "localhost:8000"}, "base_url"),
        ({"extra_body": "[1, 2]"}, "extra_body"),
        ({"endpoint": "responses"}, "chat, completions"),
    ],
)
def test_bad_model_args_are_harness_errors(raw, problem):
    with pytest.raises(HarnessError, match=problem):
        build_args(Args, raw, "model arg", "model 'openai'")


def test_missing_model_name_is_a_harness_error():
    with pytest.raises(HarnessError, match="openai:<model name>"):
        OpenAIAdapter("", Args(base_url="http://127.0.0.1:9/v1"))


# ---------------------------------------------------------------- log-likelihood


def test_loglikelihood_sums_the_continuation_tokens():
    with LoopbackOpenAIServer() as srv:
        model = adapter(srv, endpoint="completions")
        try:
            assert {"loglikelihood", "token_logprobs"} <= model.capabilities and "images" not in model.capabilities
            short, long, straddle, empty = model.loglikelihood(
                [
                    LoglikelihoodRequest("The answer is", " 4"),
                    LoglikelihoodRequest("The answer is", " 4 or 5"),
                    LoglikelihoodRequest("The ans", "wer"),  # " answer" is one token across the boundary
                    LoglikelihoodRequest("", "Hello"),
                ],
                contexts(4),
            )
        finally:
            model.close()
    # the mock LM: logprob(token) = -0.1 * len(token); its top choice " a" scores -0.2
    assert short.logprob == pytest.approx(-0.2) and short.is_greedy is True and short.token_logprobs == pytest.approx([-0.2])
    assert long.logprob == pytest.approx(-0.7) and long.is_greedy is False and long.token_logprobs == pytest.approx([-0.2, -0.3, -0.2])
    assert straddle.logprob == pytest.approx(-0.7)
    assert empty.logprob is None and "non-empty context" in empty.error


def test_hostile_logprobs_are_a_malformed_response_not_a_crash():
    def hostile(prompt, generated, top_n):
        return {"tokens": [None, 7], "token_logprobs": ["x", {}], "top_logprobs": 5, "text_offset": ["a", None]}

    with LoopbackOpenAIServer(scorer=hostile) as srv:
        model = adapter(srv, endpoint="completions", max_retries=1)
        try:
            (ll,) = model.loglikelihood([LoglikelihoodRequest("a", " b")], contexts(1))
        finally:
            model.close()
        assert ll.logprob is None and "after 2 attempts" in ll.error and "malformed" in ll.error
        assert srv.stats.successes == 2


def test_continuation_offsets_without_text_offset():
    tokens = ["The", " answer", " is", " 4", "\n"]
    choice = {"logprobs": {"tokens": tokens, "token_logprobs": [None, -1.0, -0.5, -2.0, -0.1], "top_logprobs": None}}
    ll = continuation_loglikelihood(choice, "The answer is", " 4")
    assert ll.logprob == -2.0 and ll.is_greedy is None
    with pytest.raises(PermanentError, match="no logprobs"):
        continuation_loglikelihood({"text": "ab", "logprobs": None}, "a", "b")
    with pytest.raises(PermanentError, match="does not reproduce the prompt"):
        continuation_loglikelihood({**choice, "text": "The answer is  4"}, "The answer is", " 4")


def test_loglikelihood_needs_completions_endpoint_and_text_contexts():
    with LoopbackOpenAIServer() as srv:
        chat, completions = adapter(srv), adapter(srv, endpoint="completions")
        try:
            with pytest.raises(HarnessError, match="endpoint=completions"):
                chat.loglikelihood([LoglikelihoodRequest("a", "b")], contexts(1))
            with pytest.raises(HarnessError, match="chat"):
                completions.loglikelihood([LoglikelihoodRequest((ChatMessage("user", "a"),), "b")], contexts(1))
            with pytest.raises(HarnessError, match="endpoint=chat"):
                generate(completions, [GenerateRequest((ChatMessage("user", "a"),))])
        finally:
            chat.close()
            completions.close()


# ---------------------------------------------------------------- a real model behind the server


def test_real_model_behind_the_server_matches_transformers(tiny_gpt2_dir):
    """Greedy answers and echo-logprob log-likelihoods through HTTP equal the
    model's own, with a real BPE tokenizer (tokens found by character offset)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from harness.testing.openai_server import HFBackend

    backend = HFBackend(tiny_gpt2_dir)
    pairs = [("Question: What is the capital of France?\nAnswer:", " Paris"), ("What is 2 + 2?", " 5 apples"), ("x =", " [1, 2]")]
    with LoopbackOpenAIServer(backend.respond, scorer=backend.prompt_logprobs) as srv:
        chat, completions = adapter(srv), adapter(srv, endpoint="completions")
        try:
            (answer,) = generate(chat, [GenerateRequest("What is 2 + 2?", max_tokens=6)])
            lls = completions.loglikelihood([LoglikelihoodRequest(c, x) for c, x in pairs], contexts(len(pairs)))
        finally:
            chat.close()
            completions.close()
    tok, model = AutoTokenizer.from_pretrained(tiny_gpt2_dir), AutoModelForCausalLM.from_pretrained(tiny_gpt2_dir)
    prompt = tok.apply_chat_template([{"role": "user", "content": "What is 2 + 2?"}], tokenize=False, add_generation_prompt=True)
    ids = tok(prompt, return_tensors="pt").input_ids
    greedy = model.generate(ids, max_new_tokens=6, do_sample=False, pad_token_id=tok.eos_token_id)
    assert answer.text == tok.decode(greedy[0, ids.shape[1] :], skip_special_tokens=True)
    for (context, continuation), ll in zip(pairs, lls):
        ctx, cont = tok(context).input_ids, tok(continuation).input_ids
        with torch.no_grad():
            logprobs = model(torch.tensor([ctx + cont])).logits[0].log_softmax(-1)
        rows = logprobs[len(ctx) - 1 : len(ctx) + len(cont) - 1]
        expected = [float(rows[j, t]) for j, t in enumerate(cont)]
        assert ll.error is None and ll.token_logprobs == pytest.approx(expected, abs=1e-4)
        assert ll.logprob == pytest.approx(sum(expected), abs=1e-4)
        assert ll.is_greedy == all(int(rows[j].argmax()) == t for j, t in enumerate(cont))
