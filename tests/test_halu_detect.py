"""halu_detect: data, prompts, detectors, metrics, and runs through the runner with replay and a tiny hf model."""

import csv
import json

import numpy as np
import pytest

from harness.api import Generation, HarnessError, Loglikelihood
from harness.registry import create_task
from harness.runner import RunConfig, run_eval
from harness.tasks.halu.detect_data import load_items
from harness.tasks.halu.detect_metrics import auprc, auroc, balanced_accuracy, f1


def run(tmp_path, model, task_args, limit=None, name="run", **kw):
    cfg = RunConfig(model=model, tasks=["halu_detect"], task_args=task_args, output=tmp_path / name, use_cache=False, limit=limit, **kw)
    return run_eval(cfg).results["tasks"]["halu_detect"]


def write_replay(tmp_path, dataset, limit, answer, name="replay.jsonl", n_outputs=1):
    task = create_task("halu_detect", {"dataset": dataset})
    path = tmp_path / name
    with open(path, "w") as f:
        for s in list(task.samples())[:limit]:
            out = answer(s.target)
            f.write(json.dumps({"id": s.id, "task": "halu_detect", "outputs": [out] * n_outputs}) + "\n")
    return path


@pytest.mark.parametrize("dataset", ["halueval_qa", "halueval_general", "truthfulqa"])
def test_replay_of_gold_labels_scores_perfect_and_a_constant_scores_half(tmp_path, dataset):
    limit = 60
    perfect = write_replay(tmp_path, dataset, limit, lambda y: "Yes" if y else "No", "perfect.jsonl")
    t = run(tmp_path, f"replay:{perfect}", {"dataset": dataset}, limit, "perfect")
    m = t["metrics"]
    assert m["auroc"]["value"] == 1.0 and m["auprc"]["value"] == 1.0 and m["f1"]["value"] == 1.0
    assert m["balanced_accuracy"]["value"] == 1.0 and m["unjudged"]["value"] == 0
    constant = write_replay(tmp_path, dataset, limit, lambda y: "No.", "constant.jsonl")
    m = run(tmp_path, f"replay:{constant}", {"dataset": dataset}, limit, "constant")["metrics"]
    assert m["auroc"]["value"] == 0.5 and m["balanced_accuracy"]["value"] == 0.5 and m["f1"]["value"] == 0.0
    for v in m.values():
        assert v["ci95"] is not None and v["ci95"][0] <= v["value"] <= v["ci95"][1]


def test_unparseable_judge_answers_are_counted_and_scored_wrong(tmp_path):
    path = write_replay(tmp_path, "halueval_qa", 20, lambda y: "Yes" if y else "I cannot tell")
    t = run(tmp_path, f"replay:{path}", {"dataset": "halueval_qa"}, 20)
    m = t["metrics"]
    assert m["unjudged"]["value"] == 10  # the ten correct answers got no verdict
    assert m["balanced_accuracy"]["value"] == 0.5  # ...and count as wrong, not as "No"
    recs = [json.loads(x) for x in open(tmp_path / "run" / "samples.jsonl")]
    bad = [r for r in recs if not r["fields"]["judged"]]
    assert len(bad) == 10 and all("unjudged" in r["explanation"] for r in bad)


def test_k_sweep_asks_once_per_k_and_writes_the_auroc_curve(tmp_path):
    # A judge that is right only when shown hallucinated demonstrations: the curve must rise.
    task = create_task("halu_detect", {"dataset": "halueval_qa", "k_sweep": "true", "k_pos": "1"})
    samples = list(task.samples())[:30]
    reqs = task.requests(samples[0])
    assert len(reqs) == 5 and [r.prompt.count("\nHallucination: Yes") for r in reqs] == [0, 1, 2, 4, 8]
    assert all(r.prompt.count("\nHallucination: No") == 1 for r in reqs)
    assert reqs[2].prompt.split("\n\n")[1] in reqs[3].prompt  # demonstrations are nested across k
    path = tmp_path / "sweep.jsonl"
    with open(path, "w") as f:
        for s in samples:
            outs = ["No", "No", "Yes" if s.target else "No", "Yes" if s.target else "No", "Yes" if s.target else "No"]
            f.write(json.dumps({"id": s.id, "outputs": outs}) + "\n")
    t = run(tmp_path, f"replay:{path}", {"dataset": "halueval_qa", "k_sweep": "true", "k_pos": "1"}, 30)
    m = t["metrics"]
    assert m["auroc_k0"]["value"] == 0.5 and m["auroc_k1"]["value"] == 0.5 and m["auroc_k8"]["value"] == 1.0
    rows = list(csv.DictReader(open(tmp_path / "run" / "halu_detect_auroc_by_k.csv")))
    assert [r["k_neg"] for r in rows] == ["0", "1", "2", "4", "8"] and float(rows[2]["auroc"]) == 1.0
    assert (tmp_path / "run" / "halu_detect_auroc_by_k.png").exists()


def test_demonstrations_never_show_the_sibling_answer():
    task = create_task("halu_detect", {"dataset": "truthfulqa", "k_pos": "8", "k_neg": "8"})
    for s in list(task.samples())[:40]:
        item = task.items[s.id]
        demos = task.demonstrations(item, 8, 8)
        assert len(demos) == 16 and all(d.group != item.group for d in demos)
        assert sum(d.label for d in demos) == 8


def test_logprob_and_ptrue_run_on_a_local_model_and_other_models_are_refused(tmp_path):
    from harness.testing.tiny_models import build_tiny_gpt2

    model_dir = build_tiny_gpt2(tmp_path / "gpt2", n_positions=2048)  # HaluEval knowledge passages are long
    t = run(tmp_path, f"hf:{model_dir}", {"dataset": "halueval_qa", "detector": "logprob"}, 8, "logprob")
    assert t["n"] == 8 and t["metrics"]["unjudged"]["value"] == 0
    assert 0.0 <= t["metrics"]["auroc"]["value"] <= 1.0 and "auroc_max_surprisal" in t["metrics"]
    recs = [json.loads(x) for x in open(tmp_path / "logprob" / "samples.jsonl")]
    assert all(r["fields"]["max_surprisal"] >= r["fields"]["mean_surprisal"] > 0 for r in recs)
    t = run(tmp_path, f"hf:{model_dir}", {"dataset": "truthfulqa", "detector": "ptrue"}, 8, "ptrue")
    recs = [json.loads(x) for x in open(tmp_path / "ptrue" / "samples.jsonl")]
    assert all(0 < r["fields"]["p_true"] < 1 and r["score"] == pytest.approx(1 - r["fields"]["p_true"]) for r in recs)
    replay = write_replay(tmp_path, "halueval_qa", 4, lambda y: "No")
    with pytest.raises(HarnessError, match="loglikelihood"):
        run(tmp_path, f"replay:{replay}", {"dataset": "halueval_qa", "detector": "ptrue"}, 4, "refused")


def test_selfcheck_sends_distinct_sampled_requests_and_scores_support():
    task = create_task("halu_detect", {"dataset": "halueval_qa", "detector": "selfcheck", "n_samples": "3"})
    s = next(iter(task.samples()))
    reqs = task.requests(s)
    assert len({r.seed for r in reqs}) == 3 and all(r.temperature == 1.0 for r in reqs)
    response = task.items[s.id].response
    agree = task.score(s, [Generation(response)] * 3)
    disagree = task.score(s, [Generation("zebra quantum violet")] * 3)
    assert agree.fields["sample_support"] == 1.0 and disagree.fields["sample_support"] == 0.0
    assert disagree.value > agree.value


def test_task_declares_what_each_detector_needs():
    need = lambda d: create_task("halu_detect", {"detector": d}).requires  # noqa: E731
    assert need("judge") == {"generate"} and need("selfcheck") == {"generate"}
    assert need("logprob") == {"loglikelihood", "token_logprobs"} and need("ptrue") == {"loglikelihood"}


def test_missing_logprobs_leave_an_item_unjudged():
    task = create_task("halu_detect", {"detector": "logprob"})
    s = next(iter(task.samples()))
    sc = task.score(s, [Loglikelihood(logprob=-3.0, token_logprobs=None)])
    assert sc.fields["judged"] is False and "no token log-probabilities" in sc.explanation


def test_felm_is_read_only_from_data_dir(tmp_path):
    with pytest.raises(HarnessError, match="not shipped.*data_dir"):
        create_task("halu_detect", {"dataset": "felm"})
    rows = [
        {"index": 1, "prompt": "2+2?", "response": "4. Also 5.", "labels": [True, False], "domain": "math"},
        {"index": 2, "prompt": "Capital of France?", "response": "Paris.", "labels": [True], "domain": "wk"},
    ]
    (tmp_path / "all.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    items = {i.id: i for i in load_items("felm", str(tmp_path))}
    assert items["felm-1"].label == 1 and items["felm-2"].label == 0
    with pytest.raises(HarnessError, match="no such file"):
        load_items("felm", str(tmp_path / "nowhere"))


def test_shipped_data_matches_the_published_counts():
    general = load_items("halueval_general")
    assert len(general) == 4507 and sum(i.label for i in general) == 815
    assert len(load_items("halueval_qa")) == 1000 and len(load_items("truthfulqa")) == 1634
    first = load_items("halueval_qa")[:10]
    assert sum(i.label for i in first) == 5  # --limit takes both labels


def test_metrics_agree_with_scikit_learn():
    from sklearn.metrics import average_precision_score, balanced_accuracy_score, f1_score, roc_auc_score

    rng = np.random.default_rng(1)
    for _ in range(50):
        y = rng.integers(0, 2, 40)
        y[:2] = [0, 1]
        s = rng.integers(0, 6, 40) / 2
        p = rng.integers(0, 2, 40)
        assert auroc(np.c_[y, s]) == pytest.approx(roc_auc_score(y, s))
        assert auprc(np.c_[y, s]) == pytest.approx(average_precision_score(y, s))
        assert f1(np.c_[y, p]) == pytest.approx(f1_score(y, p))
        assert balanced_accuracy(np.c_[y, p]) == pytest.approx(balanced_accuracy_score(y, p))
    assert np.isnan(auroc(np.c_[[1, 1], [0.2, 0.3]]))
