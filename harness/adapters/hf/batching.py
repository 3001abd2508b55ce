"""Left-padded batches and the description of the batch a forward pass runs on.

Every forward pass of the adapter runs on left-padded rows with explicit
position ids (position 0 is each row's first real token), so a padded row
computes what the same row computes alone, for absolute-position models
(GPT-2) as for rotary ones (Llama, Qwen).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

import torch


@dataclass(frozen=True)
class PaddedBatch:
    input_ids: torch.Tensor  # [B, T]
    attention_mask: torch.Tensor  # [B, T], 0 on the left padding
    position_ids: torch.Tensor  # [B, T], 0 at each row's first real token
    lengths: tuple[int, ...]  # real tokens per row
    pad_lengths: tuple[int, ...]  # left padding per row


def left_pad(rows: Sequence[Sequence[int]], pad_id: int, device: torch.device) -> PaddedBatch:
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        if r:
            ids[i, width - len(r) :] = torch.tensor(r, dtype=torch.long)
            mask[i, width - len(r) :] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    lengths = tuple(len(r) for r in rows)
    return PaddedBatch(ids.to(device), mask.to(device), positions.to(device), lengths, tuple(width - n for n in lengths))


@dataclass(frozen=True)
class ForwardInfo:
    """What the running forward pass computes, for hooks (see the package docstring).

    Rows are the rows of the tensors the hooks see. `offset` is the index, in
    the padded sequence, of the first token of this forward: 0 for a prompt
    pass, the cached length for a decoding step or a continuation pass.
    """

    kind: Literal["generate", "loglikelihood", "hidden_states"]
    rows: tuple[int, ...]  # index of each batch row's request in the adapter call
    prompt_lengths: tuple[int, ...]  # prompt (context) tokens per row, padding excluded
    pad_lengths: tuple[int, ...]  # left padding per row
    offset: int = 0

    @property
    def prompt_ends(self) -> tuple[int, ...]:
        """Per row, the index in the padded sequence just after the prompt's last token."""
        return tuple(p + n for p, n in zip(self.pad_lengths, self.prompt_lengths))

    def relative_positions(self, seq_len: int, device: torch.device | str = "cpu") -> torch.Tensor:
        """[B, seq_len] position of each token of this forward relative to the end
        of its row's prompt: 0 is the first token after the prompt (the first
        generated or continuation token), -1 the prompt's last token."""
        ends = torch.tensor(self.prompt_ends, device=device).unsqueeze(1)
        return self.offset + torch.arange(seq_len, device=device).unsqueeze(0) - ends
