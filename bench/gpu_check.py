"""One short check for a GPU machine (H200 class), every figure a ratio measured side by side.

    bash bench/gpu_check.sh OUT_DIR                  # on the GPU machine, under 8 minutes
    python bench/gpu_check.py --size tiny --device cpu --out /tmp/check   # a dry run of the same steps on a CPU

Sections, each under its own time limit (a section that runs out is reported, the rest go on):
  hf        the hf adapter's bf16 greedy generation on a random-weight model of Llama-3-8B's
            configuration (built on the GPU, no hub) against transformers' own `generate` on the
            same prompts and batches: tokens/s and peak memory
  steering  MI and CAA (and prompting) against the unsteered model: tokens/s and peak memory
            (bench/steering.py on the same model); the goal is >= 0.9x
  assign    Assign-and-Add bf16 training steps/s (harness train assign-add --device cuda)
  ray       --backend ray with 1 worker against the plain runner (bench/ray_workers.py), if ray is installed
  vllm      the vllm: backend serving the same 8B model through the runner, if vllm is installed
Writes OUT/figures.json, OUT/table.txt and each section's output OUT/<section>.log; prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
LLAMA3_8B = dict(
    hidden_size=4096,
    intermediate_size=14336,
    num_hidden_layers=32,
    num_attention_heads=32,
    num_key_value_heads=8,
    max_position_embeddings=8192,
    rope_theta=500000.0,
)
TINY = dict(hidden_size=256, intermediate_size=512, num_hidden_layers=4, num_attention_heads=8, num_key_value_heads=4)
SECTIONS = ("hf", "steering", "assign", "ray", "vllm")


def build_model(directory: Path, size: str, device: str) -> Path:
    """Llama-3-8B's configuration with the test tokenizer's 512-token vocabulary (7.5B parameters), random bf16 weights."""
    import torch

    from harness.testing.tiny_models import build_tiny_llama

    if (directory / "config.json").exists():
        return directory
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    return build_tiny_llama(directory, device=device, dtype=dtype, **(LLAMA3_8B if size == "8b" else TINY))


def hf_section(model_dir: Path, device: str, prompts: int, tokens: int, batch: int) -> dict:
    """The adapter and transformers' generate on the same prompts, batches and budget, interleaved."""
    import torch

    sys.path.insert(0, str(BENCH))
    from hf_common import mixed_prompts

    from harness.api import GenerateRequest, RequestContext
    from harness.registry import create_model

    dtype = "bfloat16" if device == "cuda" else "float32"
    ours = create_model(f"hf:{model_dir}", {"device": device, "dtype": dtype, "batch_size": str(batch), "chat_template": "false"})
    texts = mixed_prompts(prompts)
    requests = [GenerateRequest(t, max_tokens=tokens) for t in texts]
    contexts = [RequestContext("gpu_check", str(i), 0) for i in range(len(texts))]
    tokenizer, model = ours.tokenizer, ours.model

    def transformers_generate() -> int:
        made = 0
        tokenizer.padding_side = "left"
        for start in range(0, len(texts), batch):
            ids = tokenizer(texts[start : start + batch], return_tensors="pt", padding=True).to(model.device)
            with torch.no_grad():
                out = model.generate(**ids, max_new_tokens=tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id)
            texts_out = tokenizer.batch_decode(out[:, ids.input_ids.shape[1] :], skip_special_tokens=True)
            made += sum(len(tokenizer(t).input_ids) for t in texts_out)  # counted as the adapter's text is
        return made

    def adapter_generate() -> int:
        return sum(len(tokenizer(g.text or "").input_ids) for g in ours.generate(requests, contexts))

    runs = {"harness hf adapter": adapter_generate, "transformers generate": transformers_generate}
    best = {name: float("inf") for name in runs}
    made, peak = {}, {}
    runs["harness hf adapter"]()  # warm-up
    for _ in range(2):
        for name, run in runs.items():
            if device == "cuda":
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
            started = time.perf_counter()
            made[name] = run()
            if device == "cuda":
                torch.cuda.synchronize()
                peak[name] = torch.cuda.max_memory_allocated() / 2**30
            best[name] = min(best[name], time.perf_counter() - started)
    ours.close()
    ratio = best["transformers generate"] / best["harness hf adapter"]
    return {
        "prompts": prompts,
        "max_new_tokens": tokens,
        "batch": batch,
        "seconds": best,
        "tokens": made,
        "peak_gib": peak,
        "speed_vs_transformers": ratio,
    }


def run_section(name: str, command: list[str], out: Path, limit_s: float) -> tuple[str, float]:
    """A section in its own process under a time limit; its output goes to OUT/<name>.log."""
    started = time.perf_counter()
    with (out / f"{name}.log").open("w") as log:
        try:
            code = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, timeout=limit_s, cwd=BENCH.parent).returncode
            status = "ok" if code == 0 else f"failed (status {code})"
        except subprocess.TimeoutExpired:
            status = f"ran out of its {limit_s:.0f} s"
    return status, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--size", choices=["8b", "tiny"], default="8b")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--model-dir", type=Path, default=Path("/tmp/harness-gpu-check-model"))
    parser.add_argument("--sections", default=",".join(SECTIONS))
    parser.add_argument("--hf-only", action="store_true", help=argparse.SUPPRESS)  # the hf section's own process
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    if args.hf_only:
        figures = hf_section(args.model_dir / args.size, args.device, prompts=64, tokens=128 if args.size == "8b" else 32, batch=32)
        (args.out / "hf.json").write_text(json.dumps(figures, indent=2))
        return

    chosen = [s for s in args.sections.split(",") if s]
    started = time.perf_counter()
    build_model(args.model_dir / args.size, args.size, args.device)
    model_dir = args.model_dir / args.size
    built_s = time.perf_counter() - started
    py = sys.executable
    common = ["--out", str(args.out), "--size", args.size, "--device", args.device, "--model-dir", str(args.model_dir)]
    commands = {
        "hf": ([py, str(BENCH / "gpu_check.py"), "--hf-only", *common], 100),
        "steering": (
            [py, str(BENCH / "steering.py"), "--model", f"hf:{model_dir}", "--device", args.device, "--tokens", "64"]
            + ["--mi-layers", "3-4" if args.size == "8b" else "2-3"],
            100,
        ),
        "assign": (
            [py, "-m", "harness.cli", "train", "assign-add", "--init", "released/ck_1", "--steps", "3000", "--eval-every", "1000"]
            + ["--eval-n", "500", "--device", args.device, "--output", str(args.out / "assign_add_run")],
            45,
        ),
        "ray": (
            [py, str(BENCH / "ray_workers.py"), "--model", "assign-add:released/final", "--workers", "1", "--repeats", "1"]
            + ["--output", str(args.out / "ray.json")],
            50,
        ),
        "vllm": (
            [py, "-m", "harness.cli", "eval", "--model", f"vllm:{model_dir}", "--task", "smoke-gen", "-M", "max_model_len=4096"]
            + ["-M", "startup_timeout_s=100", "--no-cache", "-q", "-o", str(args.out / "vllm_run")],
            120,
        ),
    }
    if args.device != "cuda":  # a dry run of the steps: fewer training steps, and CPU-sized time limits
        commands["assign"][0][commands["assign"][0].index("3000")] = "300"
        commands = {name: (command, 5 * limit) for name, (command, limit) in commands.items()}
    available = {"ray": _importable("ray"), "vllm": _on_path("vllm")}
    statuses = {"model": (f"built in {built_s:.0f} s", built_s)}
    shutil.rmtree(args.out / "assign_add_run", ignore_errors=True)  # a fresh training run each time
    for name in chosen:
        if not available.get(name, True):
            statuses[name] = ("skipped: not installed", 0.0)
            continue
        command, limit = commands[name]
        statuses[name] = run_section(name, command, args.out, limit)
    figures = {
        "size": args.size,
        "device": args.device,
        "sections": {k: v[0] for k, v in statuses.items()},
        **_read_figures(args.out, {n for n, (status, _) in statuses.items() if status == "ok"}),
    }
    (args.out / "figures.json").write_text(json.dumps(figures, indent=2))
    table = _table(figures, statuses)
    (args.out / "table.txt").write_text(table + "\n")
    print(table)


def _importable(module: str) -> bool:
    return subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True).returncode == 0


def _on_path(program: str) -> bool:
    return shutil.which(program) is not None


def _read_figures(out: Path, finished: set[str]) -> dict:
    """The figures of the sections that finished in this run (older files in OUT are ignored)."""
    found: dict = {}
    for name in ("hf", "ray"):
        path = out / f"{name}.json"
        if name in finished and path.exists():
            found[name] = json.loads(path.read_text())
    summary = out / "assign_add_run" / "summary.json"
    if "assign" in finished and summary.exists():
        found["assign"] = {
            k: v for k, v in json.loads(summary.read_text()).items() if k in ("steps_per_s", "device", "step", "train_seconds")
        }
    steering_log = out / "steering.log"
    if "steering" in finished:
        found["steering"] = steering_log.read_text().splitlines()[-8:]
    results = out / "vllm_run" / "results.json"
    if "vllm" in finished and results.exists():
        vllm = json.loads(results.read_text())
        found["vllm"] = {
            "elapsed_s": vllm["elapsed_s"],
            "n": vllm["tasks"]["smoke-gen"]["n"],
            "errors": vllm["tasks"]["smoke-gen"]["n_errors"],
        }
    return found


def _table(figures: dict, statuses: dict[str, tuple[str, float]]) -> str:
    lines = [f"gpu check: {figures['size']} model on {figures['device']}", f"{'section':<10}{'status':<34}{'seconds':>8}"]
    lines += [f"{name:<10}{status:<34}{seconds:>8.0f}" for name, (status, seconds) in statuses.items()]
    hf = figures.get("hf")
    if hf:
        lines.append("")
        lines.append(f"hf generation, {hf['prompts']} prompts x {hf['max_new_tokens']} new tokens, batch {hf['batch']}:")
        for name, seconds in hf["seconds"].items():
            peak = f"{hf['peak_gib'][name]:.1f} GiB peak" if name in hf["peak_gib"] else ""
            lines.append(f"  {name:<24}{hf['tokens'][name] / seconds:>10.0f} tokens/s  {peak}")
        lines.append(f"  adapter vs transformers: {hf['speed_vs_transformers']:.2f}x")
    if "steering" in figures:
        lines += ["", "steering (bench/steering.py):", *("  " + line for line in figures["steering"])]
    if "assign" in figures:
        lines += ["", f"assign-add training: {figures['assign'].get('steps_per_s')} steps/s on {figures['assign'].get('device')}"]
    if "ray" in figures:
        ray = figures["ray"]
        lines += ["", f"ray 1 worker vs plain: {ray['solving_s']['ray, 1 worker'] / ray['solving_s']['plain']:.2f}x solving time"]
        lines.append(f"  overhead {ray['ray_overhead_ms_per_sample']:.3f} ms per sample")
    if "vllm" in figures:
        lines += [
            "",
            f"vllm backend: {figures['vllm']['n']} samples in {figures['vllm']['elapsed_s']:.1f} s, {figures['vllm']['errors']} errors",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
