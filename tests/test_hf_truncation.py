"""The hf adapter on inputs longer than the model's window (64 positions here):
left truncation as lm-eval does it, for generation, log-likelihoods and hidden states."""

from __future__ import annotations

import logging

import pytest
import torch

from harness.api import GenerateRequest, LoglikelihoodRequest
from harness.registry import create_model
from harness.testing.tiny_models import build_tiny_gpt2, build_tiny_llama

WINDOW = 64
PASSAGE = (
    "Knowledge: The quick brown fox jumps over the lazy dog. A model reads text and writes text. "
    "Physics: energy E = m c^2, force F = m a, velocity v = d / t, momentum p = m v. "
    "I think, therefore I am. I believe that honesty matters.\n"
)
LONG_QUESTION = PASSAGE * 3 + "Question: What is the answer?\nAnswer:"  # about 300 tokens


@pytest.fixture(scope="module")
def short_gpt2_dir(tmp_path_factory):
    """GPT-2 with a learned table of 64 positions: a position past it raises IndexError."""
    return build_tiny_gpt2(tmp_path_factory.mktemp("gpt2_64"), n_positions=WINDOW)


@pytest.fixture(scope="module")
def short_llama_dir(tmp_path_factory):
    return build_tiny_llama(tmp_path_factory.mktemp("llama_64"), max_position_embeddings=WINDOW)


def adapter(path, **args):
    return create_model(f"hf:{path}", {"device": "cpu", **{k: str(v) for k, v in args.items()}})


def ctx(n):
    return [None] * n


def greedy_on_ids(a, ids, max_tokens):
    """Reference: transformers' generate on the given (already truncated) prompt ids, alone."""
    pad = a.tokenizer.pad_token_id
    out = a.model.generate(torch.tensor([ids]), max_new_tokens=max_tokens, do_sample=False, pad_token_id=pad)
    return a.tokenizer.decode(out[0, len(ids) :], skip_special_tokens=True)


def test_window_comes_from_the_config_unless_max_length_is_given(short_gpt2_dir, short_llama_dir):
    gpt2, llama = adapter(short_gpt2_dir), adapter(short_llama_dir)
    assert (gpt2.max_length, gpt2.max_length_source) == (WINDOW, "config.n_positions")
    assert (llama.max_length, llama.max_length_source) == (WINDOW, "config.max_position_embeddings")
    assert gpt2.tokenizer.model_max_length > 10**7  # the tokenizer's "unset" value is not used
    narrowed = adapter(short_gpt2_dir, max_length=32)
    assert (narrowed.max_length, narrowed.max_length_source) == (32, "model arg max_length")
    assert narrowed.describe()["max_length_source"] == "model arg max_length"


@pytest.mark.parametrize("fixture", ["short_gpt2_dir", "short_llama_dir"])
def test_long_prompts_generate_as_their_truncated_ends(fixture, request, caplog):
    a = adapter(request.getfixturevalue(fixture), batch_size=2)
    prompts = [LONG_QUESTION, "The quick brown fox", PASSAGE * 2 + "I think,", "x", LONG_QUESTION + " The", "A model"]
    budgets = [10, 6, 12, 3, 8, 10]
    with caplog.at_level(logging.WARNING, logger="harness.adapters.hf.adapter"):
        out = a.generate([GenerateRequest(p, max_tokens=n) for p, n in zip(prompts, budgets)], ctx(len(prompts)))
    long_ones = 0
    for p, n, g in zip(prompts, budgets, out):
        ids = a.tokenizer.encode(p)
        long_ones += len(ids) > WINDOW - n
        assert g.error is None
        assert g.text == greedy_on_ids(a, ids[-(WINDOW - n) :], n)
    assert long_ones == 3 and a.truncations.prompts == 3 and a.truncations.tokens_dropped > 500
    warnings = [r for r in caplog.records if "does not fit max_length 64" in r.getMessage()]
    assert len(warnings) == 1  # once per run, the rest counted
    with caplog.at_level(logging.WARNING, logger="harness.adapters.hf.adapter"):
        a.close()
    assert "3 generation prompts" in caplog.records[-1].getMessage()


def test_a_huge_max_tokens_keeps_half_the_window_for_the_prompt(short_gpt2_dir):
    a = adapter(short_gpt2_dir)
    g = a.generate([GenerateRequest(LONG_QUESTION, max_tokens=1000)], ctx(1))[0]
    ids = a.tokenizer.encode(LONG_QUESTION)[-WINDOW // 2 :]
    assert g.finish_reason == "length"
    assert g.text == greedy_on_ids(a, ids, WINDOW // 2)  # prompt + generation fill the window exactly


def test_forward_info_describes_the_truncated_prompt(short_gpt2_dir):
    a = adapter(short_gpt2_dir)
    seen = []

    def hook(module, args, kwargs, output):
        info = a.forward_info
        seen.append((info.prompt_lengths, info.relative_positions(output.shape[1])[0, -1].item(), output.shape[1]))

    handle = a.add_layer_hook(0, hook)
    try:
        a.generate([GenerateRequest(LONG_QUESTION, max_tokens=10)], ctx(1))
    finally:
        handle.remove()
    assert seen[0] == ((WINDOW - 10,), -1, WINDOW - 10)  # the prompt forward covers the kept tokens only
    assert {s[0] for s in seen} == {(WINDOW - 10,)}
    assert [s[1] for s in seen[1:]] == list(range(len(seen) - 1))  # generated tokens at 0, 1, ...


def manual_loglikelihood(a, context_ids, continuation_ids):
    """lm-eval's computation: the last window + 1 tokens of context + continuation, one forward."""
    ids = (context_ids + continuation_ids)[-(WINDOW + 1) :]
    with torch.no_grad():
        logprobs = torch.log_softmax(a.model(torch.tensor([ids[:-1]])).logits[0].float(), -1)
    n = len(ids) - 1 - len(continuation_ids)
    return [float(logprobs[n + i, t]) for i, t in enumerate(continuation_ids)]


@pytest.mark.parametrize("fixture", ["short_gpt2_dir", "short_llama_dir"])
def test_loglikelihood_of_long_contexts_equals_the_truncated_computation(fixture, request):
    a = adapter(request.getfixturevalue(fixture), batch_size=2)
    reqs = [
        LoglikelihoodRequest(LONG_QUESTION, " Yes"),
        LoglikelihoodRequest(LONG_QUESTION, " No"),
        LoglikelihoodRequest(LONG_QUESTION, " The answer is 42."),
        # A short context whose long continuation sets the width of the continuation
        # pass next to the truncated ones (their padding must stay inside the window).
        LoglikelihoodRequest("Question:", " The quick brown fox jumps over the lazy dog. A model reads text."),
        LoglikelihoodRequest(PASSAGE * 2, "I think, therefore I am."),
    ]
    out = a.loglikelihood(reqs, ctx(len(reqs)))
    tok = a.tokenizer
    for req, r in zip(reqs, out):
        context = req.context.rstrip()
        continuation = req.context[len(context) :] + req.continuation
        context_ids = tok.encode(context)
        continuation_ids = tok.encode(context + continuation)[len(context_ids) :]
        expected = manual_loglikelihood(a, context_ids, continuation_ids)
        assert r.error is None
        assert r.token_logprobs == pytest.approx(expected, abs=1e-4)
        assert r.logprob == pytest.approx(sum(expected), abs=1e-4)
    assert a.truncations.contexts == 4


def test_choices_of_equal_length_still_share_one_forward_of_the_truncated_context(short_gpt2_dir):
    a = adapter(short_gpt2_dir)
    assert len(a.tokenizer.encode(" yes")) == len(a.tokenizer.encode(" no")) == 1
    calls, infos = [], []
    handle = a.model.register_forward_pre_hook(lambda m, args, kw: calls.append(kw["input_ids"].shape), with_kwargs=True)
    layer_hook = a.add_layer_hook(0, lambda m, args, kw, out: infos.append(a.forward_info))
    try:
        reqs = [LoglikelihoodRequest(LONG_QUESTION, " yes"), LoglikelihoodRequest(LONG_QUESTION, " no")]
        out = a.loglikelihood(reqs, ctx(2))
    finally:
        handle.remove()
        layer_hook.remove()
    assert calls == [torch.Size([1, WINDOW])]
    assert infos[0].prompt_lengths == (WINDOW,) and infos[0].relative_positions(WINDOW)[0, -1] == -1
    assert all(r.error is None and len(r.token_logprobs) == 1 for r in out)


def test_a_continuation_longer_than_the_window_is_one_errored_request(short_gpt2_dir):
    a = adapter(short_gpt2_dir)
    reqs = [LoglikelihoodRequest("Question:", PASSAGE * 2), LoglikelihoodRequest(LONG_QUESTION, " Yes")]
    too_long, fine = a.loglikelihood(reqs, ctx(2))
    assert too_long.logprob is None and "more than the model's window of 64" in too_long.error
    assert "\n" not in too_long.error and "--model-arg max_length" in too_long.error
    assert fine.error is None and fine.logprob < 0


def test_hidden_states_keep_the_end_of_a_long_text(short_gpt2_dir):
    a = adapter(short_gpt2_dir)
    states = a.hidden_states([LONG_QUESTION, "x"], [0])
    assert states.lengths == (WINDOW, 1)
    assert states.input_ids[0].tolist() == a.tokenizer.encode(LONG_QUESTION)[-WINDOW:]
    with torch.no_grad():  # reference: the kept tokens alone through the model
        alone = a.model(states.input_ids[:1], output_hidden_states=True).hidden_states[1]  # after block 0
    assert torch.allclose(states[0][0], alone[0], atol=1e-5)
