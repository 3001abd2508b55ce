"""`harness train assign-add`: train the paper's model from scratch, resumably.

Paper settings: AdamW (lr 1e-3, weight decay 0.02, betas 0.9/0.999), constant
learning rate, batch 512 of fresh sequences from the training pool, loss on the
`=` position only, the forward pass under bf16 autocast (the paper's CUDA run;
on the CPU too, to train as the paper did; `precision="fp32"` for float32).
The loss needs layer 1 at the last position only, which `forward_last`
exploits (exact; ~4x cheaper on CPU).

A run directory holds config.json, checkpoints/step_<N>.pth (TransformerLens
state dicts), state.pt (optimizer and data-stream state for resuming),
metrics.csv (the nine pool accuracies every `eval_every` steps), phases.png
and summary.json (steps/s, the steps and seconds at which each phase began).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

import numpy as np
import torch
import torch.nn.functional as F

from harness.api import HarnessError
from harness.tasks.assign_add.checkpoints import CHECKPOINT_SUBDIR, RUN_CONFIG, resolve, step_file_name
from harness.tasks.assign_add.generator import (
    PAIRS_FRAC_DEFAULT,
    PARTITION_SEED_DEFAULT,
    POOL_NAMES,
    POOLS,
    Partition,
    TrainingStream,
    draw_pool,
    make_partition,
    pool_rng,
)
from harness.tasks.assign_add.model import AssignAddTransformer, load_checkpoint_file, model_from_state_dict

RUN_FORMAT = "harness-assign-add-run/1"
STATE_FILE = "state.pt"
METRICS_FILE = "metrics.csv"
PLOT_FILE = "phases.png"
SUMMARY_FILE = "summary.json"
EVAL_SEED = 0  # the pools of `harness eval --task assign_add` (default seed)

PHASES: dict[str, tuple[tuple[str, ...], float]] = {
    "phase1": (("0var_heldout_pair",), 0.9),  # modular addition generalises to held-out pairs
    "phase2": (("1var_heldout_pair",), 0.95),  # variable binding, reused on held-out pairs
    "phase3": (("1var_restricted", "2var_1restricted", "2var_2restricted"), 0.95),  # variables in barred slots
}
"""A phase begins at the first evaluation where every listed pool exceeds the threshold."""

# Settings that define the trajectory: a resumed run must keep them.
_TRAJECTORY_KEYS = (
    "seed",
    "batch_size",
    "lr",
    "weight_decay",
    "pairs_frac",
    "partition_seed",
    "two_var_frequency",
    "init",
    "eval_n",
    "precision",
)


# Runs saved before `precision` existed trained their CPU forward pass in float32.
_BEFORE_PRECISION = {"precision": "fp32"}


@dataclass(frozen=True)
class TrainConfig:
    steps: int
    seed: int = 0
    eval_every: int = 100
    checkpoint_every: int = 500
    device: Literal["cpu", "cuda"] = "cpu"
    batch_size: int = 512
    lr: float = 1e-3
    weight_decay: float = 0.02
    pairs_frac: float = PAIRS_FRAC_DEFAULT
    partition_seed: int = PARTITION_SEED_DEFAULT
    two_var_frequency: float = 1.0
    eval_n: int = 1000  # sequences per pool at each evaluation
    init: str | None = None  # start from these weights (e.g. released/ck_1, the paper's initialisation)
    stop_at: Literal["none", "phase1", "phase2", "phase3"] = "none"
    precision: Literal["bf16", "fp32"] = "bf16"  # forward pass of a training step: bf16 autocast (the paper's) or float32

    def __post_init__(self):
        for name in ("steps", "eval_every", "checkpoint_every", "batch_size", "eval_n"):
            lowest = 0 if name == "steps" else 1
            if getattr(self, name) < lowest:
                raise HarnessError(f"--{name.replace('_', '-')} {getattr(self, name)}: use {lowest} or more")
        if self.device == "cuda" and not torch.cuda.is_available():
            raise HarnessError("--device cuda but no CUDA device is visible; use --device cpu")
        if self.init is not None:
            resolve(self.init)  # a bad --init fails before the run directory is created


@dataclass
class TrainSummary:
    step: int
    steps_per_s: float | None  # optimizer steps per second of training time (evaluation excluded)
    train_seconds: float  # wall time spent in optimizer steps, over all sessions of the run
    wall_seconds: float  # wall time including evaluation and checkpoints, over all sessions
    phases: dict[str, dict | None]  # phase -> {"step", "wall_seconds"} or None if not reached
    last_eval: dict[str, float]
    threads: int
    device: str


class _MetricsLog:
    """metrics.csv, as durable as samples.jsonl: every row is flushed and fsynced;
    on resume the log is cut to the checkpoint's step and a torn or unreadable row
    (a run killed mid-write) is dropped, so the curve agrees with the checkpoint."""

    def __init__(self, path: Path, resume_step: int):
        self.path = path
        self.columns = ["step", "loss", *(f"acc_{p}" for p in POOL_NAMES), "train_seconds", "wall_seconds"]
        self.rows: list[dict] = []
        if path.exists() and resume_step > 0:
            with path.open(newline="") as f:
                for r in csv.DictReader(f):
                    row = self._parsed(r)
                    if row is not None and row["step"] <= resume_step:
                        self.rows.append(row)
        self._rewrite()

    def _parsed(self, raw: dict) -> dict | None:
        try:
            return {k: int(raw[k]) if k == "step" else float(raw[k]) for k in self.columns}
        except (KeyError, TypeError, ValueError):
            return None  # torn by a kill mid-write

    def _rewrite(self) -> None:
        tmp = self.path.with_suffix(".csv.tmp")
        with tmp.open("w", newline="") as f:
            writer = csv.DictWriter(f, self.columns)
            writer.writeheader()
            writer.writerows(self.rows)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def append(self, row: dict) -> None:
        self.rows.append(row)
        with self.path.open("a", newline="") as f:
            csv.DictWriter(f, self.columns).writerow(row)
            f.flush()
            os.fsync(f.fileno())


def _phases(rows: list[dict]) -> dict[str, dict | None]:
    out: dict[str, dict | None] = {}
    for phase, (pools, threshold) in PHASES.items():
        hit = next((r for r in rows if all(r[f"acc_{p}"] > threshold for p in pools)), None)
        out[phase] = None if hit is None else {"step": int(hit["step"]), "wall_seconds": round(hit["wall_seconds"], 2)}
    return out


def _atomic_save(obj, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _check_run_config(out: Path, config: TrainConfig) -> None:
    wanted = {"kind": "train", "format": RUN_FORMAT, **{k: getattr(config, k) for k in _TRAJECTORY_KEYS}}
    path = out / RUN_CONFIG
    if path.exists():
        saved = json.loads(path.read_text())
        if "identity" in saved:
            raise HarnessError(f"{out} is an evaluation run directory (harness eval); use another --output for training")
        saved = {**_BEFORE_PRECISION, **saved}
        changed = [k for k in _TRAJECTORY_KEYS if saved.get(k) != wanted[k]]
        if saved.get("format") != RUN_FORMAT or changed:
            what = ", ".join(f"{k}={saved.get(k)!r} (now {wanted[k]!r})" for k in changed) or "not a harness assign-add run"
            raise HarnessError(f"{out} holds a run with other settings: {what}; use another --output or the same settings")
    else:
        out.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(wanted, indent=2) + "\n")


def _initial_model(config: TrainConfig) -> AssignAddTransformer:
    if config.init is not None:
        return load_checkpoint_file(resolve(config.init).path)
    model = AssignAddTransformer()
    model.init_weights(torch.Generator().manual_seed(config.seed))
    return model


def evaluation_pools(partition: Partition, n: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """The trainer's fixed evaluation pools, `n` sequences each (the seed of
    `harness eval`), as CPU (tokens, labels): `predict` moves chunks to the device."""
    pools = {}
    for spec in POOLS:
        b = draw_pool(spec, partition, n, pool_rng(EVAL_SEED, spec.name))
        pools[spec.name] = (torch.from_numpy(b.tokens), torch.from_numpy(b.labels))
    return pools


@torch.no_grad()
def evaluate_pools(model: AssignAddTransformer, pools: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> dict[str, float]:
    model.eval()
    accs = {f"acc_{name}": float((model.predict(tokens) == labels).float().mean()) for name, (tokens, labels) in pools.items()}
    model.train()
    return accs


def train(
    out: Path, config: TrainConfig, log: Callable[[str], None] = print, on_eval: Callable[[dict], None] | None = None
) -> TrainSummary:
    """Train (or resume) the run in `out` up to `config.steps` steps; `on_eval`
    receives each new metrics row (step, loss, the nine accuracies, seconds)."""
    _check_run_config(out, config)
    (out / CHECKPOINT_SUBDIR).mkdir(exist_ok=True)
    partition = make_partition(config.pairs_frac, config.partition_seed)
    stream = TrainingStream(partition, seed=config.seed, two_var_frequency=config.two_var_frequency)
    device = torch.device(config.device)

    state = torch.load(out / STATE_FILE, map_location="cpu", weights_only=True) if (out / STATE_FILE).exists() else None
    model = model_from_state_dict(state["model"], str(out / STATE_FILE)) if state else _initial_model(config)
    model = model.to(device).train()
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay, betas=(0.9, 0.999), fused=device.type == "cuda"
    )
    start, train_s, wall_s = 0, 0.0, 0.0
    if state:
        optimizer.load_state_dict(state["optimizer"])
        stream.set_state(state["stream"])
        start, train_s, wall_s = int(state["step"]), float(state["train_seconds"]), float(state["wall_seconds"])
        log(f"resuming {out} from step {start}")
    metrics = _MetricsLog(out / METRICS_FILE, start)

    pools = evaluation_pools(partition, config.eval_n)

    def save(step: int, weights_file: bool = True) -> None:
        """The resume state, and (unless only resuming matters) the step's weights file for analysis."""
        weights = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        if weights_file:
            _atomic_save(weights, out / CHECKPOINT_SUBDIR / step_file_name(step))
        _atomic_save(
            {
                "step": step,
                "model": weights,
                "optimizer": optimizer.state_dict(),
                "stream": stream.get_state(),
                "train_seconds": train_s,
                "wall_seconds": wall_s,
            },
            out / STATE_FILE,
        )

    def evaluate(step: int, loss: float) -> None:
        row = {"step": step, "loss": loss, **evaluate_pools(model, pools), "train_seconds": train_s, "wall_seconds": wall_s}
        metrics.append(row)
        accs = " ".join(f"{row[f'acc_{p}']:.3f}" for p in POOL_NAMES)
        rate = f"{step / train_s:.1f} steps/s" if train_s > 0 else ""
        log(f"step {step:6d}  loss {loss:.4f}  acc[{accs}]  {rate}")
        if on_eval is not None:
            on_eval(row)

    amp = torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.precision == "bf16")
    log(f"accuracy columns: {' '.join(POOL_NAMES)}; curves in {out / METRICS_FILE}, plot in {out / PLOT_FILE}")
    if start == 0:
        save(0)
        evaluate(0, float("nan"))
    interrupted: list[int] = []  # the signal, once SIGINT or SIGTERM arrives: finish the step, save, stop

    def on_signal(signum, frame) -> None:
        interrupted.append(signum)

    in_main_thread = threading.current_thread() is threading.main_thread()  # only there can signals be caught
    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)} if in_main_thread else {}
    try:
        step, session_start = start, time.perf_counter() - wall_s
        stopped = _stop(metrics.rows, config.stop_at)
        while step < config.steps and not stopped:
            t0 = time.perf_counter()
            batch = stream.next_batch(config.batch_size)
            tokens = torch.from_numpy(batch.tokens).to(device, non_blocking=True)
            labels = torch.from_numpy(batch.labels).to(device, non_blocking=True)
            with amp:
                logits = model.forward_last(tokens)
            loss = F.cross_entropy(logits.float(), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            if device.type == "cuda":
                torch.cuda.synchronize()
            train_s += time.perf_counter() - t0
            wall_s = time.perf_counter() - session_start
            if step % config.eval_every == 0 or step == config.steps:
                evaluate(step, loss.item())
                stopped = _stop(metrics.rows, config.stop_at)
            if step % config.checkpoint_every == 0 or step == config.steps or stopped:
                save(step)
                write_plot(metrics.rows, out / PLOT_FILE)
            elif step % config.eval_every == 0 or interrupted:
                save(step, weights_file=False)  # resume loses at most eval_every steps, or none when interrupted
            if interrupted:
                break
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if interrupted:
        write_plot(metrics.rows, out / PLOT_FILE)
        log(f"interrupted at step {step}; saved, rerun the same command to resume")
        raise KeyboardInterrupt

    summary = TrainSummary(
        step=step,
        steps_per_s=round(step / train_s, 2) if train_s > 0 else None,
        train_seconds=round(train_s, 2),
        wall_seconds=round(wall_s, 2),
        phases=_phases(metrics.rows),
        last_eval={k: v for k, v in metrics.rows[-1].items() if k.startswith("acc_")} if metrics.rows else {},
        threads=torch.get_num_threads(),
        device=device.type,
    )
    (out / SUMMARY_FILE).write_text(json.dumps(dataclasses.asdict(summary), indent=2) + "\n")
    log(f"wrote {out / SUMMARY_FILE} (phases), {out / METRICS_FILE} (curves), {out / PLOT_FILE} and {out / CHECKPOINT_SUBDIR}/")
    if start >= config.steps:
        log(f"{out} is already trained to step {start}; reusing it")
    return summary


def _stop(rows: list[dict], stop_at: str) -> bool:
    return stop_at != "none" and _phases(rows)[stop_at] is not None


def write_plot(rows: list[dict], path: Path) -> None:
    """The nine accuracy curves with the phase onsets marked (matplotlib's
    object API, so no global pyplot state is touched)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    steps = np.array([r["step"] for r in rows])
    styles = {"0var": "-", "1var": "--", "2var": ":"}
    for pool in POOL_NAMES:
        ax.plot(steps, [r[f"acc_{pool}"] for r in rows], styles[pool[:4]], label=pool)
    for phase, hit in _phases(rows).items():
        if hit:
            ax.axvline(hit["step"], color="grey", lw=0.8)
            ax.text(hit["step"], 1.02, phase, fontsize=8, ha="center")
    ax.set(xlabel="step", ylabel="accuracy", ylim=(0, 1.08), title="Assign-and-Add: accuracy per evaluation pool")
    ax.legend(fontsize=7, ncol=3, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
