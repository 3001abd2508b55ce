"""Tiny causal LMs built offline, for tests and bench scripts.

Nothing can be downloaded from the Hugging Face hub here, so every model the
tests need is made in-process: a byte-level BPE tokenizer trained on a small
in-code corpus, and randomly initialised (seeded) GPT-2, Llama and Qwen3
models saved with `save_pretrained`, so they load back through
`AutoModelForCausalLM.from_pretrained(path)` exactly like a released
checkpoint. `build_trained_qa_model` fine-tunes the GPT-2 for a few seconds so
that greedy answers to `QA_PAIRS` are known (" 4\\n" for "What is 2 + 2?"),
which lets tests expect non-trivial scores.

Every builder takes the target directory, writes the model there and returns
the path. Same arguments, same weights (seeded).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    AutoModelForCausalLM,
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
    Qwen3Config,
    Qwen3ForCausalLM,
)

EOS = "<|endoftext|>"
PAD = "<|pad|>"
VOCAB_SIZE = 512

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|{{ message['role'] }}|>{{ message['content'] }}<|end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
"""Renders [user "Hi"] as "<|user|>Hi<|end|>\\n<|assistant|>" (with add_generation_prompt)."""

QA_PAIRS: tuple[tuple[str, str], ...] = (
    ("What is 2 + 2?", "4"),
    ("What is the capital of France?", "Paris"),
    ("What is 3 * 3?", "9"),
    ("What color is the sky?", "blue"),
    ("How many legs does a cat have?", "4"),
)
"""Questions the trained QA model answers: greedy continuation is " <answer>\\n"
then end-of-text, after the plain question, after "Question: <q>\\nAnswer:",
and after the chat-rendered question (chat template, add_generation_prompt)."""

_CORPUS = (
    "The quick brown fox jumps over the lazy dog. A model reads text and writes text.\n"
    "Question: What is the answer?\nAnswer: The answer is 42.\n"
    "What is 2 + 2? 4\nWhat is 3 * 3? 9\nWhat is the capital of France? Paris\n"
    "What color is the sky? blue\nHow many legs does a cat have? 4\n"
    "<|system|>You are helpful.<|end|>\n<|user|>Hello there!<|end|>\n<|assistant|>Hi, how can I help?<|end|>\n"
    "Yes No yes no True False true false A B C D E (A) (B) (C) (D) 0 1 2 3 4 5 6 7 8 9 10 100 1000\n"
    "def add(a, b):\n    return a + b\n\nx = [1, 2, 3]\nprint(x)\n"
    "Physics: energy E = m c^2, force F = m a, velocity v = d / t, momentum p = m v.\n"
    "Mathematics: \\frac{1}{2} + \\frac{1}{3} = \\frac{5}{6}; \\sqrt{16} = 4; x^2 - 1 = (x - 1)(x + 1).\n"
    "I think, therefore I am. I believe that honesty matters. I would never lie to you.\n"
    "The assistant answered the question correctly, clearly and briefly.\n"
)


def build_tokenizer(directory: str | Path) -> PreTrainedTokenizerFast:
    """Train the shared byte-level BPE tokenizer (vocab 512) and save it into `directory`."""
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=[EOS, PAD],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(_CORPUS.splitlines(keepends=True) * 4, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token=EOS,
        eos_token=EOS,
        unk_token=EOS,
        pad_token=PAD,
        padding_side="left",
        clean_up_tokenization_spaces=False,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    Path(directory).mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(directory)
    return tokenizer


def _special_ids(tokenizer: PreTrainedTokenizerFast) -> dict[str, int]:
    return {
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }


def _save(model: torch.nn.Module, tokenizer: PreTrainedTokenizerFast, directory: Path) -> Path:
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.bos_token_id = tokenizer.bos_token_id
    model.save_pretrained(directory)
    return directory


def _build(directory: str | Path, seed: int, model_cls, config_cls, defaults: dict, overrides: dict) -> Path:
    """A seeded random model of `model_cls` with the shared tokenizer, saved to `directory`.
    `overrides` may name `device` and `dtype` to build there: a real-size model (8B) is
    initialised in seconds on a GPU in bf16 rather than minutes on the CPU in fp32."""
    directory = Path(directory)
    tokenizer = build_tokenizer(directory)
    device, dtype = overrides.pop("device", "cpu"), overrides.pop("dtype", torch.float32)
    settings = {**defaults, "vocab_size": len(tokenizer), **overrides}
    torch.manual_seed(seed)
    default_dtype = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = model_cls(config_cls(**settings, **_special_ids(tokenizer)))
    finally:
        torch.set_default_dtype(default_dtype)
    return _save(model, tokenizer, directory)


_GQA = dict(
    hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512
)


def build_tiny_gpt2(directory: str | Path, seed: int = 0, **config: Any) -> Path:
    """GPT-2 (default 2 layers, width 64, 2 heads); `config` overrides GPT2Config fields."""
    return _build(directory, seed, GPT2LMHeadModel, GPT2Config, dict(n_embd=64, n_layer=2, n_head=2, n_positions=512), config)


def build_tiny_llama(directory: str | Path, seed: int = 0, **config: Any) -> Path:
    """Llama with grouped-query attention (4 heads, 2 KV heads, head_dim 16, 2 layers)."""
    return _build(directory, seed, LlamaForCausalLM, LlamaConfig, {**_GQA, "tie_word_embeddings": False}, config)


def build_tiny_qwen3(directory: str | Path, seed: int = 0, **config: Any) -> Path:
    """Qwen3 (q/k norms; 4 heads, 2 KV heads, head_dim 16, 2 layers)."""
    return _build(directory, seed, Qwen3ForCausalLM, Qwen3Config, {**_GQA, "head_dim": 16}, config)


def qa_training_texts(tokenizer: PreTrainedTokenizerFast) -> list[str]:
    """Each QA pair in the three prompt formats, answer " A\\n" then end-of-text."""
    texts = []
    for question, answer in QA_PAIRS:
        chat = tokenizer.apply_chat_template([{"role": "user", "content": question}], tokenize=False, add_generation_prompt=True)
        for prompt in (question, f"Question: {question}\nAnswer:", chat):
            texts.append(f"{prompt} {answer}\n{EOS}")
    return texts


def fine_tune(directory: str | Path, texts: list[str], steps: int, lr: float = 3e-3, seed: int = 0) -> Path:
    """Train the model saved in `directory` on `texts` (one padded batch, full-batch
    AdamW) and save it back: a few seconds for the tiny models."""
    directory = Path(directory)
    tokenizer = PreTrainedTokenizerFast.from_pretrained(directory)
    model = AutoModelForCausalLM.from_pretrained(directory)
    batch = tokenizer(texts, return_tensors="pt", padding=True, padding_side="right")
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    torch.manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    # One thread: on a shared, busy CPU, thread synchronisation makes each
    # step of a tiny model ten times slower than the arithmetic.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for _ in range(steps):
            loss = model(**batch, labels=labels).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    finally:
        torch.set_num_threads(threads)
    model.train(False)
    return _save(model, tokenizer, directory)


def corpus_lines() -> list[str]:
    """The tokenizer's training text, line by line (for fine-tuning models that write plausible text)."""
    return _CORPUS.splitlines(keepends=True)


def build_trained_qa_model(directory: str | Path, seed: int = 0, steps: int = 300) -> Path:
    """The tiny GPT-2 overfit on `QA_PAIRS` (300 steps, about 5 s on one CPU core)."""
    directory = build_tiny_gpt2(directory, seed=seed)
    tokenizer = PreTrainedTokenizerFast.from_pretrained(directory)
    return fine_tune(directory, qa_training_texts(tokenizer), steps=steps, seed=seed)
