"""What the spectral lens asks of a model, and the two measurements made through it.

A model adapter with weights in this process offers `adapter.spectral_probe()`,
an object of the `SpectralProbe` shape below (the `hf:` and `assign-add:`
adapters do). The lens never looks inside a model otherwise: it reads the
residual stream through `residual`, and differentiates `logits` with
`torch.func` (functional_call + vmap + grad) to get one gradient per sample.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any, Protocol, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import functional_call, grad, vmap

from harness.api import HarnessError, Request
from harness.spectra.estimate import BlockMoments

IGNORE = -100  # label of a position without loss (torch's cross_entropy default)


@dataclass(frozen=True)
class ProbeBatch:
    """N sequences, right-padded to one length: `input_ids` [N, T]; `prompt_lengths`
    [N], the tokens of each row the model reads before its answer; `labels` [N, T],
    the token each position must predict (IGNORE where there is no loss: the
    prompt, except its last position, and the padding). Right padding keeps a
    causal model's real positions blind to the pads, so no attention mask is needed
    (and none has to be vmapped)."""

    input_ids: torch.Tensor
    prompt_lengths: torch.Tensor
    labels: torch.Tensor

    @classmethod
    def from_rows(cls, prompts: Sequence[Sequence[int]], answers: Sequence[Sequence[int]], pad_id: int) -> ProbeBatch:
        """Row i reads prompts[i] then answers[i] except its last token, and predicts
        every answer token (the last prompt position predicts the first)."""
        width = max(len(p) + len(a) - 1 for p, a in zip(prompts, answers))
        ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
        labels = torch.full((len(prompts), width), IGNORE, dtype=torch.long)
        for i, (prompt, answer) in enumerate(zip(prompts, answers)):
            row = [*prompt, *answer[:-1]]
            ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
            labels[i, len(prompt) - 1 : len(row)] = torch.tensor(answer, dtype=torch.long)
        return cls(ids, torch.tensor([len(p) for p in prompts]), labels)

    def __len__(self) -> int:
        return len(self.input_ids)

    def rows(self, part: slice) -> ProbeBatch:
        return ProbeBatch(self.input_ids[part], self.prompt_lengths[part], self.labels[part])


class SpectralProbe(Protocol):
    """A local model seen by the spectral lens. `module` holds the parameters;
    `logits` must compute from them (it runs under `functional_call`, per sample
    under `vmap`, so no data-dependent Python control flow)."""

    module: torch.nn.Module

    def layer_count(self) -> int:
        """Blocks whose output is a residual-stream layer (0 = after the first block)."""
        ...

    def encode(self, requests: Sequence[Request], targets: Sequence[Any]) -> ProbeBatch:
        """The sequences of a task's requests, with each sample's target as the answer to predict."""
        ...

    def residual(self, input_ids: torch.Tensor, layers: Sequence[int]) -> dict[int, torch.Tensor]:
        """{layer: [B, T, d]}: the residual stream after each of `layers` (no gradients)."""
        ...

    def logits(self, input_ids: torch.Tensor) -> torch.Tensor:
        """[B, T, V] next-token logits."""
        ...

    def layer_parameters(self, layer: int) -> list[str]:
        """Names (as in `module.named_parameters()`) of the trainable parameters of block `layer`."""
        ...


def device_of(probe: SpectralProbe) -> torch.device:
    """Where the model's weights are: the batches go there, the results come back to the CPU."""
    return next(probe.module.parameters()).device


def activation_moments(
    probe: SpectralProbe, batch: ProbeBatch, layers: Sequence[int], blocks: int, positions: str, batch_size: int
) -> dict[int, BlockMoments]:
    """Stream the residual vectors of every selected layer into per-layer `BlockMoments`.
    Sample i goes to block i * blocks // N (the samples are a random draw, so
    contiguous blocks are random too); `positions` is "all" (every prompt token)
    or "last" (the position that predicts the answer)."""
    n = len(batch)
    moments: dict[int, BlockMoments] = {}
    steps = torch.arange(batch.input_ids.shape[1])
    for start in range(0, n, batch_size):
        part = batch.rows(slice(start, start + batch_size))
        ends = part.prompt_lengths[:, None]
        keep = (steps[None] < ends) & ((steps[None] == ends - 1) | (positions == "all"))
        block_of = (torch.arange(start, start + len(part)) * blocks) // n
        with torch.no_grad():
            states = probe.residual(part.input_ids.to(device_of(probe)), layers)
        for layer, hidden in states.items():
            hidden = hidden.cpu()
            store = moments.setdefault(layer, BlockMoments(hidden.shape[-1], blocks))
            for block in block_of.unique().tolist():
                rows = keep & (block_of == block)[:, None]
                store.add(block, hidden[rows].double().numpy())
    return moments


def sample_losses(probe: SpectralProbe, batch: ProbeBatch, batch_size: int) -> np.ndarray:
    """[N] each sample's mean next-token loss on its answer tokens: the loss whose
    gradients are taken, reported beside the spectra (to compare models at equal loss)."""
    out = []
    for start in range(0, len(batch), batch_size):
        part = batch.rows(slice(start, start + batch_size))
        with torch.no_grad():
            logits = probe.logits(part.input_ids.to(device_of(probe))).cpu()
        per_token = F.cross_entropy(logits.transpose(1, 2), part.labels, ignore_index=IGNORE, reduction="none")
        out.append((per_token.sum(1) / (part.labels != IGNORE).sum(1)).double().numpy())
    return np.concatenate(out)


def parameter_group(probe: SpectralProbe, pattern: str | None, default_layer: int) -> list[str]:
    """Trainable parameter names matching the glob `pattern` (default: block `default_layer`'s)."""
    if pattern is None:
        return probe.layer_parameters(default_layer)
    trainable = [name for name, p in probe.module.named_parameters() if p.requires_grad]
    chosen = [name for name in trainable if fnmatch.fnmatchcase(name, pattern)]
    if not chosen:
        shown = ", ".join(trainable[:4]) + (", ..." if len(trainable) > 4 else "")
        raise HarnessError(f"--params '{pattern}' matches no trainable parameter; names look like: {shown}")
    return chosen


class _Logits(torch.nn.Module):
    """Puts the probe's `logits` behind `forward`, so `functional_call` can swap the
    parameters of `probe.module` (held here as `model`) while it runs."""

    def __init__(self, probe: SpectralProbe):
        super().__init__()
        self.model = probe.module
        self._logits = probe.logits

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self._logits(input_ids)


def per_sample_gradients(probe: SpectralProbe, batch: ProbeBatch, names: Sequence[str], batch_size: int) -> np.ndarray:
    """[N, P] gradients of each sample's mean next-token loss on its answer tokens
    with respect to the parameters `names` (flattened, in that order), float32:
    vmap over samples of grad of a functional forward, `batch_size` samples at once."""
    wrapper = _Logits(probe)
    own = dict(probe.module.named_parameters())
    params = {f"model.{name}": own[name].detach() for name in names}

    def loss(p: dict[str, torch.Tensor], input_ids: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        logits = functional_call(wrapper, p, (input_ids[None],))[0]
        return F.cross_entropy(logits, labels, ignore_index=IGNORE)

    per_sample = vmap(grad(loss), in_dims=(None, 0, 0))
    device = device_of(probe)
    rows = []
    for start in range(0, len(batch), batch_size):
        part = batch.rows(slice(start, start + batch_size))
        with torch.no_grad():  # torch.func.grad still differentiates inside; nothing outside records a graph
            grads = per_sample(params, part.input_ids.to(device), part.labels.to(device))
        rows.append(torch.cat([grads[f"model.{name}"].flatten(1) for name in names], dim=1).float().cpu().numpy())
    return np.concatenate(rows)
