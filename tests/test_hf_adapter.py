"""The hf adapter: batched decoding, stops, log-likelihoods, args, errors."""

from __future__ import annotations

import json

import pytest
import torch

from harness.api import ChatMessage, GenerateRequest, HarnessError, LoglikelihoodRequest
from harness.registry import create_model
from harness.testing.tiny_models import QA_PAIRS

PROMPTS = [
    "The quick brown fox",
    "Question: What is the answer?\nAnswer:",
    "x",
    "def add(a, b):\n    return a + b\n\nx = [1, 2, 3]\nprint(x)\nPhysics: energy E = m c^2",
    "I think, therefore",
    "Mathematics: \\frac{1}{2} + \\frac{1}{3} =",
    "Yes No",
]


def adapter(path, **args):
    return create_model(f"hf:{path}", {k: str(v) for k, v in args.items()})


def ctx(n):
    return [None] * n


def unbatched_greedy(a, prompt, max_tokens):
    """Reference: transformers' own generate, one prompt at a time."""
    ids = a.tokenizer(prompt, return_tensors="pt")
    out = a.model.generate(**ids, max_new_tokens=max_tokens, do_sample=False, pad_token_id=a.tokenizer.pad_token_id)
    return a.tokenizer.decode(out[0, ids.input_ids.shape[1] :], skip_special_tokens=True)


def count_forwards(model):
    calls = []
    handle = model.register_forward_pre_hook(lambda m, args, kwargs: calls.append(kwargs["input_ids"].shape), with_kwargs=True)
    return calls, handle


@pytest.mark.parametrize("fixture", ["tiny_gpt2_dir", "tiny_llama_dir", "tiny_qwen3_dir"])
def test_batched_greedy_equals_unbatched_generate(fixture, request):
    a = adapter(request.getfixturevalue(fixture), batch_size=3, device="cpu")
    budgets = [12, 5, 9, 1, 12, 7, 3]
    out = a.generate([GenerateRequest(p, max_tokens=n) for p, n in zip(PROMPTS, budgets)], ctx(len(PROMPTS)))
    for p, n, g in zip(PROMPTS, budgets, out):
        assert g.error is None
        assert g.text == unbatched_greedy(a, p, n)
        assert g.finish_reason in ("length", "stop")


def test_waiting_requests_join_the_running_batch(tiny_llama_dir):
    a = adapter(tiny_llama_dir, batch_size=2, device="cpu")
    budgets = [2, 12, 3, 9, 1, 6, 12]
    forwards = []
    handle = a.add_layer_hook(0, lambda m, args, kw, out: forwards.append((a.forward_info.offset, a.forward_info.rows)))
    try:
        out = a.generate([GenerateRequest(p, max_tokens=n) for p, n in zip(PROMPTS, budgets)], ctx(len(PROMPTS)))
    finally:
        handle.remove()
    assert [g.text for g in out] == [unbatched_greedy(a, p, n) for p, n in zip(PROMPTS, budgets)]
    assert max(len(rows) for _, rows in forwards) == 2
    # a prompt pass (offset 0) for a newcomer, then steps that decode it with a row already running
    joined = [i for i, (offset, rows) in enumerate(forwards) if offset == 0 and i > 0 and forwards[i - 1][0] > 0]
    assert any(len(forwards[i + 1][1]) == 2 and forwards[i][1][0] in forwards[i + 1][1] for i in joined)


def test_empty_prompt_is_conditioned_on_the_prefix_token(tiny_gpt2_dir):
    a = adapter(tiny_gpt2_dir, device="cpu")
    g = a.generate([GenerateRequest("", max_tokens=4), GenerateRequest("x", max_tokens=4)], ctx(2))
    eos = a.tokenizer.eos_token_id
    ref = a.model.generate(torch.tensor([[eos]]), max_new_tokens=4, do_sample=False, pad_token_id=a.tokenizer.pad_token_id)
    assert g[0].text == a.tokenizer.decode(ref[0, 1:], skip_special_tokens=True)


def test_stop_strings_cut_text_even_inside_a_token(trained_qa_dir):
    a = adapter(trained_qa_dir, device="cpu")
    reqs = [
        GenerateRequest("What is the capital of France?", stop=("ri",), max_tokens=8),
        GenerateRequest("What is the capital of France?", stop=("s\n",), max_tokens=8),  # spans two tokens
        GenerateRequest("What is 2 + 2?", stop=("\n",), max_tokens=8),
        GenerateRequest("What is 2 + 2?", max_tokens=8),
        GenerateRequest("What is 2 + 2?", max_tokens=1),
        GenerateRequest("What is 2 + 2?", stop=(" ",), max_tokens=8),  # stop at the very start
        GenerateRequest("What is 2 + 2?", stop=("", "zzz"), max_tokens=8),  # empty stop ignored
    ]
    out = a.generate(reqs, ctx(len(reqs)))
    assert [(g.text, g.finish_reason) for g in out] == [
        (" Pa", "stop"),
        (" Pari", "stop"),
        (" 4", "stop"),
        (" 4\n", "stop"),  # end-of-text token: not part of the text
        (" 4", "length"),
        ("", "stop"),
        (" 4\n", "stop"),
    ]


def test_finished_rows_leave_the_batch(trained_qa_dir):
    a = adapter(trained_qa_dir, device="cpu", batch_size=8)
    long_prompt = "The quick brown fox"
    reqs = [GenerateRequest(q, stop=("\n",), max_tokens=30) for q, _ in QA_PAIRS] + [GenerateRequest(long_prompt, max_tokens=30)]
    calls, handle = count_forwards(a.model)
    try:
        out = a.generate(reqs, ctx(len(reqs)))
    finally:
        handle.remove()
    assert [g.text for g in out[:5]] == [f" {ans}" for _, ans in QA_PAIRS]
    rows = [shape[0] for shape in calls]
    assert rows[0] == 6 and min(rows) == 1  # the QA rows left after a few tokens
    assert sum(rows) < 6 * len(rows) / 2
    assert out[5].text == unbatched_greedy(a, long_prompt, 30)


def test_sampling_is_reproducible_per_request_seed(tiny_llama_dir):
    a = adapter(tiny_llama_dir, device="cpu", batch_size=4)
    sampled = GenerateRequest("The quick", max_tokens=10, temperature=1.0, seed=7)
    alone = a.generate([sampled], ctx(1))[0].text
    mixed = a.generate(
        [GenerateRequest("x", max_tokens=3), sampled, GenerateRequest("I think", max_tokens=10, temperature=1.0, seed=8)], ctx(3)
    )
    assert mixed[1].text == alone
    assert mixed[2].text != alone
    assert alone != a.generate([GenerateRequest("The quick", max_tokens=10)], ctx(1))[0].text


def manual_loglikelihood(a, context_ids, continuation_ids):
    ids = torch.tensor([context_ids + continuation_ids])
    with torch.no_grad():
        logprobs = torch.log_softmax(a.model(ids).logits[0].float(), -1)
    n = len(context_ids)
    return [float(logprobs[n - 1 + i, t]) for i, t in enumerate(continuation_ids)]


@pytest.mark.parametrize("fixture", ["tiny_gpt2_dir", "tiny_llama_dir"])
def test_loglikelihood_equals_full_sequence_computation(fixture, request):
    a = adapter(request.getfixturevalue(fixture), device="cpu", batch_size=2)
    reqs = [
        LoglikelihoodRequest("The quick brown fox", " jumps over the lazy dog"),
        LoglikelihoodRequest("x", " Yes"),
        LoglikelihoodRequest(PROMPTS[3], " No"),
        LoglikelihoodRequest(PROMPTS[3], " Yes"),
        LoglikelihoodRequest("Answer: ", "Yes"),  # trailing space moves into the continuation
    ]
    out = a.loglikelihood(reqs, ctx(len(reqs)))
    tok = a.tokenizer
    for req, r in zip(reqs, out):
        context = req.context.rstrip()
        continuation = req.context[len(context) :] + req.continuation
        context_ids = tok.encode(context)
        continuation_ids = tok.encode(context + continuation)[len(context_ids) :]
        expected = manual_loglikelihood(a, context_ids, continuation_ids)
        assert r.token_logprobs == pytest.approx(expected, abs=1e-5)
        assert r.logprob == pytest.approx(sum(expected), abs=1e-5)


def test_loglikelihood_greedy_flag_and_empty_context(trained_qa_dir):
    a = adapter(trained_qa_dir, device="cpu")
    reqs = [
        LoglikelihoodRequest("What is 2 + 2?", " 4\n"),
        LoglikelihoodRequest("What is 2 + 2?", " 5\n"),
        LoglikelihoodRequest("", "What"),
        LoglikelihoodRequest("What is 2 + 2?", ""),
    ]
    out = a.loglikelihood(reqs, ctx(len(reqs)))
    assert out[0].is_greedy is True and out[0].logprob > -0.1
    assert out[1].is_greedy is False and out[1].logprob < -5
    eos = a.tokenizer.eos_token_id
    assert out[2].token_logprobs == pytest.approx(manual_loglikelihood(a, [eos], a.tokenizer.encode("What")), abs=1e-5)
    assert (out[3].logprob, out[3].token_logprobs) == (0.0, [])


def test_shared_context_runs_one_forward_pass(tiny_gpt2_dir):
    a = adapter(tiny_gpt2_dir, device="cpu")
    assert len(a.tokenizer.encode(" No")) == 1 and len(a.tokenizer.encode(" yes")) == 1
    calls, handle = count_forwards(a.model)
    try:
        a.loglikelihood([LoglikelihoodRequest("Is the sky blue?", c) for c in (" No", " yes")], ctx(2))
        assert len(calls) == 1
        calls.clear()
        # a multi-token continuation adds one pass over the continuations only, on the cached prompt
        a.loglikelihood([LoglikelihoodRequest("Is the sky blue?", c) for c in (" No", " Yes", " maybe not")], ctx(3))
        prompt_len = len(a.tokenizer.encode("Is the sky blue?"))
        assert [c[1] for c in calls] == [prompt_len, max(len(a.tokenizer.encode(c)) for c in (" Yes", " maybe not")) - 1]
    finally:
        handle.remove()


def test_chat_template_on_and_off(trained_qa_dir):
    chat = (ChatMessage("system", "Be brief."), ChatMessage("user", "What is 2 + 2?"))
    on = adapter(trained_qa_dir, device="cpu")
    assert on.render(chat) == "<|system|>Be brief.<|end|>\n<|user|>What is 2 + 2?<|end|>\n<|assistant|>"
    off = adapter(trained_qa_dir, device="cpu", chat_template="false")
    assert off.render(chat) == "Be brief.\n\nWhat is 2 + 2?"
    assert on.describe()["chat_template"] is True and off.describe()["chat_template"] is False
    assert on.fingerprint() != off.fingerprint()
    q = (ChatMessage("user", "What is 2 + 2?"),)
    assert on.generate([GenerateRequest(q, max_tokens=5)], ctx(1))[0].text == " 4\n"
    # a chat context is scored after the rendered prompt with the assistant turn opened
    ll = on.loglikelihood([LoglikelihoodRequest(q, " 4\n")], ctx(1))[0]
    ids = on.tokenizer.encode(on.render(q))
    assert ll.token_logprobs == pytest.approx(manual_loglikelihood(on, ids, on.tokenizer.encode(" 4\n")), abs=1e-5)


def test_image_prompt_is_one_errored_request(tiny_gpt2_dir):
    a = adapter(tiny_gpt2_dir, device="cpu")
    image = (ChatMessage("user", ({"type": "image", "path": "x.png"},)),)
    out = a.generate([GenerateRequest(image, max_tokens=2), GenerateRequest("x", max_tokens=2)], ctx(2))
    assert out[0].error and "images" in out[0].error and out[0].text is None
    assert out[1].error is None and out[1].text is not None


def test_dtype_and_device_args(tiny_llama_dir):
    a = adapter(tiny_llama_dir, device="cpu", dtype="bfloat16")
    assert a.model.dtype == torch.bfloat16 and a.device == torch.device("cpu")
    assert a.describe()["dtype"] == "bfloat16"
    assert a.generate([GenerateRequest("The quick", max_tokens=3)], ctx(1))[0].error is None
    assert a.kv_bytes_per_token() == 2 * 2 * 16 * 2 * 2  # layers, KV heads, head_dim, K+V, bf16 bytes
    assert adapter(tiny_llama_dir, device="cpu").kv_bytes_per_token() == 2 * 2 * 16 * 2 * 4
    if not torch.cuda.is_available():
        with pytest.raises(HarnessError, match="no CUDA GPU"):
            adapter(tiny_llama_dir, device="cuda")
    for key, value, message in [("device", "gpu0", "device=gpu0"), ("dtype", "float8", "float8"), ("batch_size", "0", "at least 1")]:
        with pytest.raises(HarnessError, match=message):
            adapter(tiny_llama_dir, **{key: value})


def test_load_failures_are_one_line_harness_errors(tmp_path):
    with pytest.raises(HarnessError, match="hf model directory .* does not exist"):
        adapter(tmp_path / "missing", device="cpu")
    (tmp_path / "empty").mkdir()
    for target in (tmp_path / "empty", "no-such-org/no-such-model-xyz"):
        with pytest.raises(HarnessError) as err:
            adapter(target, device="cpu")
        assert "cannot load hf model" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(HarnessError, match="hf needs a model"):
        create_model("hf", {})


def test_max_length_truncates_prompts_from_the_left(tiny_gpt2_dir):
    a = adapter(tiny_gpt2_dir, device="cpu", max_length=8)
    long = "The quick brown fox jumps over the lazy dog. A model reads text."
    g = a.generate([GenerateRequest(long, max_tokens=4)], ctx(1))[0]
    ids = a.tokenizer.encode(long)[-4:]
    out = a.model.generate(torch.tensor([ids]), max_new_tokens=4, do_sample=False, pad_token_id=a.tokenizer.pad_token_id)
    assert g.text == a.tokenizer.decode(out[0, 4:], skip_special_tokens=True)
    huge = a.generate([GenerateRequest(long, max_tokens=10_000)], ctx(1))[0]
    assert (huge.text, huge.finish_reason) == (g.text, g.finish_reason)  # prompt kept at half the window
    too_long = a.loglikelihood([LoglikelihoodRequest("x", " the lazy dog jumps over the fox again")], ctx(1))[0]
    assert too_long.error and "max_length" in too_long.error


def test_end_to_end_through_the_runner(trained_qa_dir, tmp_path):
    from harness.runner import RunConfig, run_eval

    result = run_eval(
        RunConfig(
            model=f"hf:{trained_qa_dir}",
            tasks=["smoke-gen", "smoke-choice"],
            model_args={"device": "cpu"},
            limit=2,
            batch_size=2,
            output=tmp_path / "run",
            use_cache=False,
        )
    )
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["tasks"]["smoke-gen"]["metrics"]["accuracy"]["value"] == 1.0
    choice = results["tasks"]["smoke-choice"]
    assert choice["n"] == 2 and choice["metrics"]["accuracy"]["ci95"] is not None
    records = [json.loads(line) for line in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    logprobs = [r["fields"]["logprobs"] for r in records if r["task"] == "smoke-choice"]
    assert all(len(lp) == 2 and all(x < 0 for x in lp) for lp in logprobs)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["model"]["architecture"] == "GPT2LMHeadModel"
    assert result.n_errors == 0
