"""The public hooks the steering wrappers use: layers, hooks, hidden states, forward_info."""

from __future__ import annotations

import pytest
import torch

from harness.adapters.hf import layer_hidden, with_layer_hidden
from harness.api import GenerateRequest, HarnessError, LoglikelihoodRequest
from harness.registry import create_model


def adapter(path, **args):
    return create_model(f"hf:{path}", {"device": "cpu", **{k: str(v) for k, v in args.items()}})


@pytest.fixture(scope="module")
def llama(tiny_llama_dir):
    return adapter(tiny_llama_dir, batch_size=2)


@pytest.fixture(scope="module")
def gpt2(tiny_gpt2_dir):
    return adapter(tiny_gpt2_dir, batch_size=2)


def test_decoder_layers_found_for_each_family(llama, gpt2, tiny_qwen3_dir):
    assert llama.decoder_layers() == list(llama.model.model.layers)
    assert gpt2.decoder_layers() == list(gpt2.model.transformer.h)
    assert len(adapter(tiny_qwen3_dir).decoder_layers()) == 2


@pytest.mark.parametrize("name", ["llama", "gpt2"])
def test_hidden_states_of_padded_rows_equal_each_text_alone(name, request):
    a = request.getfixturevalue(name)
    texts = ["The quick brown fox jumps over the lazy dog.", "Hi", "Question: What is the answer?"]
    hs = a.hidden_states(texts, [0, 1])
    assert hs.lengths == tuple(len(a.tokenizer.encode(t)) for t in texts)
    assert hs.attention_mask.sum(1).tolist() == list(hs.lengths)
    for i, text in enumerate(texts):
        with torch.no_grad():
            alone = a.model(torch.tensor([a.tokenizer.encode(text)]), output_hidden_states=True).hidden_states
        n = hs.lengths[i]
        # hidden_states[1] is the output of block 0 (before any final norm)
        assert torch.allclose(hs[0][i, -n:], alone[1][0], atol=1e-5)
    with pytest.raises(HarnessError, match="layer 5 does not exist"):
        a.hidden_states(texts, [5])


def test_layer_hook_replaces_output_and_is_removable(llama):
    req = [LoglikelihoodRequest("The quick brown", " fox")]
    base = llama.loglikelihood(req, [None])[0].logprob

    def zero_block_1(module, args, kwargs, output):
        return with_layer_hidden(output, torch.zeros_like(layer_hidden(output)))

    handle = llama.add_layer_hook(1, zero_block_1)
    try:
        steered = llama.loglikelihood(req, [None])[0].logprob
    finally:
        handle.remove()
    assert abs(steered - base) > 1e-3
    assert llama.loglikelihood(req, [None])[0].logprob == pytest.approx(base, abs=1e-6)
    with pytest.raises(HarnessError, match="layer 9 does not exist"):
        llama.add_layer_hook(9, zero_block_1)


def test_forward_info_tracks_prompt_end_under_cached_decoding(llama):
    seen = []

    def record(module, args, kwargs, output):
        info = llama.forward_info
        hidden = layer_hidden(output)
        seen.append((info.kind, info.rows, info.offset, info.relative_positions(hidden.shape[1]).tolist()))

    prompts = ["The quick brown fox jumps", "Hi"]
    n0, n1 = (len(llama.tokenizer.encode(p)) for p in prompts)
    handle = llama.add_layer_hook(0, record)
    try:
        llama.generate([GenerateRequest(prompts[0], max_tokens=3), GenerateRequest(prompts[1], max_tokens=1)], [None, None])
    finally:
        handle.remove()
    assert llama.forward_info is None
    kind, rows, offset, rel = seen[0]
    assert (kind, rows, offset) == ("generate", (0, 1), 0)
    assert rel[0][-1] == -1 and rel[1][-1] == -1  # each row's last prompt token, despite left padding
    assert rel[1][n0 - n1] == -n1  # the short row's first real token
    # the short request finished after one token and left the batch; the long one decodes on
    assert [(s[1], s[2], s[3]) for s in seen[1:]] == [((0,), n0, [[0]]), ((0,), n0 + 1, [[1]])]


def test_forward_info_for_loglikelihood_continuations(gpt2):
    seen = []
    handle = gpt2.add_layer_hook(0, lambda m, a, k, out: seen.append((gpt2.forward_info, layer_hidden(out).shape[1])))
    try:
        gpt2.loglikelihood([LoglikelihoodRequest("Is the sky blue?", " maybe not")], [None])
    finally:
        handle.remove()
    (prompt_info, prompt_len), (cont_info, cont_len) = seen
    assert prompt_info.kind == cont_info.kind == "loglikelihood"
    assert prompt_info.relative_positions(prompt_len).tolist()[0][-1] == -1
    assert cont_info.relative_positions(cont_len).tolist()[0] == list(range(cont_len))


def test_attention_implementation_switch(gpt2):
    req = [LoglikelihoodRequest("The quick brown", " fox")]
    sdpa = gpt2.loglikelihood(req, [None])[0].logprob
    gpt2.set_attention_implementation("eager")
    try:
        assert gpt2.attention_implementation == "eager"
        assert gpt2.loglikelihood(req, [None])[0].logprob == pytest.approx(sdpa, abs=1e-5)
    finally:
        gpt2.set_attention_implementation("sdpa")
    with pytest.raises(HarnessError, match="attention implementation"):
        gpt2.set_attention_implementation("no-such-kernel")
