"""Task `assign_add`: the nine evaluation pools of Assign-and-Add, for any model.

Each sample is one sequence. Its request carries the text form (for language
models, see render.py) and, in `metadata`, the exact 16 tokens and the
train/held-out split they were drawn from (for the `assign-add:` model, which
refuses a split it was not trained on). The answer is the first integer of the
reply; a reply without one is a parse failure: scored wrong and counted.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterable, Literal, Sequence

from harness.api import GenerateRequest, HarnessError, Response, Sample, Score, Task
from harness.metrics import Metric, count_metric, proportion_metric
from harness.record import SampleRecord
from harness.registry import register_task
from harness.tasks.assign_add.generator import (
    EXACT_POOLS,
    MOD,
    PAIRS_FRAC_DEFAULT,
    PARTITION_SEED_DEFAULT,
    POOL_NAMES,
    POOLS_BY_NAME,
    Batch,
    draw_exact_pool,
    draw_pool,
    make_partition,
    pool_rng,
)
from harness.tasks.assign_add.render import parse_answer, render_text

PoolName = Literal[
    "all",
    "0var_train",
    "0var_heldout_pair",
    "1var_train",
    "1var_heldout_pair",
    "1var_restricted",
    "2var_train",
    "2var_heldout_pair",
    "2var_1restricted",
    "2var_2restricted",
]


@dataclass(frozen=True)
class AssignAddArgs:
    pool: PoolName = "all"  # one of the nine pools, or all of them
    n: int = 2000  # random sequences per pool
    seed: int = 0  # draws the pools' sequences
    pairs_frac: float = PAIRS_FRAC_DEFAULT  # fraction of number pairs seen in training (the model's split)
    partition_seed: int = PARTITION_SEED_DEFAULT  # seed of that split (42 = the released run's)
    exhaustive: bool = False  # add the paper's exhaustive final pools (194,625 sequences)

    def __post_init__(self):
        if not 0 <= self.n <= 1_000_000:
            raise HarnessError(f"task arg n={self.n}: use 0 to 1,000,000 sequences per pool")
        if self.n == 0 and not self.exhaustive:
            raise HarnessError("task arg n=0 leaves nothing to evaluate; use n>0 or exhaustive=true")
        make_partition(self.pairs_frac, self.partition_seed)  # validates pairs_frac


@register_task
class AssignAddTask(Task):
    name = "assign_add"
    description = "Assign-and-Add (Exoo, Bietti, Sous 2026): variable binding + addition mod 59, nine generalisation pools"
    Args = AssignAddArgs

    def __init__(self, args: AssignAddArgs | None = None):
        super().__init__(args)
        self.partition = make_partition(self.args.pairs_frac, self.args.partition_seed)

    def pools(self) -> list[str]:
        chosen = list(POOL_NAMES) if self.args.pool == "all" else [self.args.pool]
        return (chosen if self.args.n > 0 else []) + (list(EXACT_POOLS) if self.args.exhaustive else [])

    def batches(self) -> Iterable[tuple[str, Batch]]:
        for pool in self.pools():
            rng = pool_rng(self.args.seed, pool)
            if pool in EXACT_POOLS:
                yield pool, draw_exact_pool(pool, self.partition, rng)
            else:
                yield pool, draw_pool(POOLS_BY_NAME[pool], self.partition, self.args.n, rng)

    def data_fingerprint(self) -> str:
        """Hash of the token arrays (the samples are a function of them)."""
        h = hashlib.sha256()
        for pool, batch in self.batches():
            h.update(pool.encode())
            h.update(batch.tokens.tobytes())
        return h.hexdigest()

    def samples(self) -> Iterable[Sample]:
        for pool, batch in self.batches():
            width = len(str(len(batch) - 1))
            for i in range(len(batch)):
                tokens = batch.tokens[i].tolist()
                yield Sample(
                    id=f"{pool}/{i:0{width}d}",
                    input=render_text(tokens),
                    target=int(batch.labels[i]),
                    metadata={
                        "pool": pool,
                        "tokens": tokens,
                        "seq_type": int(batch.seq_type[i]),
                        "operands": [int(batch.n1[i]), int(batch.n2[i])],
                    },
                )

    def requests(self, sample: Sample) -> list[GenerateRequest]:
        return [
            GenerateRequest(
                prompt=sample.input,
                stop=("\n",),
                max_tokens=8,
                temperature=0.0,
                metadata={"tokens": sample.metadata["tokens"], "partition": self.partition.describe()},
            )
        ]

    def score(self, sample: Sample, responses: Sequence[Response]) -> Score:
        text = responses[0].text
        answer = parse_answer(text)
        n1, n2 = sample.metadata["operands"]
        fields = {"pool": sample.metadata["pool"], "seq_type": sample.metadata["seq_type"], "parsed": answer is not None}
        if answer is None:
            shown = text if text is None or len(text) <= 200 else text[:200] + "..."
            return Score(0.0, None, f"no integer (of at most 18 digits) in the reply {shown!r}: parse failure, scored wrong", fields)
        verdict = "correct" if answer == sample.target else "wrong"
        return Score(
            float(answer == sample.target),
            answer,
            f"{verdict}: first integer of the reply is {answer}; expected ({n1} + {n2}) mod {MOD} = {sample.target}",
            fields,
        )

    def aggregate(self, records: list[SampleRecord]) -> dict[str, Metric]:
        """Accuracy over every sample and per pool (Wilson 95% intervals), plus parse failures."""
        metrics: dict[str, Metric] = {"accuracy": proportion_metric(int(sum(r.score == 1.0 for r in records)), len(records))}
        for pool in self.pools():
            scores = [r.score for r in records if r.fields.get("pool") == pool]
            if scores:  # a pool cut by --limit, or whose every request errored, has no accuracy to report
                metrics[f"acc_{pool}"] = proportion_metric(int(sum(s == 1.0 for s in scores)), len(scores))
        failures = sum(1 for r in records if r.fields.get("parsed") is False)
        metrics["parse_failures"] = count_metric(failures, len(records))
        return metrics
