"""Attach a KV bank to selected attention layers of a loaded model (and detach it)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from harness.adapters.steering import attention
from harness.adapters.steering.bank import KVBank, absolute_position_embedding
from harness.api import HarnessError


def attention_module(decoder_layer: torch.nn.Module) -> torch.nn.Module:
    """The self-attention module of a decoder layer (Llama `self_attn`, GPT-2 `attn`)."""
    for name in ("self_attn", "attn", "attention"):
        module = getattr(decoder_layer, name, None)
        if isinstance(module, torch.nn.Module):
            return module
    raise HarnessError(f"cannot find the self-attention of {type(decoder_layer).__name__}; KV banks do not support it")


def kv_head_count(decoder_layer: torch.nn.Module) -> int:
    attn = attention_module(decoder_layer)
    n_heads = getattr(attn, "num_heads", None) or attn.config.num_attention_heads
    return n_heads // getattr(attn, "num_key_value_groups", 1)


def group_head_bias(n_kv: int, n_heads: int, groups: tuple[int, ...] | None, strength: float) -> torch.Tensor | None:
    """Per query head bias on the bank columns: `strength` for heads in the chosen
    KV groups, hidden (-inf) for the others; None when it would be all zero."""
    if groups is None and strength == 0.0:
        return None
    bias = torch.full((n_heads,), float(strength))
    if groups is not None:
        per_group = n_heads // n_kv
        visible = torch.zeros(n_heads, dtype=torch.bool)
        for g in groups:
            visible[g * per_group : (g + 1) * per_group] = True
        bias[~visible] = float("-inf")
    return bias


@dataclass
class BankInjection:
    """Installs a bank at `layers` (a subset of the bank's) while active. With an
    absolute-position model and at least one layer, the conversation's position
    ids are shifted by the bank's source length so the bank sits before it."""

    model: torch.nn.Module
    decoder_layers: list[torch.nn.Module]
    bank: KVBank
    layers: tuple[int, ...]
    groups: tuple[int, ...] | None = None
    strength: float = 0.0

    def __post_init__(self):
        self._attached: list[torch.nn.Module] = []
        self._shift_handle = None

    def install(self) -> None:
        for l in self.layers:
            layer = self.decoder_layers[l]
            n_kv = self.bank.keys[l].shape[0]
            if n_kv != kv_head_count(layer):
                raise HarnessError(
                    f"the bank has {n_kv} KV heads at layer {l} but the model {kv_head_count(layer)}; rebuild it for this model"
                )
            module = attention_module(layer)
            n_heads = n_kv * getattr(module, "num_key_value_groups", 1)
            if self.groups is not None and any(not 0 <= g < n_kv for g in self.groups):
                raise HarnessError(f"heads: KV group out of range; the model has groups 0-{n_kv - 1}")
            bias = group_head_bias(n_kv, n_heads, self.groups, self.strength)
            attention.attach(module, attention.LayerBank(self.bank.keys[l], self.bank.values[l], bias))
            self._attached.append(module)
        if self.bank.position_scheme == "absolute" and self.layers:
            wpe = absolute_position_embedding(self.model)
            offset = self.bank.source_length
            limit = wpe.num_embeddings

            def shift(module, args):
                positions = args[0] + offset
                if int(positions.max()) >= limit:
                    raise ValueError(f"bank ({offset} tokens) plus conversation exceed the model's {limit} positions; shorten the guidance")
                return (positions,) + tuple(args[1:])

            self._shift_handle = wpe.register_forward_pre_hook(shift)

    def remove(self) -> None:
        for module in self._attached:
            attention.detach(module)
        self._attached.clear()
        if self._shift_handle is not None:
            self._shift_handle.remove()
            self._shift_handle = None

    def __enter__(self) -> BankInjection:
        self.install()
        return self

    def __exit__(self, *exc) -> None:
        self.remove()
