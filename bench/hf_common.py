"""Shared set-up of the hf benchmarks: the bench model, prompts, lm-eval's HFLM, timing."""

from __future__ import annotations

import argparse
import logging
import os
import random
import time
import warnings
from pathlib import Path
from typing import Callable

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402

from harness.adapters.hf import HFAdapter, HFArgs  # noqa: E402
from harness.testing.tiny_models import build_tiny_llama, corpus_lines, fine_tune  # noqa: E402

BENCH_LLAMA = dict(
    hidden_size=256,
    intermediate_size=768,
    num_hidden_layers=4,
    num_attention_heads=8,
    num_key_value_heads=4,
    max_position_embeddings=1024,
)


def bench_model(directory: Path) -> Path:
    """A 4-layer Llama (hidden 256, GQA 8/4 heads), briefly trained on the tiny
    corpus so that greedy text has line breaks and stops at varied lengths.
    Built once into `directory` (seeded: the same weights every time)."""
    if (directory / "model.safetensors").exists():
        return directory
    build_tiny_llama(directory, **BENCH_LLAMA)
    return fine_tune(directory, corpus_lines(), steps=30, lr=2e-3)


def mixed_prompts(n: int, seed: int = 0) -> list[str]:
    """`n` slices of the corpus, from a few words to a few hundred tokens."""
    words = " ".join(corpus_lines() * 8).split(" ")
    rng = random.Random(seed)
    prompts = []
    for i in range(n):
        length = (3, 12, 40, 90, 160)[i % 5] + rng.randrange(5)
        start = rng.randrange(len(words) - length)
        prompts.append(" ".join(words[start : start + length]))
    return prompts


def load_both(model_dir: Path, batch_size: int):
    """Our adapter and lm-eval's HFLM on the same model object."""
    logging.getLogger("lm_eval").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    from lm_eval.models.huggingface import HFLM

    ours = HFAdapter(str(model_dir), HFArgs(device="cpu", dtype="float32", batch_size=batch_size))
    theirs = HFLM(pretrained=ours.model, tokenizer=ours.tokenizer, batch_size=batch_size, device="cpu")
    return ours, theirs


def interleaved_best(runs: dict[str, Callable[[], object]], repeats: int) -> tuple[dict[str, object], dict[str, float]]:
    """Each run's result and fastest wall time; the runs alternate so that load
    from other processes on the machine falls on all of them alike."""
    results, times = {}, {name: float("inf") for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            start = time.perf_counter()
            results[name] = fn()
            times[name] = min(times[name], time.perf_counter() - start)
    return results, times


def parse_options(description: str, prompts: int) -> argparse.Namespace:
    """The options both HF benches share; sets the torch thread count."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--prompts", type=int, default=prompts)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--model-dir", type=Path, help="reuse (or build once into) this directory")
    opts = parser.parse_args()
    torch.set_num_threads(opts.threads)
    return opts
