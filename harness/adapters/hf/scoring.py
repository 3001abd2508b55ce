"""Log-likelihoods of continuations, one forward pass per distinct context.

Requests are grouped by their tokenised context. The context runs once (with
a KV cache when some continuation has several tokens); its last position
gives every continuation's first token. Continuations of two or more tokens
then run together over the cached context, with the cache rows repeated per
continuation. For two-way choices of one token each (" Yes" / " No" in most
tokenisers) that is a single forward pass over the prompt for both.

Tokenisation follows lm-evaluation-harness so that values agree with it:
trailing whitespace of the context moves to the front of the continuation, the
pair is tokenised whole, and the continuation's tokens are those past the
context's own token count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch
from transformers import DynamicCache

from harness.adapters.hf.batching import ForwardInfo, PaddedBatch, left_pad


@dataclass
class ScoreRow:
    index: int  # position in the adapter call
    context_ids: list[int]
    continuation_ids: list[int]
    token_logprobs: list[float] = field(default_factory=list)
    is_greedy: bool = True


@dataclass(frozen=True)
class ScoreSettings:
    pad_id: int
    device: torch.device
    batch_size: int
    model_config: object = None


def split_trailing_whitespace(context: str, continuation: str) -> tuple[str, str]:
    """lm-eval's convention: "Answer: " + "Yes" is scored as "Answer:" + " Yes"."""
    stripped = context.rstrip()
    return stripped, context[len(stripped) :] + continuation


def encode_pair(
    context: str,
    continuation: str,
    encode: Callable[[str, bool], list[int]],
    add_special_tokens: bool,
    empty_context_ids: list[int],
) -> tuple[list[int], list[int]]:
    """Token ids of (context, continuation) as lm-eval computes them.
    `encode(text, add_special_tokens)`; an empty context becomes `empty_context_ids` (BOS or EOS)."""
    context, continuation = split_trailing_whitespace(context, continuation)
    if not context:
        return list(empty_context_ids), encode(continuation, False)
    context_ids = encode(context, add_special_tokens)
    whole = encode(context + continuation, add_special_tokens)
    return context_ids, whole[len(context_ids) :]


def _select_rows(cache: DynamicCache, rows: torch.Tensor, config) -> DynamicCache:
    """A new cache holding `rows` of `cache` (rows may repeat)."""
    selected = DynamicCache(config=config)
    for layer_idx, layer in enumerate(cache.layers):
        selected.update(layer.keys[rows], layer.values[rows], layer_idx)
    return selected


def _continuation_positions(ctx_lengths: torch.Tensor, fed: list[int], width: int) -> torch.Tensor:
    """[B, width] positions of the continuation tokens fed after each cached
    context. Right padding repeats the row's last position: a shorter row in
    the batch never reaches past its own context + continuation, so positions
    stay inside the model's window (a learned position table would fail)."""
    steps = torch.arange(width, device=ctx_lengths.device).unsqueeze(0)
    last = torch.tensor([max(n - 1, 0) for n in fed], device=ctx_lengths.device).unsqueeze(1)
    return ctx_lengths.unsqueeze(1) + torch.minimum(steps, last)


def _score_long_continuations(
    pending: list[tuple[int, ScoreRow]],
    contexts: PaddedBatch,
    cache: DynamicCache,
    settings: ScoreSettings,
    call_model: Callable[..., torch.Tensor],
) -> None:
    """Tokens 2.. of continuations, over the cached contexts (`pending`: (context row, request))."""
    for start in range(0, len(pending), settings.batch_size):
        part = pending[start : start + settings.batch_size]
        ctx_rows = torch.tensor([b for b, _ in part], device=settings.device)
        inputs = [r.continuation_ids[:-1] for _, r in part]
        width = max(len(x) for x in inputs)
        ids = torch.full((len(part), width), settings.pad_id, dtype=torch.long)
        targets = torch.zeros((len(part), width), dtype=torch.long)
        cont_mask = torch.zeros((len(part), width), dtype=torch.long)
        for j, (_, r) in enumerate(part):
            n = len(r.continuation_ids) - 1
            ids[j, :n] = torch.tensor(r.continuation_ids[:-1])
            targets[j, :n] = torch.tensor(r.continuation_ids[1:])
            cont_mask[j, :n] = 1
        ctx_lengths = torch.tensor([contexts.lengths[b] for b, _ in part], device=settings.device)
        info = ForwardInfo(
            "loglikelihood",
            tuple(r.index for _, r in part),
            tuple(contexts.lengths[b] for b, _ in part),
            tuple(contexts.pad_lengths[b] for b, _ in part),
            contexts.input_ids.shape[1],
        )
        logits = call_model(
            info,
            last_only=False,
            input_ids=ids.to(settings.device),
            attention_mask=torch.cat([contexts.attention_mask[ctx_rows], cont_mask.to(settings.device)], dim=1),
            position_ids=_continuation_positions(ctx_lengths, [len(r.continuation_ids) - 1 for _, r in part], width),
            past_key_values=_select_rows(cache, ctx_rows, settings.model_config),
        )
        logprobs = torch.log_softmax(logits.float(), dim=-1)
        targets = targets.to(settings.device)
        picked = logprobs.gather(-1, targets.unsqueeze(-1)).squeeze(-1).tolist()
        greedy = (logprobs.argmax(-1) == targets).tolist()
        for j, (_, r) in enumerate(part):
            n = len(r.continuation_ids) - 1
            r.token_logprobs.extend(picked[j][:n])
            r.is_greedy = r.is_greedy and all(greedy[j][:n])


def score_all(rows: Sequence[ScoreRow], settings: ScoreSettings, call_model: Callable[..., torch.Tensor]) -> None:
    """Fill `token_logprobs` and `is_greedy` of every row with a non-empty continuation.

    `call_model(info, last_only, **model_kwargs)` runs the model with `info`
    published as the adapter's `forward_info` and returns the logits (of the
    last position only when `last_only`).
    """
    groups: dict[tuple[int, ...], list[ScoreRow]] = {}
    for row in rows:
        if row.continuation_ids:
            groups.setdefault(tuple(row.context_ids), []).append(row)
    contexts = sorted(groups, key=len, reverse=True)
    for start in range(0, len(contexts), settings.batch_size):
        chunk = contexts[start : start + settings.batch_size]
        batch = left_pad(chunk, settings.pad_id, settings.device)
        need_cache = any(len(r.continuation_ids) > 1 for ctx in chunk for r in groups[ctx])
        cache = DynamicCache(config=settings.model_config) if need_cache else None
        info = ForwardInfo("loglikelihood", tuple(groups[c][0].index for c in chunk), batch.lengths, batch.pad_lengths, 0)
        last = call_model(
            info,
            last_only=True,
            input_ids=batch.input_ids,
            attention_mask=batch.attention_mask,
            position_ids=batch.position_ids,
            past_key_values=cache,
            use_cache=need_cache,
        )
        logprobs = torch.log_softmax(last.float(), dim=-1)
        best = logprobs.argmax(-1).tolist()
        pending = []
        for b, ctx in enumerate(chunk):
            for r in groups[ctx]:
                first = r.continuation_ids[0]
                r.token_logprobs = [float(logprobs[b, first])]
                r.is_greedy = best[b] == first
                if len(r.continuation_ids) > 1:
                    pending.append((b, r))
        if pending:
            _score_long_continuations(pending, batch, cache, settings, call_model)
