"""Greedy generation: the hf adapter against lm-evaluation-harness's HFLM.

The same model object (a 4-layer Llama, hidden 256, briefly trained so its
text has line breaks and end-of-text), the same 64 prompts of mixed lengths
(a few to a few hundred tokens), greedy, max tokens cycling 8/16/32/64, stop
sequences ".\\n" and "Question:", the same batch size. Printed from one run:
samples/s of each and their ratio, and how many outputs of each equal
transformers' unbatched greedy `generate` (one prompt at a time, cut at the
first stop sequence).

Run: python bench/hf_generate.py [--prompts 64 --batch-size 16 --repeats 3 --threads 1 --model-dir DIR]
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch
from hf_common import bench_model, interleaved_best, load_both, mixed_prompts, parse_options

from harness.api import GenerateRequest

STOPS = (".\n", "Question:")
BUDGETS = (8, 16, 32, 64)


def unbatched_greedy(adapter, prompt: str, max_tokens: int) -> str:
    ids = adapter.tokenizer(prompt, return_tensors="pt")
    with torch.no_grad():
        out = adapter.model.generate(**ids, max_new_tokens=max_tokens, do_sample=False, pad_token_id=adapter.tokenizer.pad_token_id)
    text = adapter.tokenizer.decode(out[0, ids.input_ids.shape[1] :], skip_special_tokens=True)
    cuts = [i for i in (text.find(s) for s in STOPS) if i >= 0]
    return text[: min(cuts)] if cuts else text


def main() -> None:
    opts = parse_options(__doc__.splitlines()[0], prompts=64)
    from lm_eval.api.instance import Instance

    with tempfile.TemporaryDirectory() as tmp:
        model_dir = bench_model(opts.model_dir or Path(tmp) / "bench_llama")
        ours, theirs = load_both(model_dir, opts.batch_size)
        prompts = mixed_prompts(opts.prompts)
        budgets = [BUDGETS[i % len(BUDGETS)] for i in range(len(prompts))]
        requests = [GenerateRequest(p, stop=STOPS, max_tokens=n) for p, n in zip(prompts, budgets)]
        instances = [
            Instance("generate_until", {}, (p, {"until": list(STOPS), "max_gen_toks": n, "do_sample": False}), i)
            for i, (p, n) in enumerate(zip(prompts, budgets))
        ]
        results, times = interleaved_best(
            {
                "harness": lambda: [g.text for g in ours.generate(requests, [None] * len(requests))],
                "lm-eval": lambda: theirs.generate_until(instances, disable_tqdm=True),
            },
            opts.repeats,
        )
        reference = [unbatched_greedy(ours, p, n) for p, n in zip(prompts, budgets)]
        generated = [len(ours.tokenizer.encode(t)) for t in reference]

    n = len(prompts)
    print(
        f"model: Llama 4 layers, hidden 256, {sum(p.numel() for p in ours.model.parameters()):,} parameters; "
        f"{n} prompts of {min(len(ours.tokenizer.encode(p)) for p in prompts)}-{max(len(ours.tokenizer.encode(p)) for p in prompts)} tokens; "
        f"max tokens {'/'.join(map(str, BUDGETS))}; generated {min(generated)}-{max(generated)} tokens (mean {sum(generated) / n:.1f}); "
        f"batch size {opts.batch_size}; torch threads {opts.threads}; best of {opts.repeats}"
    )
    print(f"{'':10} {'seconds':>8} {'samples/s':>10} {'= unbatched greedy':>20}")
    for name in ("harness", "lm-eval"):
        same = sum(a == b for a, b in zip(results[name], reference))
        print(f"{name:10} {times[name]:8.2f} {n / times[name]:10.1f} {same:>17}/{n}")
    print(f"speed-up harness / lm-eval: {times['lm-eval'] / times['harness']:.2f}x")
    for i, (a, b) in enumerate(zip(results["harness"], reference)):
        if a != b:
            print(f"differs from unbatched greedy, prompt {i}: harness {a!r} vs reference {b!r}")


if __name__ == "__main__":
    main()
