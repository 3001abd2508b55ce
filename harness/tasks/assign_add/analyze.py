"""`harness analyze assign-add`: the paper's progress measures for a checkpoint.

1. `l0_value_attends_variable`: in layer 0, each value token of the prefix
   (`v 20`: the `20`) puts its largest attention on its own variable token, the
   step that binds the variable's identity into the value's residual stream.
2. `l1_eq_attends_operands`: in layer 1, the two positions `=` attends to most
   are exactly the operands' sources: the value bound to each queried variable,
   or the literal number for a number operand (the paper's
   `attn_l1_equal_to_values`, extended to 2-var sequences).
3. `mlp1_adds_{train,heldout}_pairs`: the layer-1 MLP alone computes
   (a + b) mod 59 from OV1(embed(a)) + OV1(embed(b)), on the number pairs seen
   in training and on the held-out ones: the "shared modular-addition module"
   (the paper's `ov1_mlp1_accuracy`, split by the partition).
Measures 1-2 run on sequences of the 0/1/2-var training pools; 3 is exhaustive
over the 3,481 pairs. Each is a proportion with its Wilson 95% interval; the
`*_mass` columns give the mean attention weight on the target positions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from harness.metrics import Metric, proportion_metric
from harness.tasks.assign_add.checkpoints import RELEASED_PARTITION, CheckpointRef
from harness.tasks.assign_add.generator import (
    FIRST_VAR,
    MOD,
    POOLS_BY_NAME,
    PREFIX_LEN,
    Batch,
    draw_pool,
    make_partition,
    pool_rng,
)
from harness.tasks.assign_add.model import AssignAddTransformer, load_checkpoint_file

PROBE_POOLS = ("0var_train", "1var_train", "2var_train")


@dataclass
class ProgressMeasures:
    label: str
    step: int | None
    metrics: dict[str, Metric]
    masses: dict[str, float]

    def to_row(self) -> dict:
        row: dict = {"checkpoint": self.label, "step": self.step}
        for name, m in self.metrics.items():
            row[name] = m.value
            row[f"{name}_ci95"] = list(m.ci95) if m.ci95 else None
        return {**row, **self.masses}


def probe_batch(n_per_pool: int, seed: int, pairs_frac: float, partition_seed: int) -> Batch:
    partition = make_partition(pairs_frac, partition_seed)
    parts = [draw_pool(POOLS_BY_NAME[p], partition, n_per_pool, pool_rng(seed, f"probe/{p}")) for p in PROBE_POOLS]
    return Batch(*(np.concatenate([getattr(b, f) for b in parts]) for f in Batch.__dataclass_fields__))


def operand_sources(batch: Batch) -> np.ndarray:
    """(B, 2) positions holding each operand's number: the value after the
    queried variable's token in the prefix, or the operand slot itself."""
    out = np.empty((len(batch), 2), dtype=np.int64)
    for slot, var in ((0, batch.lhs_var), (1, batch.rhs_var)):
        is_var_token = batch.tokens[:, :PREFIX_LEN] == (FIRST_VAR + var)[:, None]
        bound_value = is_var_token.argmax(1) + 1
        out[:, slot] = np.where(var >= 0, bound_value, PREFIX_LEN + 1 + slot)
    return out


@torch.no_grad()
def measure(model: AssignAddTransformer, batch: Batch, train_mask: np.ndarray) -> tuple[dict[str, Metric], dict[str, float]]:
    model.eval()
    tokens = torch.from_numpy(batch.tokens).to(model.unembed.W_U.device)
    _, patterns = model.forward_full(tokens)
    attn0, attn1 = (p.sum(1).cpu().numpy() for p in patterns[:2])  # summed over heads, as the paper does

    # 1. value tokens -> their variable (layer 0)
    b_idx, pos = np.nonzero(batch.tokens[:, 1:PREFIX_LEN] < MOD)
    pos = pos + 1
    peaks = attn0[b_idx, pos].argmax(-1) == pos - 1
    l0_mass = float(attn0[b_idx, pos, pos - 1].mean())

    # 2. "=" -> the operands' sources (layer 1)
    sources = np.sort(operand_sources(batch), 1)
    from_eq = attn1[:, -1]
    top2 = np.sort(np.argsort(-from_eq, 1)[:, :2], 1)
    l1_hits = np.all(top2 == sources, 1)
    l1_mass = float(np.take_along_axis(from_eq, sources, 1).sum(1).mean())

    # 3. the layer-1 MLP as an adder of OV1-moved number embeddings
    last = model.blocks[-1]
    ov = torch.einsum("hde,hef->df", last.attn.W_V, last.attn.W_O)
    moved = model.embed.W_E[:MOD] @ ov  # (59, d)
    x = (moved[:, None, :] + moved[None, :, :]).reshape(MOD * MOD, -1)
    pred = (last.mlp(x) @ model.unembed.W_U).argmax(-1).cpu().numpy().reshape(MOD, MOD)
    truth = (np.arange(MOD)[:, None] + np.arange(MOD)[None, :]) % MOD
    adds = pred == truth

    metrics = {
        "l0_value_attends_variable": proportion_metric(int(peaks.sum()), len(peaks)),
        "l1_eq_attends_operands": proportion_metric(int(l1_hits.sum()), len(l1_hits)),
        "mlp1_adds_train_pairs": proportion_metric(int(adds[train_mask].sum()), int(train_mask.sum())),
        "mlp1_adds_heldout_pairs": proportion_metric(int(adds[~train_mask].sum()), int((~train_mask).sum())),
    }
    masses = {"l0_value_variable_mass": l0_mass, "l1_eq_operands_mass": l1_mass}
    return metrics, masses


def analyze_checkpoints(refs: list[CheckpointRef], n_per_pool: int = 512, seed: int = 0) -> list[ProgressMeasures]:
    """Progress measures for each checkpoint, on the split it was trained on
    (the paper's default split when the checkpoint does not say)."""
    out = []
    for ref in refs:
        split = ref.partition or RELEASED_PARTITION
        partition = make_partition(split["pairs_frac"], split["partition_seed"])
        batch = probe_batch(n_per_pool, seed, partition.pairs_frac, partition.seed)
        metrics, masses = measure(load_checkpoint_file(ref.path), batch, partition.train_mask)
        out.append(ProgressMeasures(ref.label, ref.step, metrics, masses))
    return out
