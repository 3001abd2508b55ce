"""The hf adapter seen by the spectral lens (`HFAdapter.spectral_probe()`, see harness.spectra.probe).

A request's prompt is rendered and tokenised as the adapter does for
generation; the sample's target, as text, follows it as the answer. The model
is called with `inputs_embeds` rather than `input_ids`: transformers checks
`input_ids` for padding with a data-dependent `if`, which `vmap` cannot trace.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import torch

from harness.adapters.hf.adapter import layer_hidden
from harness.api import HarnessError, LoglikelihoodRequest, Request
from harness.spectra.probe import ProbeBatch

if TYPE_CHECKING:
    from harness.adapters.hf.adapter import HFAdapter


class HFSpectralProbe:
    def __init__(self, adapter: HFAdapter):
        self.adapter = adapter
        self.module = adapter.model

    def layer_count(self) -> int:
        return len(self.adapter.decoder_layers())

    def encode(self, requests: Sequence[Request], targets: Sequence[Any]) -> ProbeBatch:
        adapter = self.adapter
        prompts, answers = [], []
        for request, target in zip(requests, targets):
            prompt = request.context if isinstance(request, LoglikelihoodRequest) else request.prompt
            text = adapter.render(prompt)
            answer = adapter._encode(str(target), False)
            if not answer:
                raise HarnessError(f"target {target!r} has no tokens; the spectral lens needs a non-empty answer to take the loss on")
            ids = adapter._encode(text, adapter._adds_special_tokens(prompt, text)) or [adapter._prefix_id]
            prompts.append(adapter._left_truncate(ids, max(adapter.max_length + 1 - len(answer), 1), "texts"))
            answers.append(answer)
        return ProbeBatch.from_rows(prompts, answers, adapter._pad_id)

    def logits(self, input_ids: torch.Tensor) -> torch.Tensor:
        embeds = self.module.get_input_embeddings()(input_ids)
        return self.module(inputs_embeds=embeds, use_cache=False).logits

    def residual(self, input_ids: torch.Tensor, layers: Sequence[int]) -> dict[int, torch.Tensor]:
        captured: dict[int, torch.Tensor] = {}
        handles = [
            self.adapter.add_layer_hook(l, lambda m, a, k, out, l=l: captured.__setitem__(l, layer_hidden(out).detach())) for l in layers
        ]
        try:
            self.logits(input_ids)
        finally:
            for handle in handles:
                handle.remove()
        return captured

    def layer_parameters(self, layer: int) -> list[str]:
        block = self.adapter.decoder_layers()[layer]
        prefix = next(name for name, module in self.module.named_modules() if module is block)
        return [f"{prefix}.{name}" for name, p in block.named_parameters() if p.requires_grad]
