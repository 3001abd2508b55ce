"""Continuous batched decoding with a KV cache.

Up to `batch_size` rows decode together, one token per forward pass, sharing
a left-padded KV cache. After every step the rows that hit end-of-text, a stop
string or their token budget leave the batch and the cache
(`batch_select_indices`), and once a quarter of the slots are free, waiting
requests are prefilled on their own and merged in: both caches are left-padded
to one length (padding is masked, positions are per row) and concatenated.
Columns that became padding in every row are cropped, so the cache never grows
past the longest live row. Models whose cache is not plain full attention
(sliding-window layers) are refilled only when the batch has emptied.

Stop strings are searched in the decoded text, so a stop that spans several
tokens, or ends inside one, is found; the text is cut before it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

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
    text: str | None = None  # set when a stop string cut it, else decoded at the end
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


@dataclass
class _LiveBatch:
    """Rows decoding together: their cache, mask [B, L], next position per row,
    left padding per row, and the logits [B, V] that choose each row's next token."""

    rows: list[DecodeRow]
    cache: DynamicCache
    mask: torch.Tensor
    next_position: torch.Tensor
    pad_lengths: list[int]
    logits: torch.Tensor

    def info(self, offset: int) -> ForwardInfo:
        return ForwardInfo(
            "generate",
            tuple(r.index for r in self.rows),
            tuple(len(r.prompt_ids) for r in self.rows),
            tuple(self.pad_lengths),
            offset,
        )


def _first_stop(text: str, stops: Sequence[str]) -> int | None:
    hits = [i for i in (text.find(s) for s in stops if s) if i >= 0]
    return min(hits) if hits else None


def _tail_tokens(stops: Sequence[str]) -> int:
    """Tokens to decode to see a stop that ends in the newest token: a token adds
    at least one byte and a character takes at most four, plus a margin so the
    stop never starts at the decoded tail's first token (where decoders may
    drop a leading space)."""
    return 4 * max(len(s) for s in stops) + 8


def _advance(row: DecodeRow, token: int, settings: DecodeSettings) -> None:
    """Append one token and decide whether the row is finished. Stops are looked
    for in the decoded tail (constant work per step); the first hit is cut in
    the full text."""
    if token in settings.eos_ids:
        row.finish_reason = "stop"
        return
    row.tokens.append(token)
    if row.stop and _first_stop(settings.decode(row.tokens[-_tail_tokens(row.stop) :]), row.stop) is not None:
        text = settings.decode(row.tokens)
        row.text = text[: _first_stop(text, row.stop)]
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


def _prefill(rows: list[DecodeRow], settings: DecodeSettings, call_model) -> _LiveBatch:
    batch = left_pad([r.prompt_ids for r in rows], settings.pad_id, settings.device)
    cache = DynamicCache(config=settings.model_config)
    info = ForwardInfo("generate", tuple(r.index for r in rows), batch.lengths, batch.pad_lengths, 0)
    logits = call_model(
        info,
        input_ids=batch.input_ids,
        attention_mask=batch.attention_mask,
        position_ids=batch.position_ids,
        past_key_values=cache,
    )
    positions = torch.tensor(batch.lengths, device=settings.device)
    return _LiveBatch(rows, cache, batch.attention_mask, positions, list(batch.pad_lengths), logits)


def _mergeable(cache: DynamicCache) -> bool:
    return all(type(layer) is DynamicLayer for layer in cache.layers)


def _left_pad_columns(t: torch.Tensor, width: int, dim: int) -> torch.Tensor:
    if width == 0:
        return t
    shape = list(t.shape)
    shape[dim] = width
    return torch.cat([t.new_zeros(shape), t], dim=dim)


def _merge(a: _LiveBatch, b: _LiveBatch) -> _LiveBatch:
    """One batch of both, left-padded to the longer cache."""
    length = max(a.mask.shape[1], b.mask.shape[1])
    grow_a, grow_b = length - a.mask.shape[1], length - b.mask.shape[1]
    for la, lb in zip(a.cache.layers, b.cache.layers):
        la.keys = torch.cat([_left_pad_columns(la.keys, grow_a, 2), _left_pad_columns(lb.keys, grow_b, 2)])
        la.values = torch.cat([_left_pad_columns(la.values, grow_a, 2), _left_pad_columns(lb.values, grow_b, 2)])
    return _LiveBatch(
        a.rows + b.rows,
        a.cache,
        torch.cat([_left_pad_columns(a.mask, grow_a, 1), _left_pad_columns(b.mask, grow_b, 1)]),
        torch.cat([a.next_position, b.next_position]),
        [p + grow_a for p in a.pad_lengths] + [p + grow_b for p in b.pad_lengths],
        torch.cat([a.logits, b.logits]),
    )


def _keep_rows(batch: _LiveBatch, keep: list[int], device: torch.device) -> None:
    """Drop the other rows; then crop columns that are padding in every remaining row."""
    if len(keep) < len(batch.rows):
        index = torch.tensor(keep, device=device)
        batch.cache.batch_select_indices(index)
        batch.rows = [batch.rows[k] for k in keep]
        batch.mask, batch.next_position = batch.mask[index], batch.next_position[index]
        batch.pad_lengths = [batch.pad_lengths[k] for k in keep]
    crop = min(batch.pad_lengths)
    if crop and _mergeable(batch.cache):
        for layer in batch.cache.layers:
            layer.keys, layer.values = layer.keys[:, :, crop:], layer.values[:, :, crop:]
        batch.mask = batch.mask[:, crop:]
        batch.pad_lengths = [p - crop for p in batch.pad_lengths]


def _step(batch: _LiveBatch, picks: list[int], settings: DecodeSettings, call_model) -> None:
    """Feed each row its chosen token; store the logits for the next choice."""
    offset = batch.mask.shape[1]
    batch.mask = torch.cat([batch.mask, batch.mask.new_ones((len(batch.rows), 1))], dim=1)
    batch.logits = call_model(
        batch.info(offset),
        input_ids=torch.tensor(picks, device=settings.device).unsqueeze(1),
        attention_mask=batch.mask,
        position_ids=batch.next_position.unsqueeze(1),
        past_key_values=batch.cache,
    )
    batch.next_position = batch.next_position + 1


def decode_all(rows: list[DecodeRow], settings: DecodeSettings, call_model: Callable[..., torch.Tensor]) -> None:
    """Fill in `tokens`, `text` and `finish_reason` of every row.

    `call_model(info, **model_kwargs)` runs the model with `info` published as
    the adapter's `forward_info` and returns the logits of the last position.
    """
    waiting = deque(
        sorted(
            (r for r in rows if r.max_tokens > 0 and len(r.prompt_ids) < settings.max_positions),
            key=lambda r: -len(r.prompt_ids),
        )
    )
    for row in rows:
        if row.max_tokens <= 0 or len(row.prompt_ids) >= settings.max_positions:
            row.finish_reason = "length"
    refill_at = max(1, settings.batch_size // 4)
    live: _LiveBatch | None = None
    while waiting or live:
        free = settings.batch_size - (len(live.rows) if live else 0)
        if waiting and (live is None or (free >= refill_at and _mergeable(live.cache))):
            fresh = _prefill([waiting.popleft() for _ in range(min(free, len(waiting)))], settings, call_model)
            live = fresh if live is None else _merge(live, fresh)
        picks = _pick_tokens(live.logits, live.rows)
        for row, token in zip(live.rows, picks):
            _advance(row, token, settings)
        keep = [k for k, r in enumerate(live.rows) if r.finish_reason is None]
        if not keep:
            live = None
            continue
        _keep_rows(live, keep, settings.device)
        _step(live, [picks[k] for k in keep], settings, call_model)
    for row in rows:
        if row.text is None:
            row.text = settings.decode(row.tokens)
