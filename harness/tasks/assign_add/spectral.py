"""The Assign-and-Add transformer seen by the spectral lens (`AssignAddAdapter.spectral_probe()`,
see harness.spectra.probe): the 16 tokens of a request, the answer at `=` as the
one label, the residual stream after each block at every position."""

from __future__ import annotations

from typing import Any, Sequence

import torch

from harness.api import GenerateRequest, HarnessError
from harness.spectra.probe import ProbeBatch
from harness.tasks.assign_add.adapter import AssignAddAdapter, _request_tokens
from harness.tasks.assign_add.generator import MOD, PAD


class AssignAddSpectralProbe:
    def __init__(self, adapter: AssignAddAdapter):
        self.adapter = adapter
        self.module = adapter.model

    def layer_count(self) -> int:
        return len(self.module.blocks)

    def encode(self, requests: Sequence[GenerateRequest], targets: Sequence[Any]) -> ProbeBatch:
        rows = []
        for request, target in zip(requests, targets):
            error = self.adapter._partition_error(request)
            if error is not None:
                raise HarnessError(error)
            if not (isinstance(target, int) and 0 <= target < MOD):
                raise HarnessError(f"target {target!r} is not a number 0-{MOD - 1}; use the assign_add task with this model")
            try:
                rows.append(_request_tokens(request))
            except ValueError as e:
                raise HarnessError(f"cannot read an Assign-and-Add sequence from a request: {e}; use the assign_add task") from None
        return ProbeBatch.from_rows(rows, [[t] for t in targets], PAD)

    def logits(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.module.forward_full(input_ids)[0]

    def residual(self, input_ids: torch.Tensor, layers: Sequence[int]) -> dict[int, torch.Tensor]:
        x, out = self.module.embed_tokens(input_ids), {}
        for i, block in enumerate(self.module.blocks[: max(layers) + 1]):
            x, _ = block(x)
            if i in layers:
                out[i] = x
        return out

    def layer_parameters(self, layer: int) -> list[str]:
        return [f"blocks.{layer}.{name}" for name, p in self.module.blocks[layer].named_parameters() if p.requires_grad]
