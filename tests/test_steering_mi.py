"""Memory Inception invariants on tiny random models (Llama and Qwen3 with GQA, GPT-2)."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, DynamicCache

from harness.adapters.hf.adapter import cache_argument
from harness.adapters.steering.attention import ATTENTION_NAME
from harness.adapters.steering.bank import compute_bank, load_bank, model_fingerprint, save_bank
from harness.adapters.steering.injection import BankInjection
from harness.api import HarnessError
from harness.testing.tiny_models import build_tiny_gpt2, build_tiny_llama, build_tiny_qwen3

BUILDERS = {
    "llama": lambda d: build_tiny_llama(
        d,
        num_hidden_layers=4,
        rope_scaling={
            "rope_type": "llama3",
            "factor": 8.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 64,
        },
    ),
    "qwen3": lambda d: build_tiny_qwen3(d, num_hidden_layers=4),
    "gpt2": lambda d: build_tiny_gpt2(d, n_layer=4),
}


@pytest.fixture(scope="module", params=sorted(BUILDERS))
def model(request, tmp_path_factory):
    path = BUILDERS[request.param](tmp_path_factory.mktemp(request.param))
    m = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    m.set_attn_implementation(ATTENTION_NAME)
    return m


def decoder_layers(model):
    return list(model.model.layers if hasattr(model, "model") else model.transformer.h)


def ids(seed: int, n: int) -> torch.Tensor:
    return torch.randint(3, 500, (1, n), generator=torch.Generator().manual_seed(seed))


def inject(model, bank, layers, **kw):
    return BankInjection(model, decoder_layers(model), bank, tuple(layers), **kw)


@torch.no_grad()
def test_bank_at_all_layers_equals_guidance_as_prefix(model):
    guidance, conv = ids(1, 7), ids(2, 9)
    bank = compute_bank(model, guidance, model_fingerprint(model))
    prefix = model(torch.cat([guidance, conv], 1)).logits[:, guidance.shape[1] :]
    with inject(model, bank, range(len(decoder_layers(model)))):
        steered = model(conv).logits
    assert (steered - prefix).abs().max().item() < 1e-4
    # and greedy generation is the same
    with inject(model, bank, range(len(decoder_layers(model)))):
        gen = model.generate(conv, max_new_tokens=6, do_sample=False)[0, conv.shape[1] :]
    gen_prefix = model.generate(torch.cat([guidance, conv], 1), max_new_tokens=6, do_sample=False)[0, -6:]
    assert gen.tolist() == gen_prefix.tolist()


@torch.no_grad()
def test_bank_at_no_layers_is_exactly_unsteered(model):
    conv = ids(3, 11)
    bank = compute_bank(model, ids(4, 5), model_fingerprint(model))
    model.set_attn_implementation("sdpa")
    base = model(conv).logits
    model.set_attn_implementation(ATTENTION_NAME)
    with inject(model, bank, ()):
        none = model(conv).logits
    assert torch.equal(none, base)
    with inject(model, bank, (1,)):
        partial = model(conv).logits
    assert (partial - base).abs().max().item() > 1e-3  # a real bank at one layer changes the output


def _partial_injection(model, bank):
    """Bank at one layer, on one KV group (rotary models) with a logit bias."""
    n_kv = bank.keys[1].shape[0]
    groups = (0,) if n_kv > 1 else None
    return inject(model, bank, (1, 2), groups=groups, strength=1.5)


@torch.no_grad()
def test_batched_left_padded_generation_equals_row_by_row(model):
    bank = compute_bank(model, ids(5, 6), model_fingerprint(model))
    rows = [ids(6, 4)[0], ids(7, 9)[0], ids(8, 6)[0]]
    width = max(len(r) for r in rows)
    pad = 1
    batch = torch.full((3, width), pad)
    mask = torch.zeros((3, width), dtype=torch.long)
    for i, r in enumerate(rows):
        batch[i, width - len(r) :] = r
        mask[i, width - len(r) :] = 1
    with _partial_injection(model, bank):
        together = model.generate(batch, attention_mask=mask, max_new_tokens=5, do_sample=False, pad_token_id=pad)[:, width:]
        for i, r in enumerate(rows):
            alone = model.generate(r[None], max_new_tokens=5, do_sample=False, pad_token_id=pad)[0, len(r) :]
            assert together[i].tolist() == alone.tolist()


@torch.no_grad()
def test_cached_decoding_equals_full_recompute(model):
    bank = compute_bank(model, ids(9, 6), model_fingerprint(model))
    conv = ids(10, 8)
    with _partial_injection(model, bank):
        cache = DynamicCache(config=model.config)
        step_logits = [model(conv[:, :5], use_cache=True, **{cache_argument(model): cache}).logits[:, -1]]
        for t in range(5, 8):
            step_logits.append(model(conv[:, t : t + 1], use_cache=True, **{cache_argument(model): cache}).logits[:, -1])
        full = model(conv).logits[:, 4:]
        # the real cache holds only the visible tokens, never the bank
        assert cache.get_seq_length() == conv.shape[1]
    assert (torch.stack(step_logits, 1) - full).abs().max().item() < 1e-5


@torch.no_grad()
def test_bank_swap_between_turns_changes_behaviour_not_transcript(model):
    fp = model_fingerprint(model)
    bank_a, bank_b = compute_bank(model, ids(11, 6), fp), compute_bank(model, ids(12, 6), fp)
    turn1, turn2 = ids(13, 7), ids(14, 4)
    layers = range(len(decoder_layers(model)))
    outputs = {}
    for name, second in (("keep", bank_a), ("swap", bank_b)):
        cache = DynamicCache(config=model.config)
        with inject(model, bank_a, layers):
            model(turn1, use_cache=True, **{cache_argument(model): cache})
        with inject(model, second, layers):
            outputs[name] = model(turn2, use_cache=True, **{cache_argument(model): cache}).logits
        assert cache.get_seq_length() == turn1.shape[1] + turn2.shape[1]
    assert (outputs["keep"] - outputs["swap"]).abs().max().item() > 1e-3


def test_bank_save_load_round_trip(model, tmp_path):
    bank = compute_bank(model, ids(15, 6), model_fingerprint(model), guidance="be kind", drop_leading=1)
    path = tmp_path / "bank.safetensors"
    save_bank(bank.select((0, 2)), path)
    loaded = load_bank(path)
    assert loaded.layers == (0, 2) and loaded.source_length == 6 and loaded.length == 5
    assert loaded.model_fingerprint == model_fingerprint(model) and loaded.guidance == "be kind"
    assert torch.equal(loaded.keys[2], bank.keys[2]) and torch.equal(loaded.values[0], bank.values[0])
    with pytest.raises(HarnessError, match="no layer 1"):
        loaded.select((1,))
    (tmp_path / "junk.safetensors").write_bytes(b"not a bank")
    with pytest.raises(HarnessError, match="not a readable"):
        load_bank(tmp_path / "junk.safetensors")


def test_fingerprint_ignores_dtype_but_not_weights(model):
    fp = model_fingerprint(model)
    half = AutoModelForCausalLM.from_config(model.config)
    half.load_state_dict(model.state_dict())
    assert model_fingerprint(half.to(torch.bfloat16)) == fp
    with torch.no_grad():
        next(half.parameters()).add_(1.0)
    assert model_fingerprint(half) != fp
