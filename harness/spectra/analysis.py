"""Spectra of models on a task's samples: config in, one `ModelSpectra` per model out.

Models come from the registry (`hf:`, `assign-add:`, or a plugin whose adapter has
`spectral_probe()`); inputs are N samples drawn with a seed from any task, each
seen through its first request, with the sample's target as the answer whose
loss is differentiated. An adapter class may also offer
`checkpoint_series(target)`: the targets of every checkpoint a target names (a
training run), so that one `--model` gives spectra against training step.
"""

from __future__ import annotations

import dataclasses
import random
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Literal, Sequence

import numpy as np

from harness import registry
from harness.api import HarnessError, ModelAdapter, Request, Sample, Task
from harness.layer_spec import parse_layers
from harness.metrics import Metric, mean_metric
from harness.spectra.estimate import (
    BLOCKS_DEFAULT,
    BOOTSTRAP_DEFAULT,
    HEAD_DEFAULT,
    Spectrum,
    block_bootstrap,
    descending_eigenvalues,
    gram_matrix,
    gram_spectrum,
    summarize,
)
from harness.spectra.probe import ProbeBatch, SpectralProbe, activation_moments, parameter_group, per_sample_gradients, sample_losses

Positions = Literal["all", "last"]


@dataclass(frozen=True)
class SpectraConfig:
    """Everything that defines the measurement (written beside the results)."""

    task: str
    task_args: dict[str, str] = field(default_factory=dict)
    model_args: dict[str, str] = field(default_factory=dict)
    layers: str = "all"  # "all" or comma-separated block indices (negative counts from the end)
    n: int = 256  # samples whose residual vectors make each covariance
    grad_n: int = 64  # the first grad_n of them give per-sample gradients (0: no gradient spectrum)
    params: str | None = None  # glob over parameter names; default: the last selected layer's block
    positions: Positions = "all"
    seed: int = 0
    head: int = HEAD_DEFAULT
    fit_range: tuple[int, int] | None = None  # 1-based ranks; default per spectrum (estimate.default_fit_range)
    bootstrap: int = BOOTSTRAP_DEFAULT
    blocks: int = BLOCKS_DEFAULT
    batch_size: int = 32

    def __post_init__(self):
        if self.n < 2:
            raise HarnessError(f"--n {self.n}: a covariance needs at least 2 samples")
        if not 0 <= self.grad_n <= self.n:
            raise HarnessError(f"--grad-n {self.grad_n}: use 0 (no gradients) to --n ({self.n})")
        if self.grad_n == 1:
            raise HarnessError("--grad-n 1: a gradient spectrum needs at least 2 samples; use 0 to skip it")
        if not 2 <= self.blocks <= self.n:
            raise HarnessError(f"--blocks {self.blocks}: use 2 to --n ({self.n}) bootstrap blocks")
        if self.fit_range is not None and not 1 <= self.fit_range[0] < self.fit_range[1] - 1:
            raise HarnessError(f"--fit-range {self.fit_range[0]}:{self.fit_range[1]}: give LO:HI ranks with 1 <= LO and at least 3 ranks")
        for name in ("head", "bootstrap", "batch_size"):
            if getattr(self, name) < 1:
                raise HarnessError(f"--{name.replace('_', '-')} {getattr(self, name)}: use 1 or more")


@dataclass(frozen=True)
class ModelSpectra:
    """One model's spectra: the activation covariance per layer (with the number of
    vectors behind it), the task loss, and the per-sample gradient second moment of `gradient_params`
    (`gradient_size` numbers per sample; None when grad_n is 0; its spectrum has no
    interval, see estimate.py)."""

    label: str
    step: int | None
    activations: dict[int, Spectrum]
    vectors: dict[int, int]
    loss: Metric  # mean next-token loss on the answers of the N samples, 95% interval
    gradient: Spectrum | None
    gradient_params: tuple[str, ...]
    gradient_size: int
    seconds: float  # the measurement, model loading excluded


def draw_samples(samples: Iterable[Sample], n: int, seed: int) -> list[Sample]:
    """n samples drawn uniformly without replacement (reservoir sampling: one pass,
    n in memory), in the task's order; all of them when the task has no more."""
    rng = random.Random(seed)
    kept: list[tuple[int, Sample]] = []
    for i, sample in enumerate(samples):
        if len(kept) < n:
            kept.append((i, sample))
        elif (j := rng.randrange(i + 1)) < n:
            kept[j] = (i, sample)
    return [s for _, s in sorted(kept, key=lambda pair: pair[0])]


def expand_models(specs: Sequence[str]) -> list[str]:
    """Model specs, a training run expanded to one spec per checkpoint (adapters with `checkpoint_series`)."""
    out: list[str] = []
    for spec in specs:
        cls, target = registry.parse_model_spec(spec)
        series = getattr(cls, "checkpoint_series", None)
        out.extend(f"{cls.name}:{t}" for t in (series(target) if series else [target]))
    return out


def probe_of(adapter: ModelAdapter) -> SpectralProbe:
    make = getattr(adapter, "spectral_probe", None)
    if make is None:
        raise HarnessError(f"model '{adapter.name}' has no weights in this process to probe; use a local model (hf: or assign-add:)")
    return make()


def _first_requests(task: Task, samples: Sequence[Sample]) -> tuple[list[Request], list[Any]]:
    missing = [s.id for s in samples if s.target is None]
    if missing:
        raise HarnessError(
            f"task '{task.name}': sample {missing[0]} has no target, so there is no loss to differentiate; pick a task with targets"
        )
    return [task.requests(s)[0] for s in samples], [s.target for s in samples]


def spectra_of(probe: SpectralProbe, batch: ProbeBatch, config: SpectraConfig, label: str, step: int | None) -> ModelSpectra:
    """Activation spectra per selected layer, then the gradient spectrum."""
    started = time.perf_counter()
    layers = parse_layers(config.layers, probe.layer_count(), "--layers")
    if not layers:
        raise HarnessError(f"--layers '{config.layers}' selects no layer; write all, a range such as 0-1, or indices such as 0,-1")
    moments = activation_moments(probe, batch, layers, config.blocks, config.positions, config.batch_size)
    activations = {
        layer: summarize(
            descending_eigenvalues(m.covariance()),
            block_bootstrap(m, config.bootstrap, np.random.default_rng((config.seed, layer + 1))),
            config.head,
            config.fit_range,
        )
        for layer, m in moments.items()
    }
    vectors = {layer: int(m.count.sum()) for layer, m in moments.items()}
    gradient, names, size = None, [], 0
    if config.grad_n > 0:
        names = parameter_group(probe, config.params, layers[-1])
        grads = per_sample_gradients(probe, batch.rows(slice(0, config.grad_n)), names, config.batch_size)
        size = grads.shape[1]
        gradient = summarize(gram_spectrum(gram_matrix(grads)), [], config.head, config.fit_range)  # no interval: see estimate.py
    loss = mean_metric(sample_losses(probe, batch, config.batch_size).tolist())
    return ModelSpectra(label, step, activations, vectors, loss, gradient, tuple(names), size, time.perf_counter() - started)


@dataclass(frozen=True)
class SpectraReport:
    """The settings as used (`n` cut to the task's size) and each model's spectra, in order."""

    config: SpectraConfig
    models: list[ModelSpectra]


def analyze(model_specs: Sequence[str], config: SpectraConfig, log=print) -> SpectraReport:
    """Spectra of every model (a run expanded to its checkpoints) on the same drawn samples."""
    task = registry.create_task(config.task, config.task_args)
    try:
        samples = draw_samples(task.samples(), config.n, config.seed)
        if len(samples) < 2:
            raise HarnessError(f"task '{config.task}' gave {len(samples)} samples; a covariance needs at least 2")
        requests, targets = _first_requests(task, samples)
    finally:
        task.close()
    if len(samples) < config.n:
        log(f"task '{config.task}' has only {len(samples)} samples; using all of them")
    config = dataclasses.replace(config, n=len(samples), grad_n=min(config.grad_n, len(samples)), blocks=min(config.blocks, len(samples)))
    results = []
    for spec in expand_models(model_specs):
        adapter = registry.create_model(spec, config.model_args)
        try:
            probe = probe_of(adapter)
            result = spectra_of(probe, probe.encode(requests, targets), config, spec, adapter.describe().get("step"))
        finally:
            adapter.close()
        results.append(result)
        log(f"{spec}: {len(result.activations)} layers, gradients of {result.gradient_size:,} parameters, {result.seconds:.1f} s")
    return SpectraReport(config, results)
