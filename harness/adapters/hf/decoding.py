"""Batched decoding with a KV cache where finished rows leave the batch.

Requests are sorted by prompt length and run in waves of `batch_size` rows.
After every step the rows that hit end-of-text, a stop string or their token
budget are removed from the batch and from the cache (`batch_select_indices`),
so the remaining rows no longer pay for them. Stop strings are searched in the
decoded text, so a stop that spans several tokens (or ends inside one) is found.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch
from transformers import DynamicCache

from harness.adapters.hf.batching import ForwardInfo, left_pad


@dataclass
class DecodeRow:
    """One generation request, tokenised, and its progress."""

    index: int  # position in the adapter call
    prompt_ids: list[int]
    max_tokens: int
    stop: tuple[str, ...]
    temperature: float
    generator: torch.Generator | None
    tokens: list[int] = field(default_factory=list)
    text: str = ""
    finish_reason: str | None = None


@dataclass(frozen=True)
class DecodeSettings:
    pad_id: int
    eos_ids: frozenset[int]
    device: torch.device
    batch_size: int
    max_positions: int  # prompt + generated tokens may not exceed this
    decode: Callable[[list[int]], str]  # token ids -> text, special tokens dropped
    model_config: object = None  # lets DynamicCache build sliding-window layers where the model has them


def _first_stop(text: str, stops: Sequence[str]) -> int | None:
    hits = [i for i in (text.find(s) for s in stops if s) if i >= 0]
    return min(hits) if hits else None


def _advance(row: DecodeRow, token: int, settings: DecodeSettings) -> None:
    """Append one token and decide whether the row is finished."""
    if token in settings.eos_ids:
        row.finish_reason = "stop"
        return
    row.tokens.append(token)
    if row.stop:
        row.text = settings.decode(row.tokens)
        cut = _first_stop(row.text, row.stop)
        if cut is not None:
            row.text = row.text[:cut]
            row.finish_reason = "stop"
            return
    if len(row.tokens) >= row.max_tokens or len(row.prompt_ids) + len(row.tokens) >= settings.max_positions:
        row.finish_reason = "length"


def _pick_tokens(logits: torch.Tensor, rows: Sequence[DecodeRow]) -> list[int]:
    """Greedy argmax, or sampling at the row's temperature with its own generator."""
    picks = logits.argmax(-1).tolist()
    for i, row in enumerate(rows):
        if row.temperature > 0:
            probs = torch.softmax(logits[i].float() / row.temperature, dim=-1)
            picks[i] = int(torch.multinomial(probs, 1, generator=row.generator))
    return picks


def decode_wave(rows: list[DecodeRow], settings: DecodeSettings, call_model: Callable[..., torch.Tensor]) -> None:
    """Generate for up to `batch_size` rows sharing one KV cache.

    `call_model(info, **model_kwargs)` runs the model with `info` published as
    the adapter's `forward_info` and returns the logits of the last position.
    """
    batch = left_pad([r.prompt_ids for r in rows], settings.pad_id, settings.device)
    cache = DynamicCache(config=settings.model_config)
    active = list(range(len(rows)))
    info = ForwardInfo("generate", tuple(r.index for r in rows), batch.lengths, batch.pad_lengths, 0)
    logits = call_model(
        info,
        input_ids=batch.input_ids,
        attention_mask=batch.attention_mask,
        position_ids=batch.position_ids,
        past_key_values=cache,
    )
    mask = batch.attention_mask
    next_position = torch.tensor(batch.lengths, device=settings.device)
    while True:
        picks = _pick_tokens(logits, [rows[i] for i in active])
        for i, token in zip(active, picks):
            _advance(rows[i], token, settings)
        keep = [k for k, i in enumerate(active) if rows[i].finish_reason is None]
        if not keep:
            return
        if len(keep) < len(active):
            keep_idx = torch.tensor(keep, device=settings.device)
            cache.batch_select_indices(keep_idx)
            mask, next_position = mask[keep_idx], next_position[keep_idx]
            picks = [picks[k] for k in keep]
            active = [active[k] for k in keep]
        mask = torch.cat([mask, mask.new_ones((len(active), 1))], dim=1)
        info = ForwardInfo(
            "generate",
            tuple(rows[i].index for i in active),
            tuple(batch.lengths[i] for i in active),
            tuple(batch.pad_lengths[i] for i in active),
            mask.shape[1] - 1,
        )
        logits = call_model(
            info,
            input_ids=torch.tensor(picks, device=settings.device).unsqueeze(1),
            attention_mask=mask,
            position_ids=next_position.unsqueeze(1),
            past_key_values=cache,
        )
        next_position = next_position + 1


def decode_all(rows: list[DecodeRow], settings: DecodeSettings, call_model: Callable[..., torch.Tensor]) -> None:
    """Fill in `tokens`, `text` and `finish_reason` of every row, longest prompts first."""
    pending = []
    for row in rows:
        if row.max_tokens <= 0 or len(row.prompt_ids) >= settings.max_positions:
            row.finish_reason = "length"
        else:
            pending.append(row)
    pending.sort(key=lambda r: -len(r.prompt_ids))
    for start in range(0, len(pending), settings.batch_size):
        decode_wave(pending[start:start + settings.batch_size], settings, call_model)
    for row in rows:
        if not row.stop:
            row.text = settings.decode(row.tokens)
