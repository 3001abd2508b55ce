"""The core works without torch: replays of PHYSICS and HARDMath are scored, and
a part that needs an extra ([hf], [lm-eval], [inspect]) says so in one line with exit status 2.

Each command runs in a fresh interpreter in which importing torch,
transformers, safetensors, lm_eval or inspect_ai fails, as in an install of the core
alone (CI also runs this file in a virtual environment that has none of them)."""

import json
import subprocess
import sys

from harness.registry import create_task
from harness.tasks.hardmath.reference import reference_output

BLOCK_HF = """
import sys
from importlib.abc import MetaPathFinder


class NoHF(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "transformers", "safetensors", "lm_eval", "inspect_ai"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, NoHF())
from harness.cli import main
main(sys.argv[1:])
"""


def harness_without_hf(*argv):
    return subprocess.run([sys.executable, "-c", BLOCK_HF, *map(str, argv)], capture_output=True, text=True)


def test_physics_and_hardmath_replays_score_without_torch(tmp_path):
    gold = tmp_path / "physics_gold.jsonl"
    made = harness_without_hf("generate", "physics-gold-replay", "--output", gold, "--task-arg", "domain=optics")
    assert made.returncode == 0, made.stderr
    physics = harness_without_hf(
        "eval",
        "--model",
        f"replay:{gold}",
        "--task",
        "physics",
        "-T",
        "domain=optics",
        "--limit",
        "20",
        "--output",
        tmp_path / "physics",
        "--quiet",
        "--no-cache",
    )
    assert physics.returncode == 0, physics.stderr
    accuracy = json.loads((tmp_path / "physics" / "results.json").read_text())["tasks"]["physics"]["metrics"]["accuracy"]
    assert accuracy["value"] >= 0.9 and accuracy["ci95"] is not None

    task = create_task("hardmath", {"type": "nondim_symbolic"})
    problems = task.problems()
    replay = tmp_path / "hardmath_reference.jsonl"
    replay.write_text(
        "".join(json.dumps({"id": s.id, "output": reference_output(problems[s.id])}) + "\n" for s in list(task.samples())[:8])
    )
    hardmath = harness_without_hf(
        "eval",
        "--model",
        f"replay:{replay}",
        "--task",
        "hardmath",
        "-T",
        "type=nondim_symbolic",
        "--limit",
        "8",
        "--output",
        tmp_path / "hardmath",
        "--quiet",
        "--no-cache",
    )
    assert hardmath.returncode == 0, hardmath.stderr
    results = json.loads((tmp_path / "hardmath" / "results.json").read_text())["tasks"]["hardmath"]
    assert results["n"] == 8 and results["metrics"]["accuracy"]["value"] == 1.0


def test_a_local_model_without_the_hf_extra_is_one_line_and_exit_2(tmp_path):
    for argv in (["eval", "--model", "hf:gpt2", "--task", "smoke-gen", "--output", tmp_path / "run"], ["steer", "--help"]):
        out = harness_without_hf(*argv)
        assert out.returncode == 2, (argv, out.stderr)
        assert "[hf] extra" in out.stderr and "download.pytorch.org/whl/cpu" in out.stderr and len(out.stderr.splitlines()) == 1


def test_the_lm_eval_and_inspect_bridges_without_their_extras_are_one_line_and_exit_2(tmp_path):
    replay = tmp_path / "r.jsonl"
    replay.write_text(json.dumps({"id": "gen-00", "output": " 4"}) + "\n")
    ran = harness_without_hf(
        "eval", "--model", f"replay:{replay}", "--task", "smoke-gen", "--limit", "1", "--output", tmp_path / "run", "-q"
    )
    assert ran.returncode == 0, ran.stderr
    cases = {
        "[inspect] extra": ["export", "inspect", tmp_path / "run", "--output", tmp_path / "run.eval"],
        "[lm-eval] extra": ["eval", "--model", f"replay:{replay}", "--task", "lm-eval:anything", "--output", tmp_path / "lm"],
    }
    for extra, argv in cases.items():
        out = harness_without_hf(*argv)
        assert out.returncode == 2 and extra in out.stderr and len(out.stderr.splitlines()) == 1, (argv, out.stderr)
