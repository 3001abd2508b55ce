"""halu_limit: languages, streams, the adversary, the reference learners, and runs through the runner."""

import csv
import json
import random

import pytest

from harness.api import Generation, HarnessError, RequestContext
from harness.registry import create_model, create_task
from harness.runner import RunConfig, run_eval
from harness.tasks.halu.answers import parse_yes_no
from harness.tasks.halu.collection import COLLECTIONS, get_collection, window_members
from harness.tasks.halu.languages import WORDS, InitialSegment, Multiples
from harness.tasks.halu.reference_learners import ReferenceLearner, hypothesis
from harness.tasks.halu.regular import enumerate_regular
from harness.tasks.halu.streams import play_adversary


def episodes(args: dict, learner: str):
    """Run every episode of halu_limit against a ref: learner without the runner; returns the scores."""
    task = create_task("halu_limit", args)
    model = create_model(f"ref:{learner}", {})
    scores = []
    for s in task.samples():
        responses, reqs = [], task.requests(s)
        while reqs:
            responses += model.generate(reqs, [RequestContext("halu_limit", s.id, len(responses) + i) for i in range(len(reqs))])
            reqs = task.followup(s, responses)
        scores.append(task.score(s, responses))
    return scores


def mean_fwa(scores):
    return sum(s.fields["final_window_accuracy"] for s in scores) / len(scores)


# ---------------------------------------------------------------- the theorem's contrast


@pytest.mark.parametrize("collection", ["gold", "regular"])
@pytest.mark.parametrize("learner", ["conservative", "telltale", "enumeration"])
def test_every_positive_only_learner_fails_under_the_adversary_on_non_identifiable_collections(collection, learner):
    scores = episodes({"collection": collection, "stream": "adversarial", "horizon": "40", "episodes": "3"}, learner)
    assert mean_fwa(scores) == 0.0
    assert all(s.fields["last_error_step"] == 40 for s in scores)


@pytest.mark.parametrize("collection", ["gold", "regular"])
def test_the_informant_learner_converges_on_non_identifiable_collections(collection):
    scores = episodes({"collection": collection, "stream": "informant", "horizon": "60", "episodes": "4"}, "enumeration")
    assert mean_fwa(scores) == 1.0
    assert all(s.fields["last_error_step"] < 45 for s in scores)


@pytest.mark.parametrize("collection", ["multiples", "progressions", "finite"])
@pytest.mark.parametrize("learner", ["conservative", "telltale"])
def test_positive_only_learners_converge_on_identifiable_collections_even_against_the_adversary(collection, learner):
    for stream in ("text", "adversarial"):
        scores = episodes({"collection": collection, "stream": stream, "horizon": "80", "episodes": "3"}, learner)
        assert mean_fwa(scores) == 1.0, (stream, [s.explanation for s in scores])


def test_the_adversary_follows_gold_diagonalisation():
    gold = get_collection("gold")
    big = gold.language(0)
    # A detector that always says "not in K" is shown each queried number next.
    state = play_adversary(gold, big, [False] * 5, random.Random(0), 8.0)
    assert [e.string for e in state.examples] == ["1", "2", "3", "4", "5", "6"]
    assert state.queries == ["2", "3", "4", "5", "6", "7"]
    # One that says "in K" keeps seeing the same finite segment, queried on its successor.
    state = play_adversary(gold, big, [False, True, True], random.Random(0), 8.0)
    assert [e.string for e in state.examples] == ["1", "2", "1", "1"] and state.queries[-1] == "3"
    assert state.alternative == InitialSegment(2)


def test_an_identifiable_collection_runs_the_adversary_out_of_alternatives():
    mult = get_collection("multiples")
    state = play_adversary(mult, Multiples(3), [False], random.Random(0), 8.0)
    assert state.examples[1].string == "3" and state.alternative is None


# ---------------------------------------------------------------- languages and learners


def test_domains_round_trip_and_reject_foreign_strings():
    for i in range(300):
        assert WORDS.index(WORDS.item(i)) == i
    assert WORDS.index("abc") is None and WORDS.index("") is None
    assert get_collection("gold").domain.index("007") is None
    assert not Multiples(3).contains("-3") and not Multiples(3).contains("3.0") and Multiples(3).contains("9")


def test_regular_collection_lists_distinct_languages_and_their_members_in_shortlex_order():
    langs = enumerate_regular()
    assert len({window_members(L) for L in langs}) == len(langs)
    a_plus = next(L for L in langs if window_members(L) == frozenset("a" * n for n in range(1, 9)))
    assert list(a_plus.members().__next__() for _ in range(1)) == ["a"]
    first = [m for m, _ in zip(a_plus.members(), range(40))]
    assert first[-1] == "a" * 40  # sparse members are generated, not searched for
    assert {frozenset(L.members()) for L in langs if L.finite} == {frozenset({"a"}), frozenset({"b"}), frozenset({"a", "b"})}


def test_telltales_are_sound_for_the_finite_collection():
    fin = get_collection("finite")
    langs = fin.first(fin.size)
    for L in langs:
        tell = fin.telltale(L)
        assert tell <= window_members(L)
        for other in langs:  # no language strictly between the tell-tale and L
            w = window_members(other)
            assert not (tell <= w and w < window_members(L)), (L, other)


def test_learner_hypotheses_match_their_definitions():
    gold, mult = get_collection("gold"), get_collection("multiples")
    assert hypothesis("conservative", gold, ["3", "1", "3"], None) == InitialSegment(3)
    assert hypothesis("enumeration", gold, ["3", "1"], None) == Multiples(1)  # L0 first
    assert hypothesis("enumeration", gold, ["3", "1"], ["9"]) == InitialSegment(3)
    assert hypothesis("telltale", mult, ["8", "16"], None) == Multiples(8)
    assert hypothesis("telltale", mult, ["8", "16", "4"], None) == Multiples(4)
    assert hypothesis("conservative", mult, ["12", "18"], None) == Multiples(6)


def test_ref_adapter_answers_from_metadata_and_refuses_other_tasks():
    task = create_task("halu_limit", {"collection": "multiples", "horizon": "5", "episodes": "1"})
    sample = next(iter(task.samples()))
    out = ReferenceLearner("conservative").generate(task.requests(sample), [RequestContext("halu_limit", sample.id, 0)] * 5)
    assert all(parse_yes_no(g.text) is not None and "hypothesis:" in g.text for g in out)
    from harness.api import GenerateRequest

    with pytest.raises(HarnessError, match="only answers halu_limit"):
        ReferenceLearner("telltale").generate([GenerateRequest(prompt="hi")], [RequestContext("x", "1", 0)])
    with pytest.raises(HarnessError, match="ref:conservative, ref:telltale or ref:enumeration"):
        create_model("ref:oracle", {})


# ---------------------------------------------------------------- the prompt, parsing, scoring


def test_prompt_lists_examples_once_and_negatives_only_on_informant_streams():
    text = create_task("halu_limit", {"collection": "multiples", "stream": "text", "horizon": "30", "episodes": "1"})
    inf = create_task("halu_limit", {"collection": "multiples", "stream": "informant", "horizon": "30", "episodes": "1"})
    r = text.requests(next(iter(text.samples())))[-1]
    listed = r.prompt.split("\n")[1].removeprefix("Strings in the hidden set: ").split(", ")
    assert len(listed) == len(set(listed)) and len(r.metadata["halu_limit"]["positives"]) == 30
    assert "NOT in the hidden set" not in r.prompt and r.metadata["halu_limit"]["negatives"] is None
    ri = inf.requests(next(iter(inf.samples())))[-1]
    assert "Strings NOT in the hidden set:" in ri.prompt and ri.metadata["halu_limit"]["negatives"]
    q = ri.metadata["halu_limit"]["query"]
    assert ri.prompt.endswith(f'Is "{q}" in the hidden set? Answer Yes or No.\nAnswer:')


@pytest.mark.parametrize(
    "text, verdict",
    [
        ("Yes", True),
        (" no.", False),
        ("**Yes**, because", True),
        ("The answer is yes.", True),
        ("NO (hypothesis: x)", False),
        ("Yes or no?", True),
        ("maybe", None),
        ("It could be yes or no", None),
        ("", None),
        (None, None),
        ("nobody knows", None),
    ],
)
def test_yes_no_parsing_never_guesses(text, verdict):
    assert parse_yes_no(text) is verdict


def test_unparsed_answers_are_counted_and_scored_wrong():
    task = create_task("halu_limit", {"collection": "gold", "horizon": "8", "episodes": "1", "generator": "faithful"})
    s = next(iter(task.samples()))
    sc = task.score(s, [Generation("Yes")] * 4 + [Generation("perhaps")] * 4)
    assert sc.fields["parse_failures"] == 4 and sc.fields["correct_by_step"][4:] == [0, 0, 0, 0]
    assert sc.fields["final_window_accuracy"] == 0.0


def test_mind_changes_count_revised_answers_about_the_same_string():
    from harness.tasks.halu.limit_task import _mind_changes

    assert _mind_changes(["5", "6", "5", "5", "6"], [True, False, False, True, False]) == 2


def test_bad_arguments_are_one_line_errors():
    with pytest.raises(HarnessError, match="generator=superset"):
        create_task("halu_limit", {"stream": "adversarial", "generator": "faithful"})
    with pytest.raises(HarnessError, match="horizon"):
        create_task("halu_limit", {"horizon": "0"})
    with pytest.raises(HarnessError, match="one of"):
        create_task("halu_limit", {"collection": "primes"})


def test_episodes_are_reproducible_and_differ_by_seed():
    a = [s.metadata for s in create_task("halu_limit", {"collection": "regular", "episodes": "5"}).samples()]
    b = [s.metadata for s in create_task("halu_limit", {"collection": "regular", "episodes": "5"}).samples()]
    c = [s.metadata for s in create_task("halu_limit", {"collection": "regular", "episodes": "5", "seed": "1"}).samples()]
    assert a == b and a != c
    for m in a:  # the superset generator's language strictly contains the target
        k, g = enumerate_regular()[m["target_index"]], enumerate_regular()[m["generator_index"]]
        assert g.includes(k) and not k.includes(g)


def test_every_collection_builds_every_stream():
    for name in COLLECTIONS:
        for stream in ("text", "informant"):
            for gen in ("faithful", "noisy", "superset"):
                task = create_task("halu_limit", {"collection": name, "stream": stream, "generator": gen, "horizon": "6", "episodes": "2"})
                for s in task.samples():
                    assert len(task.requests(s)) == 6


# ---------------------------------------------------------------- end to end


def test_runner_writes_metrics_curve_and_resumes(tmp_path):
    cfg = dict(
        model="ref:enumeration",
        tasks=["halu_limit"],
        output=tmp_path / "run",
        use_cache=False,
        task_args={"collection": "gold", "stream": "adversarial", "horizon": "30", "episodes": "3"},
    )
    res = run_eval(RunConfig(**cfg))
    m = res.results["tasks"]["halu_limit"]["metrics"]
    assert m["final_window_accuracy"]["value"] == 0.0 and m["converged"]["value"] == 0.0
    assert m["parse_failures"]["value"] == 0 and all(v["ci95"] is not None for v in m.values())
    rows = list(csv.DictReader(open(tmp_path / "run" / "halu_limit_accuracy_by_t.csv")))
    assert len(rows) == 30 and rows[0]["episodes"] == "3"
    assert (tmp_path / "run" / "halu_limit_accuracy_by_t.png").stat().st_size > 1000
    recs = [json.loads(x) for x in open(tmp_path / "run" / "samples.jsonl")]
    assert len(recs) == 3 and all(r["answer"] == "Y" * 30 for r in recs)  # enumeration guesses L0 = all integers
    assert run_eval(RunConfig(**cfg)).model_calls == 0
