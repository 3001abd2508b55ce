"""Two-way log-likelihoods: the hf adapter against lm-evaluation-harness's HFLM.

The same model object (the bench Llama of hf_common), 200 prompts of mixed
lengths ending in "Answer:", each scored with two continuations, the same
batch size. Printed from one run, for " Yes"/" No" (" Yes" is two tokens in
the tiny tokenizer, " No" one), for " yes"/" no" (one token each), and for
"Yes"/"No" after a context ending in "Answer: " (lm-eval moves the space into
the continuation; so does the harness): the largest difference of
log-likelihoods between the two, whether `is_greedy` agrees everywhere,
seconds of each, and the speed-up.

lm-eval already shares one forward pass between continuations that are a
single token each (its logits cache keys on context + continuation[:-1]); the
harness shares the context's forward pass with every continuation, whatever
their lengths.

Run: python bench/hf_loglikelihood.py [--prompts 200 --batch-size 16 --repeats 3 --threads 1 --model-dir DIR]
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hf_common import bench_model, interleaved_best, load_both, mixed_prompts, parse_options

from harness.api import LoglikelihoodRequest

CASES = (("Answer:", (" Yes", " No")), ("Answer:", (" yes", " no")), ("Answer: ", ("Yes", "No")))


def main() -> None:
    opts = parse_options(__doc__.splitlines()[0], prompts=200)
    from lm_eval.api.instance import Instance

    with tempfile.TemporaryDirectory() as tmp:
        ours, theirs = load_both(bench_model(opts.model_dir or Path(tmp) / "bench_llama"), opts.batch_size)
    texts = [f"{text}\nQuestion: Is that right?\n" for text in mixed_prompts(opts.prompts)]
    lengths = [len(ours.tokenizer.encode(t + "Answer:")) for t in texts]
    print(
        f"model: Llama 4 layers, hidden 256, {sum(p.numel() for p in ours.model.parameters()):,} parameters; "
        f"{len(texts)} prompts of {min(lengths)}-{max(lengths)} tokens, two continuations each; "
        f"batch size {opts.batch_size}; torch threads {opts.threads}; best of {opts.repeats}"
    )
    print(
        f"{'context end + continuations':30} {'max |diff|':>11} {'is_greedy same':>15} {'harness s':>10} {'lm-eval s':>10} {'speed-up':>9}"
    )
    for ending, pair in CASES:
        pairs = [(t + ending, answer) for t in texts for answer in pair]
        requests = [LoglikelihoodRequest(c, a) for c, a in pairs]
        instances = [Instance("loglikelihood", {}, (c, a), i) for i, (c, a) in enumerate(pairs)]
        results, times = interleaved_best(
            {
                "harness": lambda: [(r.logprob, r.is_greedy) for r in ours.loglikelihood(requests, [None] * len(requests))],
                "lm-eval": lambda: theirs.loglikelihood(instances, disable_tqdm=True),
            },
            opts.repeats,
        )
        diff = max(abs(a[0] - b[0]) for a, b in zip(results["harness"], results["lm-eval"]))
        greedy_same = sum(a[1] == b[1] for a, b in zip(results["harness"], results["lm-eval"]))
        label = f"{ending!r} + " + "/".join(repr(a) for a in pair)
        print(
            f"{label:30} {diff:11.2e} {greedy_same:>9}/{len(pairs)} {times['harness']:10.2f} {times['lm-eval']:10.2f} "
            f"{times['lm-eval'] / times['harness']:8.2f}x"
        )


if __name__ == "__main__":
    main()
