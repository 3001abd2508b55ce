"""`mi`: Memory Inception, guidance as a KV bank at selected layers, outside the transcript and the cache."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import torch

from harness.adapters.steering.attention import ATTENTION_NAME
from harness.adapters.steering.bank import KVBank, compute_bank, load_bank, model_fingerprint
from harness.adapters.steering.injection import BankInjection, kv_head_count
from harness.adapters.steering.method import SteeringMethod, guidance_token_ids, read_guidance
from harness.api import GuidanceSchedule, HarnessError
from harness.fingerprint import sha256_of
from harness.layer_spec import format_layers, parse_layers
from harness.registry import register_steering


def build_bank_for(adapter, guidance: str, drop_leading: int = 0) -> KVBank:
    """The bank of `guidance` rendered as a system turn, computed by the adapter's model."""
    ids = torch.tensor([guidance_token_ids(adapter, guidance)], device=adapter.model.device)
    return compute_bank(adapter.model, ids, model_fingerprint(adapter.model), guidance, drop_leading)


@register_steering("mi")
class MemoryInception(SteeringMethod):
    """Guidance K/V computed once by the model, prepended in attention at
    `layers` (and optionally only for some KV groups, `heads`), with a logit
    bias `strength` on the bank columns. The transcript and cache never hold it."""

    name = "mi"

    @dataclass(frozen=True)
    class Args:
        guidance: str = ""
        bank: str = ""
        layers: str = "all"
        heads: str = "all"
        strength: float = 0.0
        drop_leading: int = 0

        def __post_init__(self):
            if self.guidance and self.bank:
                raise HarnessError("steering mi takes guidance=TEXT or bank=FILE, not both")

    def __init__(self, adapter, args):
        super().__init__(adapter, args)
        self.decoder_layers = list(adapter.decoder_layers())
        n_layers = len(self.decoder_layers)
        self.layers = parse_layers(args.layers, n_layers, "mi layers")
        n_kv = kv_head_count(self.decoder_layers[0])
        self.groups = None if args.heads.strip().lower() == "all" else parse_layers(args.heads, n_kv, "mi heads (KV groups)")
        self.guidance = read_guidance(args.guidance) if args.guidance else ""
        self._banks_by_text: dict[str, KVBank] = {}
        if args.bank:
            self.bank = load_bank(args.bank)
            expected = model_fingerprint(adapter.model)
            if self.bank.model_fingerprint != expected:
                raise HarnessError(
                    f"bank {args.bank} was built for another model (fingerprint {self.bank.model_fingerprint[:12]}, this model {expected[:12]}); rebuild it with `harness steer bank build`"
                )
            self.bank = self.bank.select(self.layers).to(adapter.model.device, adapter.model.dtype)
            self.guidance = self.bank.guidance
        elif self.guidance:
            self.bank = self.bank_for(self.guidance)
        else:
            self.bank = None

    def bank_for(self, guidance: str) -> KVBank:
        if guidance not in self._banks_by_text:
            full = build_bank_for(self.adapter, guidance, self.args.drop_leading)
            self._banks_by_text[guidance] = full.select(self.layers)
        return self._banks_by_text[guidance]

    @contextmanager
    def active(self, schedule: GuidanceSchedule | None = None) -> Iterator[None]:
        bank = self.bank_for(schedule[-1][1]) if schedule else self.bank
        if bank is None:
            raise HarnessError("steering mi needs --steer-arg guidance=TEXT (or @FILE) or bank=FILE")
        previous = self.adapter.attention_implementation
        self.adapter.set_attention_implementation(ATTENTION_NAME)
        try:
            with BankInjection(self.adapter.model, self.decoder_layers, bank, self.layers, self.groups, self.args.strength):
                yield
        finally:
            self.adapter.set_attention_implementation(previous)

    def settings(self) -> dict:
        n_layers = len(self.decoder_layers)
        return {
            "guidance": self.guidance,
            "bank": self.args.bank,
            "layers": format_layers(self.layers, n_layers),
            "heads": self.args.heads,
            "strength": self.args.strength,
            "drop_leading": self.args.drop_leading,
        }

    def content_hash(self) -> str:
        if self.bank is None:
            return ""
        return sha256_of(
            b"".join(
                self.bank.keys[l].float().cpu().numpy().tobytes() + self.bank.values[l].float().cpu().numpy().tobytes()
                for l in self.bank.layers
            )
        )

    def kv_bytes_added_per_sequence(self) -> int:
        """Bank slots actually stored: selected layers x selected KV groups x m x (K and V)."""
        if self.bank is None:
            return 0
        total = 0
        for l in self.layers:
            k = self.bank.keys[l]
            groups = len(self.groups) if self.groups is not None else k.shape[0]
            element = torch.empty((), dtype=self.adapter.model.dtype).element_size()
            total += 2 * groups * k.shape[1] * k.shape[2] * element
        return total

    def guidance_token_count(self) -> int | None:
        return self.bank.source_length if self.bank is not None else None
