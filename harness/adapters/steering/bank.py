"""KV banks: the guidance's keys/values computed by the model itself, anchored
just before the conversation, saved as safetensors with the model's fingerprint.

Rotary models (Llama, Qwen2/3): the cached keys are post-RoPE at positions
0..M-1; they are rotated by -M so the bank sits at -M..-1 and the conversation
keeps its natural positions 0..n-1 (RoPE scores depend only on offsets).
Absolute-position models (GPT-2): keys carry no position rotation, so the bank
keeps positions 0..M-1 and the conversation is shifted to start at M instead
(see `MemoryInception`); that is the exact analogue of a prefix.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

import torch
from safetensors.torch import load_file, save_file
from transformers import DynamicCache

from harness.adapters.hf.adapter import cache_argument
from harness.api import HarnessError

BANK_FORMAT = "harness-kv-bank/1"
PositionScheme = Literal["rope", "absolute"]


@dataclass
class KVBank:
    keys: dict[int, torch.Tensor]  # layer -> [n_kv, m, head_dim], anchored before position 0
    values: dict[int, torch.Tensor]
    source_length: int  # tokens the guidance spans (M), including dropped leading ones
    model_fingerprint: str
    position_scheme: PositionScheme
    guidance: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def layers(self) -> tuple[int, ...]:
        return tuple(sorted(self.keys))

    @property
    def length(self) -> int:
        """Slots per layer and KV head (m)."""
        return next(iter(self.keys.values())).shape[1] if self.keys else 0

    def select(self, layers: tuple[int, ...]) -> KVBank:
        missing = [l for l in layers if l not in self.keys]
        if missing:
            have = ",".join(map(str, self.layers)) or "none"
            raise HarnessError(f"the bank has no layer {missing[0]} (it covers {have}); rebuild it with those layers")
        return KVBank(
            {l: self.keys[l] for l in layers},
            {l: self.values[l] for l in layers},
            self.source_length,
            self.model_fingerprint,
            self.position_scheme,
            self.guidance,
            dict(self.meta),
        )

    def to(self, device, dtype) -> KVBank:
        """The bank on the model's device and dtype (a loaded bank starts on the CPU)."""
        move = lambda t: t.to(device=device, dtype=dtype)  # noqa: E731
        return KVBank(
            {l: move(k) for l, k in self.keys.items()},
            {l: move(v) for l, v in self.values.items()},
            self.source_length,
            self.model_fingerprint,
            self.position_scheme,
            self.guidance,
            dict(self.meta),
        )


def model_fingerprint(model: torch.nn.Module) -> str:
    """Identifies a model's weights independently of dtype and attention backend:
    its architecture, parameter shapes and a few values of each parameter."""
    config = {
        k: v
        for k, v in model.config.to_dict().items()
        if not k.startswith("_") and k not in ("dtype", "torch_dtype", "transformers_version")
    }
    h = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode())
    for name, p in model.named_parameters():
        h.update(f"{name}:{tuple(p.shape)}".encode())
        h.update(p.detach().reshape(-1)[:16].to(torch.bfloat16).float().cpu().numpy().tobytes())
    return h.hexdigest()[:32]


def rotary_inv_freq(model: torch.nn.Module) -> torch.Tensor | None:
    """The inverse frequencies of the model's rotary embedding, or None if it has none."""
    for module in model.modules():
        if type(module).__name__.endswith("RotaryEmbedding") and hasattr(module, "inv_freq"):
            return module.inv_freq.detach().float()
    return None


def absolute_position_embedding(model: torch.nn.Module) -> torch.nn.Embedding | None:
    """The learned position embedding of GPT-2-style models (`wpe`)."""
    for name, module in model.named_modules():
        if name.split(".")[-1] in ("wpe", "embed_positions") and isinstance(module, torch.nn.Embedding):
            return module
    return None


def position_scheme(model: torch.nn.Module) -> PositionScheme:
    if rotary_inv_freq(model) is not None:
        return "rope"
    if absolute_position_embedding(model) is not None:
        return "absolute"
    raise HarnessError(f"steering with KV banks supports rotary (Llama, Qwen) and GPT-2-style models, not {type(model).__name__}")


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def shift_rope_keys(keys: torch.Tensor, inv_freq: torch.Tensor, offset: int) -> torch.Tensor:
    """Rotate post-RoPE keys [..., head_dim] by `offset` positions (negative: earlier)."""
    if 2 * inv_freq.numel() != keys.shape[-1]:
        raise HarnessError("KV banks need RoPE over the whole head (partial rotary models are not supported)")
    angles = offset * inv_freq.to(keys.device)
    emb = torch.cat((angles, angles))
    k = keys.float()
    return (k * emb.cos() + _rotate_half(k) * emb.sin()).to(keys.dtype)


@torch.no_grad()
def compute_bank(model: torch.nn.Module, input_ids: torch.Tensor, fingerprint: str, guidance: str = "", drop_leading: int = 0) -> KVBank:
    """Run the model once on the guidance ids [1, M] and keep every layer's K/V,
    anchored at -M..-1 (rotary) or 0..M-1 (absolute). `drop_leading` tokens
    (BOS, template) give context to the others but are not stored."""
    total = input_ids.shape[1]
    if not 0 <= drop_leading < total:
        raise HarnessError(f"drop_leading={drop_leading} must be below the guidance length ({total} tokens)")
    cache = DynamicCache(config=model.config)
    model(input_ids=input_ids, use_cache=True, **{cache_argument(model): cache})
    scheme = position_scheme(model)
    inv_freq = rotary_inv_freq(model)
    keys, values = {}, {}
    for layer_idx, layer in enumerate(cache.layers):
        k = layer.keys[0, :, drop_leading:].detach()
        if scheme == "rope":
            k = shift_rope_keys(k, inv_freq, -total)
        keys[layer_idx] = k.contiguous()
        values[layer_idx] = layer.values[0, :, drop_leading:].detach().contiguous()
    return KVBank(keys, values, total, fingerprint, scheme, guidance, {"drop_leading": drop_leading})


def save_bank(bank: KVBank, path: str | Path) -> None:
    tensors = {}
    for l in bank.layers:
        tensors[f"layer.{l}.keys"] = bank.keys[l].contiguous().cpu()
        tensors[f"layer.{l}.values"] = bank.values[l].contiguous().cpu()
    metadata = {
        "format": BANK_FORMAT,
        "model_fingerprint": bank.model_fingerprint,
        "layers": ",".join(map(str, bank.layers)),
        "source_length": str(bank.source_length),
        "position_scheme": bank.position_scheme,
        "guidance": bank.guidance,
        "meta": json.dumps(bank.meta),
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata=metadata)


def read_safetensors(path: str | Path, what: str, build_command: str) -> tuple[dict, dict]:
    """Tensors and metadata of a steering file, with one-line errors naming the fix."""
    from safetensors import safe_open

    p = Path(path)
    if not p.is_file():
        raise HarnessError(f"{what} file {path} does not exist; build one with `{build_command}`")
    try:
        with safe_open(str(p), framework="pt") as f:
            metadata = f.metadata() or {}
        tensors = load_file(str(p))
    except Exception as e:  # noqa: BLE001 - any unreadable file is the user's input problem
        raise HarnessError(f"{what} file {path} is not a readable safetensors file ({e}); rebuild it") from None
    return tensors, metadata


def checked_tensor(tensors: dict, name: str, ndim: int, where: str) -> torch.Tensor:
    """`tensors[name]`, refused unless it is a finite floating tensor of `ndim` dimensions."""
    t = tensors.get(name)
    if t is None:
        raise HarnessError(f"{where} has no tensor '{name}'")
    if t.dim() != ndim or t.numel() == 0:
        raise HarnessError(f"{where}: '{name}' has shape {tuple(t.shape)}, expected {ndim} non-empty dimensions")
    if not t.is_floating_point():
        raise HarnessError(f"{where}: '{name}' is {t.dtype}, expected a floating-point tensor")
    if not bool(torch.isfinite(t).all()):
        raise HarnessError(f"{where}: '{name}' holds NaN or infinite values")
    return t


def metadata_json(metadata: dict, key: str, where: str) -> dict:
    try:
        value = json.loads(metadata.get(key, "{}"))
    except ValueError:
        raise HarnessError(f"{where}: metadata '{key}' is not JSON") from None
    if not isinstance(value, dict):
        raise HarnessError(f"{where}: metadata '{key}' is not a JSON object")
    return value


def load_bank(path: str | Path) -> KVBank:
    """A saved bank, every field, shape, dtype and value checked: a bad file is one line, exit 2."""
    fix = "; rebuild it with `harness steer bank build`"
    tensors, metadata = read_safetensors(path, "bank", "harness steer bank build")
    if metadata.get("format") != BANK_FORMAT:
        raise HarnessError(f"{path} is not a harness KV bank (format {metadata.get('format')!r}){fix}")
    try:
        layers = [int(x) for x in metadata["layers"].split(",") if x]
        source_length = int(metadata["source_length"])
        fingerprint, scheme = str(metadata["model_fingerprint"]), metadata["position_scheme"]
        if not layers or source_length < 1 or scheme not in get_args(PositionScheme):
            raise ValueError(f"layers {metadata['layers']!r}, source_length {source_length}, position_scheme {scheme!r}")
        keys = {layer: checked_tensor(tensors, f"layer.{layer}.keys", 3, str(path)) for layer in layers}
        values = {layer: checked_tensor(tensors, f"layer.{layer}.values", 3, str(path)) for layer in layers}
        shapes = {tuple(t.shape) for t in (*keys.values(), *values.values())}
        if len(shapes) != 1:
            raise ValueError(f"layers disagree on the bank's shape: {sorted(shapes)}")
        meta = metadata_json(metadata, "meta", str(path))
    except KeyError as e:
        raise HarnessError(f"{path}: metadata '{e.args[0]}' is missing{fix}") from None
    except (ValueError, HarnessError) as e:
        raise HarnessError(f"{path}: {e}{fix}") from None
    return KVBank(keys, values, source_length, fingerprint, scheme, metadata.get("guidance", ""), meta)
