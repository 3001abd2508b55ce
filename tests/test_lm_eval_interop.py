"""Harness models inside lm-eval: a local lm-eval YAML task (multiple choice and
generation, local data files) gives the same per-sample results through the
lm-eval model `harness` as through lm-eval's own hf model on the same tiny
model, and a steered spec (MI at no layers) equals the unsteered one."""

import json
import os
import textwrap

import pytest

lm_eval = pytest.importorskip("lm_eval")  # the [lm-eval] extra
from harness.integrations.lm_eval_model import HarnessLM  # noqa: E402

QUESTIONS = [("Is fire hot?", ["Yes", "No"], 0), ("Is ice hot?", ["Yes", "No"], 1), ("Is the sky green?", ["Yes", "No"], 1)]


@pytest.fixture(scope="module")
def task_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lm_eval_tasks")
    (folder / "mc.jsonl").write_text("".join(json.dumps({"question": q, "choices": c, "label": l}) + "\n" for q, c, l in QUESTIONS))
    (folder / "gen.jsonl").write_text("".join(json.dumps({"question": q, "answer": c[l]}) + "\n" for q, c, l in QUESTIONS))
    (folder / "tiny_mc.yaml").write_text(
        textwrap.dedent(f"""\
        task: tiny_mc
        dataset_path: json
        dataset_kwargs:
          data_files:
            test: {folder / "mc.jsonl"}
        test_split: test
        output_type: multiple_choice
        doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
        doc_to_choice: "{{{{choices}}}}"
        doc_to_target: "{{{{label}}}}"
        metric_list:
          - metric: acc
        """)
    )
    (folder / "tiny_gen.yaml").write_text(
        textwrap.dedent(f"""\
        task: tiny_gen
        dataset_path: json
        dataset_kwargs:
          data_files:
            test: {folder / "gen.jsonl"}
        test_split: test
        output_type: generate_until
        doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
        doc_to_target: "{{{{answer}}}}"
        generation_kwargs:
          until: ["\\n"]
          max_gen_toks: 6
          do_sample: false
        metric_list:
          - metric: exact_match
        """)
    )
    return folder


def evaluate(model, task_dir):
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    out = simple_evaluate(
        model=model, tasks=["tiny_mc", "tiny_gen"], task_manager=TaskManager(include_path=str(task_dir)), log_samples=True, batch_size=1
    )
    per_sample = {t: [(s["doc_id"], s["filtered_resps"]) for s in out["samples"][t]] for t in ("tiny_mc", "tiny_gen")}
    metrics = {t: {k: v for k, v in out["results"][t].items() if k.startswith(("acc,", "exact_match,"))} for t in ("tiny_mc", "tiny_gen")}
    return per_sample, metrics


def test_the_harness_model_in_lm_eval_matches_lm_evals_own_hf_model(task_dir, tiny_gpt2_dir):
    from lm_eval.models.huggingface import HFLM

    native = evaluate(HFLM(pretrained=str(tiny_gpt2_dir), dtype="float32", device="cpu", batch_size=1), task_dir)
    ours = evaluate(HarnessLM(spec=f"hf:{tiny_gpt2_dir}", dtype="float32", chat_template=False), task_dir)
    assert ours[1] == native[1]
    for task in ("tiny_mc", "tiny_gen"):
        for (doc, a), (_, b) in zip(ours[0][task], native[0][task]):
            if task == "tiny_mc":
                assert [x[0] for x in a] == pytest.approx([x[0] for x in b], abs=1e-4), doc
            else:
                assert a == b, doc
    steered = evaluate(
        HarnessLM(
            spec=f"hf:{tiny_gpt2_dir}",
            dtype="float32",
            chat_template=False,
            steer="mi",
            steer_guidance="You are curious.",
            steer_layers="none",
        ),
        task_dir,
    )
    assert steered[1] == ours[1]


def test_lm_evals_own_command_line_runs_the_harness_model(task_dir, tiny_gpt2_dir):
    import subprocess
    import sys

    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "lm-eval",
            "run",
            "--model",
            "harness",
            "--model_args",
            f"spec=hf:{tiny_gpt2_dir},dtype=float32",
            "--tasks",
            "tiny_mc",
            "--include_path",
            str(task_dir),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "tiny_mc" in out.stdout and "acc" in out.stdout


def test_an_exported_run_reads_as_lm_eval_results(tmp_path):
    from lm_eval.utils import get_file_task_name, get_latest_filename, get_results_filenames, get_sample_results_filenames

    from harness.cli import main

    replay = tmp_path / "r.jsonl"
    replay.write_text("".join(json.dumps({"id": f"gen-0{i}", "output": " 4" if i == 0 else " no"}) + "\n" for i in range(4)))
    main(["eval", "--model", f"replay:{replay}", "--task", "smoke-gen", "--limit", "4", "--output", str(tmp_path / "run"), "-q"])
    main(["export", "lm-eval", str(tmp_path / "run"), "--output", str(tmp_path / "lm")])
    files = [str(p) for p in (tmp_path / "lm").iterdir()]
    results = json.loads(open(get_latest_filename(get_results_filenames(files))).read())
    entry = results["results"]["smoke-gen"]
    assert entry["accuracy,none"] == 0.25 and 0 < entry["accuracy_stderr,none"] < 0.5 and len(entry["accuracy_ci95,none"]) == 2
    assert results["n-samples"]["smoke-gen"] == {"original": 4, "effective": 4} and {"configs", "versions", "config", "date"} <= set(
        results
    )
    samples = get_sample_results_filenames(files)
    assert [get_file_task_name(os.path.basename(f)) for f in samples] == ["smoke-gen"]
    lines = [json.loads(line) for line in open(samples[0])]
    assert [line["accuracy"] for line in lines] == [1.0, 0.0, 0.0, 0.0] and lines[0]["resps"] == [[" 4"]]


def test_lm_eval_tasks_through_the_harness_runner_match_lm_eval_itself(task_dir, tiny_gpt2_dir, tmp_path):
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    from harness.cli import main

    native = simple_evaluate(
        model=HFLM(pretrained=str(tiny_gpt2_dir), dtype="float32", device="cpu", batch_size=1),
        tasks=["tiny_mc", "tiny_gen"],
        task_manager=TaskManager(include_path=str(task_dir)),
        log_samples=True,
        batch_size=1,
    )
    for task, metric in (("tiny_mc", "acc"), ("tiny_gen", "exact_match")):
        out = tmp_path / task
        argv = [
            "eval",
            "--model",
            f"hf:{tiny_gpt2_dir}",
            "-M",
            "dtype=float32",
            "-M",
            "chat_template=false",
            "--task",
            f"lm-eval:{task}",
            "--lm-eval-include",
            str(task_dir),
            "--output",
            str(out),
            "-q",
            "--no-cache",
        ]
        main(argv)
        results = json.loads((out / "results.json").read_text())["tasks"][f"lm-eval:{task}"]
        ours = results["metrics"][f"{metric},none"]
        assert ours["value"] == pytest.approx(native["results"][task][f"{metric},none"]) and ours["ci95"] is not None
        records = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
        by_doc = {int(r["id"]): r["fields"]["lm_eval_metrics"][f"{metric},none"] for r in records}
        assert by_doc == {s["doc_id"]: s[metric] for s in native["samples"][task]}  # the same verdict, sample by sample
        main(argv)  # resumed: nothing re-run, the same results
        assert json.loads((out / "results.json").read_text())["tasks"][f"lm-eval:{task}"]["metrics"] == results["metrics"]


def test_an_unknown_lm_eval_task_is_one_line_and_exit_2(task_dir, tmp_path, capsys):
    from harness.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "eval",
                "--model",
                "replay:x.jsonl",
                "--task",
                "lm-eval:no_such_task",
                "--lm-eval-include",
                str(task_dir),
                "--output",
                str(tmp_path / "run"),
            ]
        )
    assert exit_info.value.code == 2 and "lm-eval knows no task 'no_such_task'" in capsys.readouterr().err
