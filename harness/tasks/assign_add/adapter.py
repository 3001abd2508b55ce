"""`assign-add:<target>`: the Assign-and-Add paper's transformer as a model.

The target is `released/<ck_1|ck_501|ck_6001|final>` (shipped in the package),
a TransformerLens .pth state dict, or a run directory of `harness train
assign-add` (its latest checkpoint). A request is answered with the argmax
number at the `=` position, as text. The sequence comes from the request's
`metadata["tokens"]` (16 token ids) or, failing that, from the prompt in the
documented text form (harness/tasks/assign_add/render.py). A request whose
train/held-out split (`metadata["partition"]`) differs from the one the
checkpoint was trained on is answered with an error: its held-out pools would
be mislabelled.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from harness.api import GenerateRequest, Generation, HarnessError, ModelAdapter, RequestContext
from harness.registry import register_model
from harness.tasks.assign_add.checkpoints import resolve, run_checkpoints
from harness.tasks.assign_add.generator import SEQ_LEN, VOCAB
from harness.tasks.assign_add.render import tokens_from_text


@dataclass(frozen=True)
class AssignAddModelArgs:
    batch_size: int = 4096  # sequences per forward pass
    device: Literal["auto", "cpu", "cuda"] = "auto"
    check_partition: bool = True  # refuse requests drawn from another train/held-out split
    threads: int | None = None  # torch CPU threads (1 is much faster on a busy machine)

    def __post_init__(self):
        if self.batch_size < 1:
            raise HarnessError(f"model arg batch_size={self.batch_size}: use a positive number")
        if self.threads is not None and self.threads < 1:
            raise HarnessError(f"model arg threads={self.threads}: use 1 or more")


def _request_tokens(request: GenerateRequest) -> list[int]:
    """The 16 token ids of a request, from its metadata or its text. ValueError if neither."""
    tokens = request.metadata.get("tokens")
    if tokens is not None:
        if (
            not isinstance(tokens, (list, tuple))
            or len(tokens) != SEQ_LEN
            or not all(isinstance(t, int) and not isinstance(t, bool) and 0 <= t < VOCAB for t in tokens)
        ):
            raise ValueError(f"metadata tokens must be {SEQ_LEN} integers in [0, {VOCAB})")
        return list(tokens)
    prompt = request.prompt if isinstance(request.prompt, str) else request.prompt[-1].text()
    return tokens_from_text(prompt)


@register_model
class AssignAddAdapter(ModelAdapter):
    name = "assign-add"
    description = "The Assign-and-Add paper's 2-layer transformer (released checkpoints, .pth files or training runs)"
    Args = AssignAddModelArgs
    capabilities = frozenset({"generate"})
    replicable = True

    def __init__(self, target: str, args: AssignAddModelArgs | None = None):
        super().__init__(target, args)
        import torch

        from harness.tasks.assign_add.model import load_checkpoint_file

        self.checkpoint = resolve(target)
        if self.args.device == "cuda" and not torch.cuda.is_available():
            raise HarnessError("model arg device=cuda but no CUDA device is visible; use device=cpu")
        self.device = (
            "cuda"
            if self.args.device == "auto" and torch.cuda.is_available()
            else ("cpu" if self.args.device == "auto" else self.args.device)
        )
        self.sha256 = hashlib.sha256(self.checkpoint.path.read_bytes()).hexdigest()
        self.model = load_checkpoint_file(self.checkpoint.path).to(self.device).eval()
        self._torch = torch
        if self.args.threads is not None:
            torch.set_num_threads(self.args.threads)

    @classmethod
    def checkpoint_series(cls, target: str) -> list[str]:
        """Every checkpoint of a run directory, by step (spectra against training step); any other
        target (or a run without checkpoints, which loading then reports) alone."""
        path = Path(target).expanduser()
        found = [str(ref.path) for ref in run_checkpoints(path)] if path.is_dir() else []
        return found or [target]

    def spectral_probe(self):
        """This model for the spectral lens, `harness analyze spectra` (see harness.tasks.assign_add.spectral)."""
        from harness.tasks.assign_add.spectral import AssignAddSpectralProbe

        return AssignAddSpectralProbe(self)

    def fingerprint(self) -> str:
        return f"assign-add:{self.sha256}:{self.device}:{self.args.check_partition}"

    def describe(self) -> dict:
        return {
            "checkpoint": str(self.checkpoint.path),
            "step": self.checkpoint.step,
            "sha256": self.sha256,
            "trained_partition": self.checkpoint.partition,
            "device": self.device,
        }

    def _partition_error(self, request: GenerateRequest) -> str | None:
        asked, trained = request.metadata.get("partition"), self.checkpoint.partition
        if not self.args.check_partition or asked is None or trained is None or asked == trained:
            return None
        return (
            f"checkpoint trained on split {trained} but the task drew {asked}; pass "
            f"--task-arg pairs_frac={trained['pairs_frac']} --task-arg partition_seed={trained['partition_seed']}"
        )

    def generate(self, requests: list[GenerateRequest], contexts: list[RequestContext]) -> list[Generation]:
        out: list[Generation | None] = [None] * len(requests)
        rows, ready = [], []
        for i, request in enumerate(requests):
            error = self._partition_error(request)
            if error is None:
                try:
                    rows.append(_request_tokens(request))
                    ready.append(i)
                    continue
                except ValueError as e:
                    error = f"cannot read an Assign-and-Add sequence from the request: {e}"
            out[i] = Generation(text=None, error=error)
        if rows:
            tokens = self._torch.tensor(rows, dtype=self._torch.long)
            predictions = self.model.predict(tokens, self.args.batch_size).tolist()
            for i, prediction in zip(ready, predictions):
                out[i] = Generation(text=str(prediction), finish_reason="stop")
        return out
