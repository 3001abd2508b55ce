"""Rank layers by how much attention queries put on a KV bank (MI's routing probe).

With the bank at every layer (which equals prompting), each layer's query
heads' softmax mass on bank columns, leaving out the first `sink` bank slots
(BOS/template tokens attract attention regardless of content), is averaged
over the real tokens of some probe prompts. Layers that route to the bank are
the natural places to inject it alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from harness.adapters.steering import attention
from harness.adapters.steering.attention import ATTENTION_NAME
from harness.adapters.steering.bank import KVBank
from harness.adapters.steering.injection import BankInjection, attention_module
from harness.api import HarnessError


@dataclass(frozen=True)
class LayerRouting:
    layer: int
    bank_mass: float  # mean attention mass on (non-sink) bank slots
    top_head: int
    top_head_mass: float


@torch.no_grad()
def rank_layers(adapter, bank: KVBank, prompts: Sequence[str], sink: int = 1) -> list[LayerRouting]:
    """Layers sorted by decreasing bank mass, measured on the rendered `prompts`."""
    if sink >= bank.length:
        raise HarnessError(f"sink={sink} would leave no bank slot (the bank has {bank.length}); lower it")
    layers = list(adapter.decoder_layers())
    totals: dict[int, torch.Tensor] = {}
    counts: dict[int, int] = {}
    index_of = {attention_module(layer): i for i, layer in enumerate(layers)}

    def record(module, bank_probs, valid_query):
        l = index_of[module]
        mass = bank_probs[..., sink:].sum(-1)  # [B, H, q]
        weights = valid_query.unsqueeze(1).float()  # [B, 1, q]
        totals[l] = totals.get(l, 0) + (mass * weights).sum(dim=(0, 2)).cpu()
        counts[l] = counts.get(l, 0) + int(valid_query.sum())

    previous = adapter.attention_implementation
    adapter.set_attention_implementation(ATTENTION_NAME)
    for module in index_of:
        attention.set_recorder(module, record)
    try:
        with BankInjection(adapter.model, layers, bank, tuple(range(len(layers)))):
            tok = adapter.tokenizer
            for text in prompts:
                enc = tok(text, return_tensors="pt").to(adapter.model.device)
                adapter.model(**enc)
    finally:
        for module in index_of:
            attention.set_recorder(module, None)
        adapter.set_attention_implementation(previous)
    out = []
    for l in sorted(totals):
        per_head = totals[l] / max(counts[l], 1)
        out.append(LayerRouting(l, float(per_head.mean()), int(per_head.argmax()), float(per_head.max())))
    return sorted(out, key=lambda r: -r.bank_mass)
