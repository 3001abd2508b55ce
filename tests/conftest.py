"""Shared pytest fixtures. Keep each fixture short and say what it provides."""

from __future__ import annotations

import os
import tempfile

import pytest

# Tests never reach the Hugging Face hub: every model is built offline.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
# The response cache of the test session lives in a temporary folder, never in the user's home.
os.environ["HARNESS_CACHE_DIR"] = tempfile.mkdtemp(prefix="harness-test-cache-")


# ---------------------------------------------------------------- tiny offline models (harness.testing.tiny_models)


@pytest.fixture(scope="session")
def tiny_gpt2_dir(tmp_path_factory):
    """Random GPT-2 (2 layers, width 64), tokenizer with a chat template; a local model directory."""
    from harness.testing.tiny_models import build_tiny_gpt2

    return build_tiny_gpt2(tmp_path_factory.mktemp("tiny_gpt2"))


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory):
    """Random Llama with grouped-query attention (4 heads, 2 KV heads)."""
    from harness.testing.tiny_models import build_tiny_llama

    return build_tiny_llama(tmp_path_factory.mktemp("tiny_llama"))


@pytest.fixture(scope="session")
def tiny_qwen3_dir(tmp_path_factory):
    """Random Qwen3 (4 heads, 2 KV heads)."""
    from harness.testing.tiny_models import build_tiny_qwen3

    return build_tiny_qwen3(tmp_path_factory.mktemp("tiny_qwen3"))


@pytest.fixture(scope="session")
def trained_qa_dir(tmp_path_factory):
    """Tiny GPT-2 overfit on harness.testing.tiny_models.QA_PAIRS: greedy " 4\\n" for "What is 2 + 2?"."""
    from harness.testing.tiny_models import build_trained_qa_model

    return build_trained_qa_model(tmp_path_factory.mktemp("trained_qa"))


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """Tiny models run faster on one thread than on two contended ones (measured 6-10x on a shared 2-core machine)."""
    try:
        import torch
    except ModuleNotFoundError:  # the core-only environment: no local models
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
