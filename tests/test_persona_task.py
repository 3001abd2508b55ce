"""Tasks persona and guidance_shift: data, scoring, and runs through the runner, steered and not."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from harness.api import Generation, HarnessError, Loglikelihood
from harness.record import SampleRecord
from harness.registry import create_model, create_task
from harness.roles import RoleModel
from harness.runner import RunConfig, run_eval
from harness.tasks.persona.data import DATA, TRAITS, contrastive_pairs, load_items, split_items
from harness.tasks.persona.scoring import p_match


def test_data_is_shipped_with_licence_and_splits_are_disjoint_and_balanced():
    assert "Attribution 4.0 International" in (DATA / "LICENSE.anthropics-evals").read_text()
    assert "84fcc677" in (DATA / "NOTICE.md").read_text()
    for trait in TRAITS:
        items = load_items(trait)
        assert len(items) == 1000 and {i.matching for i in items} == {"Yes", "No"}
        train, test = split_items(trait, "train"), split_items(trait, "test")
        assert not {i.index for i in train} & {i.index for i in test}
        assert sum(i.matching == "Yes" for i in test) == len(test) // 2
    assert split_items("openness", "test", seed=1) != split_items("openness", "test", seed=0)
    question, toward, away = contrastive_pairs("narcissism", "toward", n=1)[0]
    assert {toward, away} == {"A", "B"} and "(A)" in question and "(B)" in question


def test_p_match_normalises_over_yes_and_no():
    assert p_match(math.log(0.3), math.log(0.1), "Yes") == pytest.approx(0.75)
    assert p_match(math.log(0.3), math.log(0.1), "No") == pytest.approx(0.25)
    assert p_match(-1000.0, -1001.0, "No") == pytest.approx(1 / (1 + math.e))


def _ll(lp, tokens=1):
    return Loglikelihood(lp, token_logprobs=[lp / tokens] * tokens)


def test_score_and_aggregate_report_control_and_drift():
    task = create_task("persona", {"trait": "agreeableness", "direction": "away", "n": "2", "n_drift": "1", "n_neutral": "1"})
    samples = list(task.samples())
    assert [s.metadata["kind"] for s in samples] == ["control"] * 2 + ["drift"] * 7
    first = samples[0]
    reqs = task.requests(first)
    assert len(reqs) == 5 and not reqs[2].steered and not reqs[4].steered and reqs[0].steered
    follow = task.followup(first, [_ll(-1.0)] * 4 + [Generation(" some text")])
    assert [r.continuation for r in follow] == [" some text"] * 2
    yes_first = first.metadata["matching"] == "Yes"
    # steered: p(match)=0.2, unsteered: 0.5; neutral continuation: base -2, steered -5 over 3 tokens
    steered = [math.log(0.2), math.log(0.8)] if yes_first else [math.log(0.8), math.log(0.2)]
    responses = [_ll(steered[0]), _ll(steered[1]), _ll(-0.7), _ll(-0.7), Generation(" some text"), _ll(-2.0, 3), _ll(-5.0, 3)]
    score = task.score(first, responses)
    assert score.value == score.fields["p_match"] == pytest.approx(0.2)
    assert score.fields["delta"] == pytest.approx(-0.3) and score.fields["kl_per_token"] == pytest.approx(1.0)
    records = [SampleRecord.of(task.name, first, [], score, None)]
    drift = task.score(samples[-1], [_ll(-0.1), _ll(-3.0), _ll(-0.7), _ll(-0.7)])
    records.append(SampleRecord.of(task.name, samples[-1], [], drift, None))
    metrics = task.aggregate(records)
    assert metrics["control"].value == pytest.approx(0.3)  # away: a drop in p(match) is control
    assert metrics["drift_other_traits"].value == pytest.approx(abs(drift.fields["delta"]))
    assert metrics["drift_kl"].value == pytest.approx(1.0)
    assert all(m.ci95 is not None for k, m in metrics.items() if k != "unscored")


def test_bad_task_args_are_one_clear_error():
    with pytest.raises(HarnessError, match="not allowed"):
        create_task("persona", {"trait": "grumpiness"})
    with pytest.raises(HarnessError, match="at least 1"):
        create_task("persona", {"n": "0"})


def _run(tmp_path: Path, model_dir, task: str, task_args: dict, steer: str | None = None, steer_args: dict | None = None):
    config = RunConfig(
        model=f"hf:{model_dir}",
        tasks=[task],
        task_args=task_args,
        model_args={"dtype": "float32"},
        output=tmp_path / (steer or "none"),
        steer=steer,
        steer_args=steer_args or {},
    )
    result = run_eval(config)
    records = [json.loads(l) for l in (result.output / "samples.jsonl").read_text().splitlines()]
    return result.results, records


PERSONA_ARGS = {"trait": "openness", "n": "3", "n_drift": "1", "n_neutral": "2", "neutral_tokens": "4"}


def test_persona_unsteered_run_has_zero_change_and_score_equals_p_match(tmp_path, tiny_llama_dir):
    results, records = _run(tmp_path, tiny_llama_dir, "persona", PERSONA_ARGS)
    metrics = results["tasks"]["persona"]["metrics"]
    assert results["tasks"]["persona"]["n"] == 10
    assert all(r["score"] == r["fields"]["p_match"] and r["fields"]["delta"] == 0.0 for r in records)
    assert metrics["control"]["value"] == 0.0 and metrics["drift_kl"]["value"] == 0.0
    assert sum(r["fields"].get("kl_per_token") is not None for r in records) == 2


def test_persona_steered_run_records_change_and_steering_config(tmp_path, tiny_llama_dir):
    results, records = _run(tmp_path, tiny_llama_dir, "persona", PERSONA_ARGS, "mi", {"guidance": "You are curious.", "layers": "0"})
    assert all(r["score"] == r["fields"]["p_match"] for r in records)
    assert any(abs(r["fields"]["delta"]) > 1e-6 for r in records)
    assert any(abs(r["fields"]["kl_per_token"]) > 1e-6 for r in records if r["fields"].get("kl_per_token") is not None)
    config = json.loads((tmp_path / "mi" / "config.json").read_text())
    assert config["model"]["steering"]["settings"]["layers"] == "0"
    assert results["steering"]["kv_bytes_added_per_sequence"] > 0


def test_guidance_shift_runs_prompting_and_mi(tmp_path, tiny_llama_dir):
    args = {"n": "2", "turns_before": "1"}
    task = create_task("guidance_shift", args)
    samples = list(task.samples())
    assert [s.metadata["phase"] for s in samples] == ["pre", "pre", "post", "post"]
    post = samples[2]
    assert len(post.metadata["guidance_schedule"]) == 2 and post.metadata["guidance_schedule"][1][0] == 2
    assert (
        post.metadata["aligned"] != samples[0].metadata["aligned"]
        or post.metadata["statement_index"] != samples[0].metadata["statement_index"]
    )
    outcomes = {}
    for steer in ("prompt", "mi"):
        results, records = _run(tmp_path, tiny_llama_dir, "guidance_shift", args, steer, {})
        metrics = results["tasks"]["guidance_shift"]["metrics"]
        assert {"pre_shift_alignment", "post_shift_alignment", "post_shift_gain"} <= set(metrics)
        assert all(r["score"] == r["fields"]["p_aligned"] for r in records)
        outcomes[steer] = [r["fields"]["p_aligned"] for r in records]
    assert outcomes["prompt"] != outcomes["mi"]


JUDGE_PLUGIN = '''
import json
from harness import Generation, ModelAdapter, register_model


@register_model
class ScriptedCoherenceJudge(ModelAdapter):
    """Rates a continuation by its distinct words mod 11; refuses in prose on the
    prompt that contains FAIL_ON, and errors on a request not at temperature 0."""

    name = "scripted_coherence_judge"
    capabilities = frozenset({"generate", "structured_output"})

    def generate(self, requests, contexts):
        out = []
        for r in requests:
            user = r.prompt[-1].content
            continuation = user.split("<<<\\n", 1)[1].rsplit("\\n>>>", 1)[0]
            if r.temperature != 0.0 or r.response_format is None:
                out.append(Generation(text=None, error="judge must run at temperature 0 with a schema"))
            elif FAIL_ON in user:
                out.append(Generation(text="The coherence is 7 out of 10."))
            else:
                out.append(Generation(text=json.dumps({"coherence": len(set(continuation.split())) % 11, "reason": "words"})))
        return out


@register_model
class UnreachableJudge(ModelAdapter):
    name = "unreachable_judge"
    capabilities = frozenset({"generate"})

    def generate(self, requests, contexts):
        raise ConnectionError("judge unreachable")
'''


def judge_rating(text: str) -> int:
    return len(set(text.split())) % 11


@pytest.fixture(scope="module")
def judge_plugin(tmp_path_factory):
    from harness.tasks.persona.data import neutral_prompts

    path = tmp_path_factory.mktemp("judge") / "coherence_judge.py"
    path.write_text(f"FAIL_ON = {neutral_prompts()[1]!r}\n" + JUDGE_PLUGIN)
    return str(path)


def test_coherence_reply_parsing_is_strict():
    from harness.tasks.persona.coherence import parse_coherence_reply

    assert parse_coherence_reply('ok {"coherence": 7, "reason": "fluent"}') == (7.0, "fluent")
    assert parse_coherence_reply('{"x": 1} {"coherence": 0}')[0] == 0.0
    for bad in (None, "", "coherence: 7", '{"coherence": "7"}', '{"coherence": true}', '{"coherence": 11}', '{"coherence": -1}'):
        assert parse_coherence_reply(bad)[0] is None, bad


def test_judge_needs_neutral_prompts_and_a_known_model():
    from harness.runner import build_roles

    task = create_task("persona", {"n_neutral": "0"})
    with pytest.raises(HarnessError, match="n_neutral"):
        task.bind_roles({"judge": RoleModel("judge", "openai:gpt-4o-mini", task.name, lambda *a: [])})
    with pytest.raises(HarnessError, match="unknown model spec"):
        build_roles(RunConfig(model="replay:x", tasks=["persona"], model_roles={"judge": "gpt4:judge"}), [task])
    with pytest.raises(HarnessError, match="--model-role judge=openai:x"):
        run_eval(RunConfig(model="replay:x", tasks=["persona"], task_args={"judge": "openai:x"}))


def test_a_failing_judge_leaves_samples_unjudged_not_scored(judge_plugin):
    from harness.registry import include

    include(judge_plugin)
    task = create_task("persona", {"trait": "openness", "n": "1", "n_drift": "0", "n_neutral": "1"})
    task.bind_roles({"judge": RoleModel.direct("judge", create_model("unreachable_judge:", {}), task.name)})
    sample = next(iter(task.samples()))
    responses = [_ll(-0.7)] * 4 + [Generation("")] + [Generation(" a b c"), Generation(" a b")]
    score = task.score_batch([sample], [responses])[0]
    assert score.fields["coherence_unjudged"] and score.fields["coherence_delta"] is None
    assert "judge unreachable" in score.explanation
    metrics = task.aggregate([SampleRecord.of(task.name, sample, [], score, None)])
    assert metrics["coherence_unjudged"].value == 1.0


@pytest.mark.parametrize("steer", [None, "mi"])
def test_coherence_drift_is_judged_steered_minus_unsteered_and_parse_failures_counted(tmp_path, tiny_llama_dir, judge_plugin, steer):
    args = {**PERSONA_ARGS, "n_drift": "0", "n_neutral": "3", "coherence_tokens": "8"}
    config = RunConfig(
        model=f"hf:{tiny_llama_dir}",
        tasks=["persona"],
        task_args=args,
        model_args={"dtype": "float32"},
        model_roles={"judge": "scripted_coherence_judge:"},
        output=tmp_path / "run",
        includes=[judge_plugin],
        steer=steer,
        steer_args={"guidance": "You are curious.", "layers": "0"} if steer else {},
    )
    result = run_eval(config)
    records = [json.loads(l) for l in (result.output / "samples.jsonl").read_text().splitlines()]
    metrics = result.results["tasks"]["persona"]["metrics"]
    rated = [r for r in records if "coherence_unjudged" in r["fields"]]
    assert len(rated) == 3 and sum(r["fields"]["coherence_unjudged"] for r in rated) == 1  # the prose reply is unjudged, not scored
    assert metrics["coherence_unjudged"]["value"] == 1.0
    deltas = []
    for r in rated:
        texts = r["fields"]["coherence_texts"]
        if r["fields"]["coherence_unjudged"]:
            assert r["fields"]["coherence_delta"] is None and "unjudged" in r["explanation"] and "no JSON verdict" in r["explanation"]
            continue
        assert r["fields"]["coherence_steered"] == judge_rating(texts["steered"]) and r["fields"]["coherence_unsteered"] == judge_rating(
            texts["unsteered"]
        )
        deltas.append(r["fields"]["coherence_delta"])
    assert metrics["drift_coherence"]["value"] == pytest.approx(sum(deltas) / len(deltas))
    assert metrics["drift_coherence"]["ci95"] is not None
    if steer is None:
        assert all(r["fields"]["coherence_texts"]["steered"] == r["fields"]["coherence_texts"]["unsteered"] for r in rated)
        assert metrics["drift_coherence"]["value"] == 0.0
    else:
        assert any(r["fields"]["coherence_texts"]["steered"] != r["fields"]["coherence_texts"]["unsteered"] for r in rated)
