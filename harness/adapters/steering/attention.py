"""The Memory Inception attention backend.

Registered in transformers' AttentionInterface and AttentionMaskInterface under
`harness_mi`. Layers without a bank run the stock sdpa path with the same
arguments (so an empty selection is bitwise the unsteered model); layers with a
bank see its keys/values prepended to the conversation's, with an explicit mask
(sdpa would otherwise cut keys beyond q_len) whose bank columns are all visible,
optionally biased per query head. The bank never enters the model's KV cache.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Callable

import torch
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import repeat_kv, sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

ATTENTION_NAME = "harness_mi"


@dataclass
class LayerBank:
    """What one attention layer prepends: keys/values [n_kv, m, head_dim] and an
    optional additive logit bias per query head on the bank columns (a large
    negative value hides the bank from that head)."""

    keys: torch.Tensor
    values: torch.Tensor
    head_bias: torch.Tensor | None = None


_BANKS: weakref.WeakKeyDictionary[torch.nn.Module, LayerBank] = weakref.WeakKeyDictionary()
# Called as recorder(module, bank_probs[B, H, q, m], valid_query[B, q]) while ranking layers.
_RECORDERS: weakref.WeakKeyDictionary[torch.nn.Module, Callable] = weakref.WeakKeyDictionary()


def attach(module: torch.nn.Module, bank: LayerBank) -> None:
    _BANKS[module] = bank


def detach(module: torch.nn.Module) -> None:
    _BANKS.pop(module, None)


def set_recorder(module: torch.nn.Module, recorder: Callable | None) -> None:
    if recorder is None:
        _RECORDERS.pop(module, None)
    else:
        _RECORDERS[module] = recorder


def _causal_mask(batch: int, q_len: int, kv_len: int, device) -> torch.Tensor:
    """Bottom-right-aligned causal mask (the queries are the last q_len keys)."""
    q_idx = torch.arange(q_len, device=device)[:, None] + (kv_len - q_len)
    kv_idx = torch.arange(kv_len, device=device)[None, :]
    return (kv_idx <= q_idx).expand(batch, 1, q_len, kv_len)


def _with_bank_columns(mask: torch.Tensor, bank: LayerBank, n_heads: int, dtype) -> torch.Tensor:
    """Prepend m bank columns to a [B, 1|H, q, kv] mask (bool, or additive float)."""
    batch, _, q_len, _ = mask.shape
    m = bank.keys.shape[1]
    if bank.head_bias is None and mask.dtype == torch.bool:
        return torch.cat([mask.new_ones(batch, mask.shape[1], q_len, m), mask], dim=-1)
    lowest = torch.finfo(dtype).min
    conv = torch.where(mask, 0.0, lowest).to(dtype) if mask.dtype == torch.bool else mask.to(dtype)
    bias = bank.head_bias if bank.head_bias is not None else torch.zeros(n_heads)
    bias = bias.to(device=mask.device, dtype=torch.float32).clamp(min=lowest).to(dtype)
    bank_cols = bias.view(1, n_heads, 1, 1).expand(batch, n_heads, q_len, m)
    return torch.cat([bank_cols, conv.expand(batch, n_heads, q_len, conv.shape[-1])], dim=-1)


def _record_bank_mass(module, query, key, value, mask, m, scaling, recorder) -> None:
    """Explicit softmax to measure how much attention each head puts on the bank."""
    n_rep = query.shape[1] // key.shape[1]
    k = repeat_kv(key, n_rep).float()
    scores = torch.matmul(query.float(), k.transpose(-1, -2)) * scaling
    if mask.dtype == torch.bool:
        scores = scores.masked_fill(~mask, float("-inf"))
    else:
        scores = scores + mask.float()
    probs = torch.softmax(scores, dim=-1)
    valid_query = mask[:, 0, :, m:].any(-1) if mask.dtype == torch.bool else (mask[:, 0, :, m:] > -1e30).any(-1)
    recorder(module, probs[..., :m], valid_query)


def mi_attention_forward(module, query, key, value, attention_mask, scaling=None, **kwargs):
    bank = _BANKS.get(module)
    if bank is None:
        return sdpa_attention_forward(module, query, key, value, attention_mask, scaling=scaling, **kwargs)
    batch, n_heads, q_len, head_dim = query.shape
    kv_len = key.shape[2]
    m = bank.keys.shape[1]
    bank_k = bank.keys.to(device=key.device, dtype=key.dtype).unsqueeze(0).expand(batch, -1, -1, -1)
    bank_v = bank.values.to(device=value.device, dtype=value.dtype).unsqueeze(0).expand(batch, -1, -1, -1)
    key = torch.cat([bank_k, key], dim=2)
    value = torch.cat([bank_v, value], dim=2)
    if attention_mask is None:
        attention_mask = _causal_mask(batch, q_len, kv_len, query.device)
    mask = _with_bank_columns(attention_mask, bank, n_heads, query.dtype)
    recorder = _RECORDERS.get(module)
    if recorder is not None:
        _record_bank_mass(module, query, key, value, mask, m, scaling or head_dim**-0.5, recorder)
    kwargs.pop("is_causal", None)
    return sdpa_attention_forward(module, query, key, value, mask, scaling=scaling, is_causal=False, **kwargs)


AttentionInterface.register(ATTENTION_NAME, mi_attention_forward)
AttentionMaskInterface.register(ATTENTION_NAME, sdpa_mask)
