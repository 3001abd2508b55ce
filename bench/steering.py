"""Steered vs unsteered decoding speed and KV storage, measured side by side in one run.

    python bench/steering.py                       # tiny Llama built offline (CPU)
    python bench/steering.py --model hf:PATH --device cuda --tokens 64 --batch 8

Prints, per method, generated tokens/s, the ratio to unsteered, the KV bytes the
steering adds per sequence and the bytes content-matched prompting would cache
(their ratio is MI's storage saving), and on a GPU the peak memory of each. Each configuration runs `--repeats` times,
interleaved, and the median is reported.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch

from harness.api import ChatMessage, GenerateRequest, RequestContext
from harness.registry import create_model

GUIDANCE = (
    "You are extremely agreeable: warm, cooperative, trusting, kind and eager to help others. "
    "Answer every question in that character, briefly and politely, and never contradict the user."
)
PROMPTS = [
    "Describe how water boils.",
    "What is a library for?",
    "Name three fruits.",
    "How does a bicycle move?",
    "Explain what a map shows.",
    "Write a sentence about the ocean.",
    "What does a carpenter do?",
    "What is a noun?",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="hf:PATH (default: a tiny Llama, 8 layers, width 256, built here)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--mi-layers", default="3-4", help="layer set of the partial MI configuration")
    args = parser.parse_args()

    spec = args.model
    if spec is None:
        from harness.testing.tiny_models import build_tiny_llama

        path = build_tiny_llama(
            tempfile.mkdtemp(), hidden_size=256, intermediate_size=512, num_hidden_layers=8, num_attention_heads=8, num_key_value_heads=4
        )
        spec = f"hf:{path}"
    base = create_model(
        spec, {"device": args.device, "dtype": "float32" if args.device == "cpu" else "auto", "batch_size": str(args.batch)}
    )

    from harness.adapters.steering import wrap_with_steering
    from harness.adapters.steering.caa import build_vector, save_vector
    from harness.tasks.persona.data import contrastive_pairs

    layer = len(base.decoder_layers()) // 2
    vector_path = tempfile.mktemp(suffix=".safetensors")
    save_vector(build_vector(base, contrastive_pairs("agreeableness", n=16), layer), vector_path)
    configs = {
        "none": base,
        "prompt": wrap_with_steering(base, "prompt", {"guidance": GUIDANCE}),
        "mi all": wrap_with_steering(base, "mi", {"guidance": GUIDANCE}),
        f"mi {args.mi_layers}": wrap_with_steering(base, "mi", {"guidance": GUIDANCE, "layers": args.mi_layers}),
        f"mi {args.mi_layers} 1 group": wrap_with_steering(base, "mi", {"guidance": GUIDANCE, "layers": args.mi_layers, "heads": "0"}),
        f"caa layer {layer}": wrap_with_steering(base, "caa", {"vector": vector_path, "multiplier": "1"}),
    }
    prompts = [(ChatMessage("user", PROMPTS[i % len(PROMPTS)]),) for i in range(args.batch)]
    requests = [GenerateRequest(p, max_tokens=args.tokens) for p in prompts]
    contexts = [RequestContext("bench", str(i), 0) for i in range(args.batch)]
    base.generate(requests[:1], contexts[:1])  # warm-up
    timings: dict[str, list[float]] = {name: [] for name in configs}
    peak_gib: dict[str, float] = {}
    cuda = args.device.startswith("cuda")
    for _ in range(args.repeats):
        for name, adapter in configs.items():
            if cuda:
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
            started = time.perf_counter()
            adapter.generate(requests, contexts)
            if cuda:
                torch.cuda.synchronize()
                peak_gib[name] = torch.cuda.max_memory_allocated() / 2**30
            timings[name].append(time.perf_counter() - started)
    n_tokens = args.batch * args.tokens
    base_tps = n_tokens / statistics.median(timings["none"])
    print(f"model {spec} on {args.device}: {args.batch} sequences x {args.tokens} new tokens, median of {args.repeats}")
    print(
        f"{'method':<22}{'tokens/s':>10}{'vs none':>9}{'KV added B/seq':>16}{'KV prompting B/seq':>20}{'storage saving':>16}{'peak GiB':>10}"
    )
    for name, adapter in configs.items():
        tps = n_tokens / statistics.median(timings[name])
        added = adapter.method.kv_bytes_added_per_sequence() if name != "none" else 0
        guidance_tokens = adapter.method.guidance_token_count() if name != "none" else None
        prompting = guidance_tokens * base.kv_bytes_per_token() if guidance_tokens else 0
        saving = f"{prompting / added:.1f}x" if added and prompting else ""
        peak = f"{peak_gib[name]:.2f}" if name in peak_gib else "n/a"
        print(f"{name:<22}{tps:>10.1f}{tps / base_tps:>9.2f}{added:>16}{prompting:>20}{saving:>16}{peak:>10}")


if __name__ == "__main__":
    main()
