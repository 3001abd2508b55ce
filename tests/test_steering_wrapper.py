"""The --steer wrapper over the hf adapter: prompt, mi and caa, routing, accounting, errors."""

from __future__ import annotations

import pytest
import torch

from harness.adapters.steering import wrap_with_steering
from harness.adapters.steering.bank import save_bank
from harness.adapters.steering.caa import add_from_prompt_end, build_vector, load_vector, save_vector
from harness.adapters.steering.mi import build_bank_for
from harness.api import ChatMessage, GenerateRequest, HarnessError, LoglikelihoodRequest, RequestContext
from harness.registry import create_model

GUIDANCE = "You are very kind and warm."
CHATS = [(ChatMessage("user", "What is 2 + 2?"),), (ChatMessage("user", "Hello there, how are you today?"),)]


def ctx(n):
    return [RequestContext("t", str(i), 0) for i in range(n)]


def logprobs(adapter, requests):
    out = adapter.loglikelihood(requests, ctx(len(requests)))
    assert all(r.error is None for r in out)
    return torch.tensor([r.logprob for r in out], dtype=torch.float64)


@pytest.fixture(scope="module", params=["tiny_llama_dir", "tiny_gpt2_dir"])
def base(request):
    adapter = create_model(f"hf:{request.getfixturevalue(request.param)}", {"dtype": "float32"})
    yield adapter


REQS = [LoglikelihoodRequest(c, a) for c in CHATS for a in (" 4", " Hi there")]


def test_mi_at_all_layers_equals_prompting_and_none_equals_unsteered(base):
    prompted = logprobs(wrap_with_steering(base, "prompt", {"guidance": GUIDANCE}), REQS)
    mi_all = logprobs(wrap_with_steering(base, "mi", {"guidance": GUIDANCE}), REQS)
    mi_none = logprobs(wrap_with_steering(base, "mi", {"guidance": GUIDANCE, "layers": "none"}), REQS)
    unsteered = logprobs(base, REQS)
    assert (mi_all - prompted).abs().max() < 1e-4
    assert torch.equal(mi_none, unsteered)
    assert (prompted - unsteered).abs().max() > 1e-3  # the guidance matters at all
    mi_part = logprobs(wrap_with_steering(base, "mi", {"guidance": GUIDANCE, "layers": "1", "strength": "2"}), REQS)
    assert (mi_part - unsteered).abs().max() > 1e-4 and (mi_part - prompted).abs().max() > 1e-4


def test_mi_generation_batched_matches_single_and_leaves_the_model_unsteered(base):
    steered = wrap_with_steering(base, "mi", {"guidance": GUIDANCE, "layers": "1", "heads": "0", "strength": "1.5"})
    reqs = [GenerateRequest(c, max_tokens=6) for c in CHATS]
    together = [g.text for g in steered.generate(reqs, ctx(2))]
    alone = [steered.generate([r], ctx(1))[0].text for r in reqs]
    assert together == alone
    before = base.loglikelihood(REQS[:1], ctx(1))[0].logprob
    assert base.attention_implementation == "sdpa"  # restored after the steered call
    assert base.loglikelihood(REQS[:1], ctx(1))[0].logprob == before


def test_unsteered_metadata_routes_to_the_plain_model(base):
    steered = wrap_with_steering(base, "prompt", {"guidance": GUIDANCE})
    mixed = [REQS[0], LoglikelihoodRequest(REQS[0].context, REQS[0].continuation, steered=False)]
    got = logprobs(steered, mixed)
    assert got[1] == logprobs(base, REQS[:1])[0]
    assert got[0] != got[1]


def test_fingerprint_and_description_carry_the_steering_config(base):
    a = wrap_with_steering(base, "mi", {"guidance": GUIDANCE, "layers": "all"})
    b = wrap_with_steering(base, "mi", {"guidance": GUIDANCE, "layers": "0"})
    assert len({base.fingerprint(), a.fingerprint(), b.fingerprint()}) == 3
    info = b.describe()["steering"]
    assert info["method"] == "mi" and info["settings"]["layers"] == "0"
    # one layer of the model's layers: the bank stores 1/L of what prompting caches
    n_layers = len(base.decoder_layers())
    assert info["kv_bytes_added_per_sequence"] * n_layers == info["kv_bytes_prompting_equivalent"]
    assert info["latency_ms_per_token"] > 0 and info["latency_ms_per_token_unsteered"] > 0


def test_guidance_schedule_prompt_appends_and_mi_swaps_banks(base):
    other = "You are cold and rude."
    conversation = CHATS[0] + (ChatMessage("assistant", "4"), ChatMessage("user", "And 3 + 3?"))
    schedule = ((0, GUIDANCE), (2, other))
    req = LoglikelihoodRequest(conversation, " 6", guidance_schedule=schedule)
    prompt = wrap_with_steering(base, "prompt", {"shift": "append"})
    rewritten = prompt.method.rewrite(conversation, schedule)
    assert [m.role for m in rewritten] == ["system", "user", "assistant", "system", "user"]
    assert other in rewritten[3].text() and prompt.method.transcript_tokens_added([(0, GUIDANCE), (2, other)]) > 0
    mi = wrap_with_steering(base, "mi", {})
    swapped = logprobs(mi, [req])
    direct = logprobs(wrap_with_steering(base, "mi", {"guidance": other}), [LoglikelihoodRequest(conversation, " 6")])
    first = logprobs(wrap_with_steering(base, "mi", {"guidance": GUIDANCE}), [LoglikelihoodRequest(conversation, " 6")])
    assert torch.equal(swapped, direct) and not torch.equal(swapped, first)
    assert mi.method.transcript_tokens_added([(0, GUIDANCE), (2, other)]) == 0


def test_saved_bank_loads_and_rejects_another_model(base, tmp_path, tiny_qwen3_dir):
    path = tmp_path / "bank.safetensors"
    bank = build_bank_for(base, GUIDANCE)
    save_bank(bank, path)
    from_file = logprobs(wrap_with_steering(base, "mi", {"bank": str(path), "layers": "1"}), REQS)
    from_text = logprobs(wrap_with_steering(base, "mi", {"guidance": GUIDANCE, "layers": "1"}), REQS)
    assert torch.equal(from_file, from_text)
    other = create_model(f"hf:{tiny_qwen3_dir}", {"dtype": "float32"})
    with pytest.raises(HarnessError, match="another model"):
        wrap_with_steering(other, "mi", {"bank": str(path)})


def test_caa_vector_round_trip_and_application_from_prompt_end(base, tmp_path):
    pairs = [("Is the sky blue?\n\nChoices:\n (A) Yes\n (B) No", "A", "B"), ("Do cats bark?\n\nChoices:\n (A) Yes\n (B) No", "B", "A")]
    vector = build_vector(base, pairs, 1, {"trait": "test"})
    path = tmp_path / "v.safetensors"
    save_vector(vector, path)
    assert torch.equal(load_vector(path).vector, vector.vector) and load_vector(path).layer == 1
    zero = logprobs(wrap_with_steering(base, "caa", {"vector": str(path), "multiplier": "0"}), REQS)
    assert torch.equal(zero, logprobs(base, REQS))
    steered = wrap_with_steering(base, "caa", {"vector": str(path), "multiplier": "8"})
    assert (logprobs(steered, REQS) - zero).abs().max() > 1e-3
    # under cached decoding every generated token is steered, row by row as in a batch
    reqs = [GenerateRequest(c, max_tokens=6) for c in CHATS]
    together = [g.text for g in steered.generate(reqs, ctx(2))]
    assert together == [steered.generate([r], ctx(1))[0].text for r in reqs]
    assert together != [g.text for g in base.generate(reqs, ctx(2))]


def test_add_from_prompt_end_leaves_earlier_positions_alone():
    hidden = torch.zeros(2, 5, 3)
    relative = torch.tensor([[-4, -3, -2, -1, 0], [-2, -1, 0, 1, 2]])
    out = add_from_prompt_end(hidden, torch.ones(3), relative)
    assert out[0, :, 0].tolist() == [0, 0, 0, 1, 1] and out[1, :, 0].tolist() == [0, 1, 1, 1, 1]


def test_bad_steering_input_is_one_clear_error(base, tmp_path):
    with pytest.raises(HarnessError, match="unknown steering method 'nope'; use one of caa, mi, prompt"):
        wrap_with_steering(base, "nope", {})
    with pytest.raises(HarnessError, match="unknown steer arg 'colour'"):
        wrap_with_steering(base, "mi", {"colour": "red"})
    with pytest.raises(HarnessError, match="layer 9 does not exist"):
        wrap_with_steering(base, "mi", {"guidance": GUIDANCE, "layers": "9"})
    with pytest.raises(HarnessError, match="not both"):
        wrap_with_steering(base, "mi", {"guidance": GUIDANCE, "bank": "x"})
    with pytest.raises(HarnessError, match="does not exist"):
        wrap_with_steering(base, "caa", {"vector": str(tmp_path / "missing.safetensors")})


def test_non_local_model_is_refused():
    from harness.api import ModelAdapter

    with pytest.raises(HarnessError, match="steering needs a local hf: model"):
        wrap_with_steering(ModelAdapter("x"), "prompt", {"guidance": GUIDANCE})
