"""Seeded generator of Assign-and-Add sequences, faithful to bexoo/assign-and-add.

A sequence is 16 tokens: a 12-token prefix of `VAR VALUE` assignments with PAD
tokens scattered in the gaps, then the core `+ LHS RHS =` in prefix notation.
The label is (x + y) mod 59. Generation is vectorised with numpy (one call
builds a whole batch), because the trainer needs ~512 fresh sequences per step
and the evaluation pools need 18,000 at once.

Partition (what training may see): `floor(pairs_frac * 59 * 59)` number pairs
drawn with `random.Random(partition_seed).sample` from the row-major list of
pairs (the paper's exact draw, so seed 42 / 0.7 gives the released run's
split); variables a, b never occupy the RHS operand slot and k, l never the
LHS slot in training.
"""

from __future__ import annotations

import math
import random
import zlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np

from harness.api import HarnessError

MOD = 59
PLUS, EQUAL, PAD = MOD, MOD + 1, MOD + 2
FIRST_VAR = MOD + 3
N_VARS = 12
VOCAB = FIRST_VAR + N_VARS  # 74
VAR_NAMES = "abcdefghijkl"
SEQ_LEN = 16
PREFIX_LEN = 12
MAX_ASSIGNMENTS = PREFIX_LEN // 2  # 6
N_TYPES = 4  # 0: + n1 n2 =   1: + v n2 =   2: + n1 v =   3: + v1 v2 =

# Variable indices (0 = a) barred from an operand slot in training.
NEVER_RHS = (0, 1)  # a, b
NEVER_LHS = (N_VARS - 2, N_VARS - 1)  # k, l

PAIRS_FRAC_DEFAULT = 0.7
PARTITION_SEED_DEFAULT = 42


def _two_var_pairs(bad_count: int | None) -> np.ndarray:
    """(v1, v2) with v1 != v2, filtered by how many sit in a barred slot
    (None: none barred = the 92 training pairs)."""
    out = []
    for v1 in range(N_VARS):
        for v2 in range(N_VARS):
            if v1 == v2:
                continue
            bad = (v1 in NEVER_LHS) + (v2 in NEVER_RHS)
            if (bad_count is None and bad == 0) or bad == bad_count:
                out.append((v1, v2))
    return np.array(out, dtype=np.int64)


VALID_2VAR_PAIRS = _two_var_pairs(None)  # 92
ONE_BAD_2VAR_PAIRS = _two_var_pairs(1)  # 36
TWO_BAD_2VAR_PAIRS = _two_var_pairs(2)  # 4


@dataclass(frozen=True)
class Partition:
    """Which number pairs training may use. `train_mask[n1, n2]` is True for the
    pairs seen in training; the rest are the held-out ("add-restricted") pairs."""

    pairs_frac: float
    seed: int
    train_mask: np.ndarray  # (59, 59) bool

    @property
    def train_pairs(self) -> np.ndarray:
        return np.argwhere(self.train_mask)  # row-major order, (K, 2)

    @property
    def heldout_pairs(self) -> np.ndarray:
        return np.argwhere(~self.train_mask)

    def describe(self) -> dict:
        return {"pairs_frac": self.pairs_frac, "partition_seed": self.seed}


@lru_cache(maxsize=16)
def make_partition(pairs_frac: float = PAIRS_FRAC_DEFAULT, seed: int = PARTITION_SEED_DEFAULT) -> Partition:
    n_train = math.floor(pairs_frac * MOD * MOD)  # same expression as the paper's train.py
    if not 1 <= n_train < MOD * MOD:
        raise HarnessError(
            f"pairs_frac {pairs_frac} keeps {n_train} of {MOD * MOD} number pairs; use a value in (0, 1) that keeps some of each"
        )
    pair_pool = [(a, b) for a in range(MOD) for b in range(MOD)]
    mask = np.zeros((MOD, MOD), dtype=bool)
    for a, b in random.Random(seed).sample(pair_pool, n_train):
        mask[a, b] = True
    mask.setflags(write=False)
    return Partition(pairs_frac=pairs_frac, seed=seed, train_mask=mask)


# ---------------------------------------------------------------- sequences


@dataclass(frozen=True)
class Batch:
    """Sequences with what they ask. `lhs_var`/`rhs_var` are variable indices
    (0 = a) or -1 where the operand is a number."""

    tokens: np.ndarray  # (B, 16) int64
    labels: np.ndarray  # (B,)
    seq_type: np.ndarray  # (B,)
    n1: np.ndarray
    n2: np.ndarray
    lhs_var: np.ndarray
    rhs_var: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


AssignmentCount = Literal["clamp", "from_k"]
"""How many assignments a sequence gets. "clamp": U{1..6} raised to the number
of queried variables (the paper's training stream, `train.build_sequence`, and
its 0/1-var pools); "from_k": U{k..6} (the paper's 2-var evaluation builder in
`eval_pools.py`, used here for every 2-var pool: the accuracies published for
the released checkpoints are reproduced with it, not with "clamp", which gives
a phase-1 model 0.1 more on 2-var sequences because two-assignment prefixes
are twice as frequent)."""


def build_sequences(
    seq_type: np.ndarray,
    n1: np.ndarray,
    n2: np.ndarray,
    lhs_var: np.ndarray,
    rhs_var: np.ndarray,
    rng: np.random.Generator,
    count_rule: AssignmentCount = "clamp",
) -> Batch:
    """Render rows (type, n1, n2, operand variables) as token sequences: the
    queried variables are bound to their operands, distractor variables (distinct,
    uniform values) fill the rest of a U{1..6} assignment count, assignments are
    shuffled and the PADs fall uniformly into the gaps between them."""
    seq_type, n1, n2 = (np.asarray(a, dtype=np.int64) for a in (seq_type, n1, n2))
    lhs_var, rhs_var = np.asarray(lhs_var, dtype=np.int64), np.asarray(rhs_var, dtype=np.int64)
    b = len(seq_type)
    has_lhs, has_rhs = lhs_var >= 0, rhs_var >= 0
    if np.any(has_lhs != np.isin(seq_type, (1, 3))) or np.any(has_rhs != np.isin(seq_type, (2, 3))):
        raise ValueError("operand variables do not match the sequence types")
    if np.any((seq_type == 3) & (lhs_var == rhs_var)):
        raise ValueError("a 2-var sequence needs two different variables")

    # Queried assignments first (LHS binding, then RHS binding), compacted left.
    k = has_lhs.astype(np.int64) + has_rhs
    q_var = np.where(has_lhs[:, None], np.stack([lhs_var, rhs_var], 1), np.stack([rhs_var, lhs_var], 1))
    q_val = np.where(has_lhs[:, None], np.stack([n1, n2], 1), np.stack([n2, n1], 1))

    draw = rng.integers(1, MAX_ASSIGNMENTS + 1, size=b)
    if count_rule == "clamp":
        n_assign = np.maximum(draw, k)
    else:
        lo = np.maximum(k, 1)
        n_assign = lo + (rng.random(b) * (MAX_ASSIGNMENTS + 1 - lo)).astype(np.int64)

    # Distractors: a uniform random subset of the other variables.
    keys = rng.random((b, N_VARS))
    keys[has_lhs, lhs_var[has_lhs]] = 2.0
    keys[has_rhs, rhs_var[has_rhs]] = 2.0
    distractor_var = np.argsort(keys, axis=1)[:, :MAX_ASSIGNMENTS]
    distractor_val = rng.integers(0, MOD, size=(b, MAX_ASSIGNMENTS))

    slot = np.arange(MAX_ASSIGNMENTS)[None, :]
    from_query = slot < k[:, None]
    d_index = np.clip(slot - k[:, None], 0, MAX_ASSIGNMENTS - 1)
    q_index = np.minimum(slot, 1).repeat(b, 0)
    slot_var = np.where(from_query, np.take_along_axis(q_var, q_index, 1), np.take_along_axis(distractor_var, d_index, 1))
    slot_val = np.where(from_query, np.take_along_axis(q_val, q_index, 1), np.take_along_axis(distractor_val, d_index, 1))

    # Shuffle the active assignments.
    active = slot < n_assign[:, None]
    order = np.argsort(np.where(active, rng.random((b, MAX_ASSIGNMENTS)), 2.0), axis=1)
    slot_var = np.take_along_axis(slot_var, order, 1)
    slot_val = np.take_along_axis(slot_val, order, 1)

    # Each of the 12 - 2n PADs lands in one of the n + 1 gaps, uniformly.
    n_pads = PREFIX_LEN - 2 * n_assign
    max_pads = PREFIX_LEN - 2
    pad_gap = (rng.random((b, max_pads)) * (n_assign[:, None] + 1)).astype(np.int64)
    pad_used = np.arange(max_pads)[None, :] < n_pads[:, None]
    gap_sizes = ((pad_gap[:, :, None] == np.arange(MAX_ASSIGNMENTS + 1)[None, None, :]) & pad_used[:, :, None]).sum(1)
    var_pos = np.cumsum(gap_sizes[:, :MAX_ASSIGNMENTS], axis=1) + 2 * slot

    tokens = np.full((b, SEQ_LEN), PAD, dtype=np.int64)
    r, c = np.nonzero(active)
    tokens[r, var_pos[r, c]] = FIRST_VAR + slot_var[r, c]
    tokens[r, var_pos[r, c] + 1] = slot_val[r, c]
    tokens[:, PREFIX_LEN] = PLUS
    tokens[:, PREFIX_LEN + 1] = np.where(has_lhs, FIRST_VAR + lhs_var, n1)
    tokens[:, PREFIX_LEN + 2] = np.where(has_rhs, FIRST_VAR + rhs_var, n2)
    tokens[:, PREFIX_LEN + 3] = EQUAL
    return Batch(tokens, (n1 + n2) % MOD, seq_type, n1, n2, lhs_var, rhs_var)


# ---------------------------------------------------------------- evaluation pools


@dataclass(frozen=True)
class PoolSpec:
    """One evaluation pool: which operands are variables, whether the number
    pair was seen in training, and which variable slots are allowed."""

    name: str
    n_vars: int
    heldout_pair: bool
    var_slots: Literal["train", "restricted", "one_bad", "two_bad"]
    count_rule: AssignmentCount = "clamp"
    description: str = ""


POOLS: tuple[PoolSpec, ...] = (
    PoolSpec("0var_train", 0, False, "train", description="+ n1 n2 = on a training number pair"),
    PoolSpec("0var_heldout_pair", 0, True, "train", description="+ n1 n2 = on a held-out number pair"),
    PoolSpec("1var_train", 1, False, "train", description="one variable operand, training pair and slot"),
    PoolSpec("1var_heldout_pair", 1, True, "train", description="one variable operand, held-out pair"),
    PoolSpec("1var_restricted", 1, False, "restricted", description="k/l on the LHS or a/b on the RHS"),
    PoolSpec("2var_train", 2, False, "train", "from_k", description="+ v1 v2 =, training pair and slots"),
    PoolSpec("2var_heldout_pair", 2, True, "train", "from_k", description="+ v1 v2 =, held-out pair"),
    PoolSpec("2var_1restricted", 2, False, "one_bad", "from_k", "exactly one variable in a barred slot"),
    PoolSpec("2var_2restricted", 2, False, "two_bad", "from_k", "both variables barred, e.g. + k a ="),
)
POOL_NAMES = tuple(p.name for p in POOLS)
POOLS_BY_NAME = {p.name: p for p in POOLS}

EXACT_POOLS = ("exact_0var_heldout_pair", "exact_2var_union")
"""The paper's exhaustive final metrics: every held-out pair once (1,045 at the
default split), and held-out pairs x 92 training var-pairs + training pairs x
(36 one-barred + 4 two-barred) var-pairs (193,580)."""

_ALLOWED_LHS = np.array([v for v in range(N_VARS) if v not in NEVER_LHS])
_ALLOWED_RHS = np.array([v for v in range(N_VARS) if v not in NEVER_RHS])


def pool_rng(seed: int, pool: str) -> np.random.Generator:
    """Each pool has its own stream, so a pool's sequences do not depend on
    which other pools are evaluated."""
    return np.random.default_rng([seed, zlib.crc32(pool.encode())])


def draw_pool(spec: PoolSpec, partition: Partition, n: int, rng: np.random.Generator) -> Batch:
    """`n` random sequences of a pool (pairs and variables drawn with replacement)."""
    pairs = partition.heldout_pairs if spec.heldout_pair else partition.train_pairs
    n1, n2 = pairs[rng.integers(0, len(pairs), size=n)].T
    lhs = np.full(n, -1)
    rhs = np.full(n, -1)
    if spec.n_vars == 0:
        seq_type = np.zeros(n, dtype=np.int64)
    elif spec.n_vars == 1:
        seq_type = rng.integers(1, 3, size=n)
        lhs_choices, rhs_choices = (_ALLOWED_LHS, _ALLOWED_RHS) if spec.var_slots == "train" else (np.array(NEVER_LHS), np.array(NEVER_RHS))
        lhs_pick = lhs_choices[rng.integers(0, len(lhs_choices), size=n)]
        rhs_pick = rhs_choices[rng.integers(0, len(rhs_choices), size=n)]
        lhs = np.where(seq_type == 1, lhs_pick, -1)
        rhs = np.where(seq_type == 2, rhs_pick, -1)
    else:
        seq_type = np.full(n, 3)
        var_pairs = {"train": VALID_2VAR_PAIRS, "one_bad": ONE_BAD_2VAR_PAIRS, "two_bad": TWO_BAD_2VAR_PAIRS}[spec.var_slots]
        lhs, rhs = var_pairs[rng.integers(0, len(var_pairs), size=n)].T
    return build_sequences(seq_type, n1, n2, lhs, rhs, rng, spec.count_rule)


def draw_exact_pool(name: str, partition: Partition, rng: np.random.Generator) -> Batch:
    """The paper's exhaustive pools (see EXACT_POOLS), in its enumeration order."""
    if name == "exact_0var_heldout_pair":
        n1, n2 = partition.heldout_pairs.T
        m = len(n1)
        return build_sequences(np.zeros(m), n1, n2, np.full(m, -1), np.full(m, -1), rng)
    if name != "exact_2var_union":
        raise ValueError(f"unknown exact pool {name}")
    parts = [
        (partition.heldout_pairs, VALID_2VAR_PAIRS),
        (partition.train_pairs, ONE_BAD_2VAR_PAIRS),
        (partition.train_pairs, TWO_BAD_2VAR_PAIRS),
    ]
    numbers = np.concatenate([np.repeat(p, len(v), axis=0) for p, v in parts])
    variables = np.concatenate([np.tile(v, (len(p), 1)) for p, v in parts])
    return build_sequences(np.full(len(numbers), 3), numbers[:, 0], numbers[:, 1], variables[:, 0], variables[:, 1], rng, "from_k")


# ---------------------------------------------------------------- training stream


class TrainingStream:
    """Infinite stream of training sequences: rows (var, type, n1, n2) drawn
    uniformly from the training pool, each rendered with fresh distractors and
    padding. The pool holds 42 rows per training pair (12 type-0, 10 each of
    types 1-3) = 102,312 rows at the default split; `two_var_frequency` < 1
    thins type-3 rows exactly as the paper does (seeded per row)."""

    def __init__(self, partition: Partition, seed: int, two_var_frequency: float = 1.0):
        if not 0.0 <= two_var_frequency <= 1.0:
            raise HarnessError(f"two_var_frequency {two_var_frequency} is outside [0, 1]")
        self.rows = training_rows(partition, two_var_frequency)
        self.rng = np.random.default_rng(seed)

    def next_batch(self, size: int) -> Batch:
        rows = self.rows[self.rng.integers(0, len(self.rows), size=size)]
        var, seq_type, n1, n2 = rows.T
        pair = VALID_2VAR_PAIRS[self.rng.integers(0, len(VALID_2VAR_PAIRS), size=size)]
        lhs = np.where(seq_type == 1, var, np.where(seq_type == 3, pair[:, 0], -1))
        rhs = np.where(seq_type == 2, var, np.where(seq_type == 3, pair[:, 1], -1))
        return build_sequences(seq_type, n1, n2, lhs, rhs, self.rng, "clamp")

    def get_state(self) -> dict:
        return self.rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state


def training_rows(partition: Partition, two_var_frequency: float = 1.0) -> np.ndarray:
    """The training pool as an (R, 4) array of (var, type, n1, n2), in the
    paper's row order (var, type, n1, n2 row-major)."""
    var, seq_type, n1, n2 = (
        a.ravel() for a in np.meshgrid(np.arange(N_VARS), np.arange(N_TYPES), np.arange(MOD), np.arange(MOD), indexing="ij")
    )
    keep = partition.train_mask[n1, n2]
    keep &= ~((seq_type == 2) & np.isin(var, NEVER_RHS))
    keep &= ~((seq_type == 1) & np.isin(var, NEVER_LHS))
    keep &= ~((seq_type == 3) & np.isin(var, NEVER_LHS))
    if two_var_frequency < 1.0:
        for idx in np.nonzero(keep & (seq_type == 3))[0]:
            if random.Random(partition.seed + int(idx)).random() >= two_var_frequency:
                keep[idx] = False
    return np.stack([var, seq_type, n1, n2], 1)[keep]
