"""`caa`: Contrastive Activation Addition (Rimsky et al. 2023, nrimsky/CAA).

A vector is the mean difference of one decoder layer's output at the answer
letter between (question, behaviour-matching letter) and (question, other
letter) completions. Steering adds multiplier x vector to that layer's output
at every position from the last prompt token on: in the prompt forward from
the prompt end, then at every generated token under cached decoding.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import torch
from safetensors.torch import save_file

from harness.adapters.hf import layer_hidden, with_layer_hidden
from harness.adapters.steering.bank import checked_tensor, metadata_json, model_fingerprint, read_safetensors
from harness.adapters.steering.method import SteeringMethod, prepend_guidance
from harness.api import ChatMessage, GuidanceSchedule, HarnessError
from harness.fingerprint import sha256_of
from harness.registry import register_steering

VECTOR_FORMAT = "harness-caa-vector/1"


@dataclass
class SteeringVector:
    vector: torch.Tensor  # [hidden]
    layer: int
    model_fingerprint: str
    meta: dict


def answer_text(adapter, question: str, letter: str) -> str:
    """The chat-rendered question followed by the opening of the answer, `(X`."""
    return adapter.render((ChatMessage("user", question),)) + "(" + letter


def last_token_states(adapter, texts: Sequence[str], layer: int) -> torch.Tensor:
    """Decoder layer `layer`'s output at each text's last token: [n, hidden] (rows are left-padded)."""
    return adapter.hidden_states(list(texts), [layer])[layer][:, -1].float().cpu()


def build_vector_from_texts(
    adapter, positive: Sequence[str], negative: Sequence[str], layer: int, meta: dict | None = None
) -> SteeringVector:
    """Mean(positive - negative) of decoder layer `layer`'s output at the texts' last token."""
    if not positive or len(positive) != len(negative):
        raise HarnessError("a CAA vector needs as many negative as positive examples, at least one")
    n_layers = len(adapter.decoder_layers())
    if not 0 <= layer < n_layers:
        raise HarnessError(f"layer {layer} does not exist; the model has layers 0-{n_layers - 1}")
    vector = (last_token_states(adapter, positive, layer) - last_token_states(adapter, negative, layer)).mean(0)
    return SteeringVector(vector, layer, model_fingerprint(adapter.model), {"n_pairs": len(positive), **(meta or {})})


def build_vector(adapter, pairs: Sequence[tuple[str, str, str]], layer: int, meta: dict | None = None) -> SteeringVector:
    """CAA's recipe: (question, positive letter, negative letter) pairs read at
    the answer letter; positives and negatives share the question, so only the
    answer differs."""
    positive = [answer_text(adapter, q, p) for q, p, _ in pairs]
    negative = [answer_text(adapter, q, n) for q, _, n in pairs]
    return build_vector_from_texts(adapter, positive, negative, layer, {"source": "ab", **(meta or {})})


def build_prompted_vector(adapter, questions: Sequence[str], guidance: str, layer: int, meta: dict | None = None) -> SteeringVector:
    """The persona-vector variant: the same questions with and without the
    guidance as a system message, read at the last prompt token (where the
    vector is later added). For models that never saw the A/B format."""
    positive = [adapter.render(prepend_guidance((ChatMessage("user", q),), guidance)) for q in questions]
    negative = [adapter.render((ChatMessage("user", q),)) for q in questions]
    return build_vector_from_texts(adapter, positive, negative, layer, {"source": "prompted", "guidance": guidance, **(meta or {})})


def save_vector(v: SteeringVector, path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_file(
        {"vector": v.vector.contiguous().cpu()},
        str(path),
        metadata={
            "format": VECTOR_FORMAT,
            "layer": str(v.layer),
            "model_fingerprint": v.model_fingerprint,
            "meta": json.dumps(v.meta),
        },
    )


def load_vector(path: str | Path) -> SteeringVector:
    """A saved vector, every field, shape, dtype and value checked: a bad file is one line, exit 2."""
    fix = "; rebuild it with `harness steer vector build`"
    tensors, metadata = read_safetensors(path, "vector", "harness steer vector build")
    if metadata.get("format") != VECTOR_FORMAT:
        raise HarnessError(f"{path} is not a harness CAA vector{fix}")
    try:
        layer = int(metadata["layer"])
        if layer < 0:
            raise ValueError(f"layer {layer} is negative")
        vector = checked_tensor(tensors, "vector", 1, str(path))
        return SteeringVector(vector, layer, str(metadata["model_fingerprint"]), metadata_json(metadata, "meta", str(path)))
    except KeyError as e:
        raise HarnessError(f"{path}: metadata '{e.args[0]}' is missing{fix}") from None
    except (ValueError, HarnessError) as e:
        raise HarnessError(f"{path}: {e}{fix}") from None


def add_from_prompt_end(hidden: torch.Tensor, addition: torch.Tensor, relative_positions: torch.Tensor) -> torch.Tensor:
    """hidden [B, T, H] + addition wherever the position relative to the prompt
    end is >= -1: the prompt's last token and everything after it."""
    keep = (relative_positions.to(hidden.device) >= -1).unsqueeze(-1).to(hidden.dtype)
    return hidden + keep * addition.to(device=hidden.device, dtype=hidden.dtype)


@register_steering("caa")
class ContrastiveActivationAddition(SteeringMethod):
    name = "caa"

    @dataclass(frozen=True)
    class Args:
        vector: str = ""
        layer: int | None = None
        multiplier: float = 1.0

    def __init__(self, adapter, args):
        super().__init__(adapter, args)
        if not args.vector:
            raise HarnessError("steering caa needs --steer-arg vector=FILE (build one with `harness steer vector build`)")
        self.vector = load_vector(args.vector)
        expected = model_fingerprint(adapter.model)
        if self.vector.model_fingerprint != expected:
            raise HarnessError(
                f"vector {args.vector} was built for another model; rebuild it for this one with `harness steer vector build`"
            )
        self.layer = self.vector.layer if args.layer is None else args.layer
        layers = adapter.decoder_layers()
        if not 0 <= self.layer < len(layers):
            raise HarnessError(f"caa layer {self.layer} does not exist; the model has layers 0-{len(layers) - 1}")
        hidden = adapter.model.config.get_text_config().hidden_size
        if self.vector.vector.numel() != hidden:
            raise HarnessError(f"vector has {self.vector.vector.numel()} dims, the model {hidden}; rebuild it for this model")

    def _hook(self, module, args, kwargs, output):
        hidden = layer_hidden(output)
        info = self.adapter.forward_info
        if info is None:
            raise RuntimeError("caa hook ran outside an adapter forward (no forward_info)")
        relative = info.relative_positions(hidden.shape[1], hidden.device)
        steered = add_from_prompt_end(hidden, self.args.multiplier * self.vector.vector, relative)
        return with_layer_hidden(output, steered)

    @contextmanager
    def active(self, schedule: GuidanceSchedule | None = None) -> Iterator[None]:
        handle = self.adapter.add_layer_hook(self.layer, self._hook)
        try:
            yield
        finally:
            handle.remove()

    def settings(self) -> dict:
        return {
            "vector": self.args.vector,
            "layer": self.layer,
            "multiplier": self.args.multiplier,
            "trait": self.vector.meta.get("trait"),
            "direction": self.vector.meta.get("direction"),
        }

    def content_hash(self) -> str:
        return sha256_of(self.vector.vector.float().numpy().tobytes())
