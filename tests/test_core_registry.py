"""Registry: task-arg validation, --include, entry-point plugins, listings; metrics intervals."""

import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from typing import Literal

import pytest

from harness import registry
from harness.api import HarnessError
from harness.metrics import count_metric, mean_metric, proportion_metric, statistic_metric


@dataclass(frozen=True)
class ExampleArgs:
    split: Literal["validation", "test", "all"] = "test"
    shots: int = 0
    tolerance: float = 0.01
    dedupe: bool = True
    judge: str | None = None


def test_build_args_converts_types_and_names_allowed_values():
    args = registry.build_args(
        ExampleArgs, {"split": "all", "shots": "3", "tolerance": "0.05", "dedupe": "false", "judge": "hf:x"}, "task arg", "t"
    )
    assert args == ExampleArgs("all", 3, 0.05, False, "hf:x")
    with pytest.raises(HarnessError, match="use one of validation, test, all"):
        registry.build_args(ExampleArgs, {"split": "train"}, "task arg", "t")
    with pytest.raises(HarnessError, match="allowed: dedupe, judge, shots, split, tolerance"):
        registry.build_args(ExampleArgs, {"shot": "1"}, "task arg", "t")
    with pytest.raises(HarnessError, match="not an integer"):
        registry.build_args(ExampleArgs, {"shots": "two"}, "task arg", "t")
    with pytest.raises(HarnessError, match="not true or false"):
        registry.build_args(ExampleArgs, {"dedupe": "maybe"}, "task arg", "t")


def test_parse_kv_requires_equals_sign():
    assert registry.parse_kv(["a=1", "b=x=y"], "--task-arg") == {"a": "1", "b": "x=y"}
    with pytest.raises(HarnessError, match="not key=value"):
        registry.parse_kv(["a"], "--task-arg")


TASK_FILE = textwrap.dedent("""
    from dataclasses import dataclass
    from typing import Literal
    from harness import Task, Sample, GenerateRequest, Score, register_task

    @register_task
    class {cls}(Task):
        name = "{name}"
        description = "{desc}"

        @dataclass(frozen=True)
        class Args:
            mode: Literal["a", "b"] = "a"

        def samples(self):
            yield Sample(id="1", input="q", target="4")

        def requests(self, sample):
            return [GenerateRequest(sample.input)]

        def score(self, sample, responses):
            return Score(float(responses[0].text.strip() == sample.target))
""")


def test_include_folder_registers_its_tasks(tmp_path):
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "mine.py").write_text(TASK_FILE.format(cls="Mine", name="my-task", desc="mine"))
    registry.include(tmp_path / "tasks")
    task = registry.create_task("my-task", {"mode": "b"})
    assert task.args.mode == "b"
    with pytest.raises(HarnessError, match="allowed: mode"):
        registry.create_task("my-task", {"other": "1"})


def test_entry_point_plugin_package_is_discovered(tmp_path):
    pkg = tmp_path / "src"
    (pkg / "harness_plugin_demo").mkdir(parents=True)
    (pkg / "harness_plugin_demo" / "__init__.py").write_text(
        TASK_FILE.format(cls="Demo", name="plugin-demo", desc="a task from an installed plugin")
    )
    (pkg / "pyproject.toml").write_text(
        textwrap.dedent("""
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "harness-plugin-demo"
        version = "0.0.1"
        [project.entry-points."harness.tasks"]
        demo = "harness_plugin_demo"
        [tool.setuptools]
        packages = ["harness_plugin_demo"]
    """)
    )
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target", str(target), str(pkg)],
        check=True,
        capture_output=True,
    )
    env = dict(os.environ, PYTHONPATH=str(target))
    out = subprocess.run([sys.executable, "-m", "harness.cli", "tasks"], capture_output=True, text=True, env=env, check=True)
    assert "plugin-demo" in out.stdout and "a task from an installed plugin" in out.stdout
    replay = tmp_path / "r.jsonl"
    replay.write_text('{"id": "1", "output": "4"}\n')
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "eval",
            "--model",
            f"replay:{replay}",
            "--task",
            "plugin-demo",
            "--output",
            str(tmp_path / "run"),
            "-q",
            "--no-cache",
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    assert "1.0000" in run.stdout


def test_listings_show_builtins():
    tasks = subprocess.run([sys.executable, "-m", "harness.cli", "tasks"], capture_output=True, text=True, check=True).stdout
    assert "smoke-gen" in tasks and "smoke-choice" in tasks
    models = subprocess.run([sys.executable, "-m", "harness.cli", "models"], capture_output=True, text=True, check=True).stdout
    assert "replay" in models


def test_metrics_carry_intervals():
    m = mean_metric([1, 0, 1, 1])
    assert m.value == 0.75 and m.ci95[0] <= 0.75 <= m.ci95[1]
    assert mean_metric([1, 0, 1, 1]) == m  # seeded: identical on every call
    p = proportion_metric(0, 20)
    assert p.value == 0 and p.ci95[0] == 0 and 0.1 < p.ci95[1] < 0.2
    c = count_metric(3, 100)
    assert c.value == 3 and c.ci95[0] < 3 < c.ci95[1]
    s = statistic_metric([[1, 2], [3, 4], [5, 6]], lambda a: float(a[:, 1].mean()))
    assert s.value == 4 and s.ci95[0] <= 4 <= s.ci95[1]
    assert mean_metric([]).ci95 is None


def test_listing_and_help_import_no_heavy_library():
    probe = (
        "import sys\nfrom harness.cli import main\nfor argv in (['--help'], ['tasks'], ['models'], ['generate', '--help']):\n"
        "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
        "print('HEAVY', sorted(m for m in ('torch', 'transformers', 'numpy', 'sympy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out and "physics" in out and "hf " in out and "physics-gold-replay" in out
