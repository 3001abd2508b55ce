"""`harness leaderboard`: the static site from real run directories.

Rows never merge runs that differ in model, steering or task arguments; runs of
different sample sets are flagged, never ranked together; paired comparisons use
Newcombe's interval and McNemar's exact test; every string is escaped. The
browser tests open the site from file:// in Chromium and use it as a reader would."""

import csv
import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.stats import binomtest

from harness.cli import main
from harness.leaderboards import build_site, read_entries
from harness.leaderboards.compare import compare, mark_best_and_ties
from harness.metrics import proportion_metric
from harness.record import SampleRecord
from harness.registry import create_task

XSS = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(2)>'
TARGETS = {s.id: s.target for s in create_task("smoke-gen", {}).samples()}


def _replay(path: Path, right: set[str]) -> Path:
    wrong = [f" {XSS}", f" {IMG}"]
    lines = [{"id": i, "output": f" {t}" if i in right else wrong[k % 2]} for k, (i, t) in enumerate(TARGETS.items())]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def _eval(*argv):
    try:
        main(["eval", *map(str, argv), "-q", "--no-cache"])
    except SystemExit as e:  # an eval with error samples exits non-zero; its run directory is complete
        assert e.code in (0, 1)


def synthetic_run(folder: Path, n: int) -> Path:
    """A finished run of n samples, written as `harness eval` writes one (for size, not for scoring)."""
    folder.mkdir(parents=True)
    records = [
        SampleRecord(
            task="synthetic",
            id=f"s{i:05d}",
            score=float(i % 3 == 0),
            error=None,
            answer=str(i),
            explanation="exact",
            target="0",
            output=f"out {i}",
            input=f"question {i}",
        )
        for i in range(n)
    ]
    (folder / "samples.jsonl").write_text("".join(json.dumps(r.to_json()) + "\n" for r in records))
    metric = proportion_metric(sum(int(r.score) for r in records), n).to_json()
    summary = {"metrics": {"accuracy": metric}, "n": n, "n_errors": 0, "n_samples": n, "args": {}, "headline": "accuracy"}
    (folder / "results.json").write_text(json.dumps({"model": "replay:big.jsonl", "steering": None, "tasks": {"synthetic": summary}}))
    config = {
        "kind": "eval",
        "tasks": {"synthetic": {"data_sha256": "d" * 64, "family": "synthetic"}},
        "identity": {"limit": None},
        "versions": {},
    }
    (folder / "config.json").write_text(json.dumps(config))
    return folder


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("site_runs")
    ids = sorted(TARGETS)
    strong, weak = _replay(tmp / "strong.jsonl", set(ids[:18])), _replay(tmp / "weak.jsonl", set(ids[:5]))
    out = {
        "strong": tmp / "strong",
        "strong_again": tmp / "strong_again",
        "weak": tmp / "weak",
        "weak_limit": tmp / "weak_limit",
        "optics": tmp / "optics",
        "quantum": tmp / "quantum",
    }
    _eval("--model", f"replay:{strong}", "--task", "smoke-gen", "--output", out["strong"])
    _eval("--model", f"replay:{strong}", "--task", "smoke-gen", "--output", out["strong_again"])
    _eval("--model", f"replay:{weak}", "--task", "smoke-gen", "--output", out["weak"])
    _eval("--model", f"replay:{weak}", "--task", "smoke-gen", "--limit", "10", "--output", out["weak_limit"])
    gold = tmp / "gold.jsonl"
    for domain in ("optics", "quantum"):
        main(["generate", "physics-gold-replay", "--output", str(tmp / f"{domain}.jsonl"), "--task-arg", f"domain={domain}"])
    gold.write_text((tmp / "optics.jsonl").read_text() + (tmp / "quantum.jsonl").read_text())
    for domain in ("optics", "quantum"):
        _eval("--model", f"replay:{gold}", "--task", "physics", "-T", f"domain={domain}", "--limit", "4", "--output", out[domain])
    out["big"] = synthetic_run(tmp / "big", 20_000)
    return out


@pytest.fixture(scope="module")
def site(runs, tmp_path_factory):
    folder = tmp_path_factory.mktemp("site") / "site"
    main(["leaderboard", *map(str, runs.values()), "--output", str(folder), "--title", f"board {XSS}"])
    return folder


def _by_run(entries):
    return {e.run.path.name: e for e in entries}


def test_runs_that_differ_in_task_arguments_are_separate_rows_labelled_by_the_difference(runs):
    entries = _by_run(read_entries([runs["optics"], runs["quantum"]]))
    optics, quantum = entries["optics"], entries["quantum"]
    assert optics.model == quantum.model and optics.key != quantum.key
    assert optics.label.endswith("domain=optics") and quantum.label.endswith("domain=quantum")
    assert {optics.group, quantum.group} == {"A", "B"} and "different data hash" in (optics.group_reason + quantum.group_reason)


def test_runs_of_other_limits_are_flagged_and_never_ranked_together(runs):
    entries = _by_run(read_entries([runs["strong"], runs["weak"], runs["weak_limit"]]))
    mark_best_and_ties(list(entries.values()))
    assert entries["strong"].group == entries["weak"].group == "A" and entries["weak_limit"].group == "B"
    assert "limit 10 vs None" in entries["weak_limit"].group_reason
    assert entries["strong"].best and not entries["weak"].tied_with_best
    assert entries["weak_limit"].best  # best of its own group, not of A


def test_identical_runs_stay_two_rows_and_tie(runs):
    entries = _by_run(read_entries([runs["strong"], runs["strong_again"]]))
    mark_best_and_ties(list(entries.values()))
    a, b = entries["strong"], entries["strong_again"]
    assert a.label != b.label and "(run strong_again)" in b.label
    assert a.tied_with_best and b.tied_with_best


def test_the_paired_comparison_is_mcnemars_exact_test_on_the_discordant_samples(runs):
    entries = _by_run(read_entries([runs["strong"], runs["weak"]]))
    pair = compare(entries["strong"], entries["weak"])
    # strong answers gen-00..17, weak gen-00..04: 13 samples right only for strong, none only for weak
    assert pair.n_common == 20 and len(pair.flipped) == 13
    assert pair.mcnemar_p == pytest.approx(binomtest(13, 13, 0.5).pvalue)
    assert pair.difference.value == pytest.approx(13 / 20) and pair.difference.ci95[0] > 0 and pair.significant
    assert any(key.startswith("model.spec") or key.startswith("identity.model") for key, _, _ in pair.config_diff)


def test_the_paired_bootstrap_is_scipys_and_newcombes_interval_covers(runs):
    from scipy.stats import bootstrap

    from harness.metrics import N_RESAMPLES, SEED, paired_bootstrap_metric, paired_difference_metric

    entries = _by_run(read_entries([runs["strong"], runs["weak"]]))
    pair = compare(entries["strong"], entries["weak"])
    x = [r.score for r in entries["strong"].records]
    y = [r.score for r in entries["weak"].records]
    expected = bootstrap(
        (np.array(x), np.array(y)),
        lambda u, v, axis=-1: np.mean(u - v, axis=axis),
        paired=True,
        vectorized=True,
        n_resamples=N_RESAMPLES,
        method="percentile",
        rng=np.random.default_rng(SEED),
    ).confidence_interval
    assert pair.bootstrap.ci95 == pytest.approx((expected.low, expected.high)) and pair.bootstrap.value == pytest.approx(0.65)
    continuous = paired_bootstrap_metric([0.5, 0.2, 0.9, 0.4], [0.1, 0.2, 0.3, 0.8])
    assert continuous.value == pytest.approx(0.15) and continuous.ci95[0] < 0.15 < continuous.ci95[1]
    # Newcombe's interval for paired 0/1 scores covers the true difference about 95% of the time, also near 0 and 1
    rng = np.random.default_rng(0)
    for p_a, p_b, rho in ((0.5, 0.4, 0.3), (0.95, 0.9, 0.5), (0.05, 0.05, 0.0)):
        hits = 0
        for _ in range(400):
            shared = rng.random(60)
            a = (np.where(rng.random(60) < rho, shared, rng.random(60)) < p_a).astype(float)
            b = (np.where(rng.random(60) < rho, shared, rng.random(60)) < p_b).astype(float)
            lo, hi = paired_difference_metric(a, b).ci95
            hits += lo <= p_a - p_b <= hi
        assert hits / 400 >= 0.92, (p_a, p_b, rho, hits)
    same = paired_difference_metric([1.0] * 20, [1.0] * 20)
    assert same.value == 0 and same.ci95[0] < 0 < same.ci95[1]  # informative where no pair disagrees


def test_the_site_draws_each_task_and_training_runs_and_exports_every_table(runs, tmp_path):
    train = tmp_path / "train"
    train.mkdir()
    (train / "config.json").write_text(json.dumps({"kind": "train"}))
    (train / "metrics.csv").write_text("step,loss,acc_a,acc_b,train_seconds\n0,nan,0.1,0.0,0\n100,2.0,0.6,0.2,5\n200,1.0,0.9,0.7,9\n")
    (train / "summary.json").write_text(json.dumps({"phases": {"phase1": {"step": 100}, "phase2": None}}))
    site = tmp_path / "site"
    build_site([runs["strong"], runs["weak"], train], site)
    for picture in ("task-smoke-gen.png", "training-0.png"):
        assert (site / picture).stat().st_size > 5000, picture
    assert 'src="training-0.png"' in (site / "index.html").read_text()
    document = json.loads((site / "leaderboard.json").read_text())
    assert document["schema"] == 1 and len(document["rows"]) == 2 and len(document["pairs"]) == 1
    assert {"key", "task", "row", "headline", "metrics", "n", "errors", "unjudged", "group", "best", "tied_with_best"} <= set(
        document["rows"][0]
    )
    assert document["pairs"][0]["mcnemar_p"] == pytest.approx(binomtest(13, 13, 0.5).pvalue)
    metrics = list(csv.reader(open(site / "task-smoke-gen.csv")))
    assert metrics[0][:2] == ["metric", "statistic"] and ["accuracy", "value"] == metrics[1][:2] and len(metrics[0]) == 4
    pairs = list(csv.DictReader(open(site / "pairs-smoke-gen.csv")))
    assert len(pairs) == 1 and pairs[0]["significant"] == "True"


def test_every_page_escapes_the_strings_of_the_runs(site):
    pages = list(site.glob("*.html"))
    assert len(pages) > 5
    for page in pages:
        text = page.read_text()
        assert XSS not in text and "<img src=x" not in text, page.name
    shards = " ".join(p.read_text() for p in site.glob("data/*/shard-*.js"))
    assert "<script>" not in shards and "\\u003cscript>" in shards


def test_a_tampered_run_directory_cannot_inject_markup(runs, tmp_path):
    run = tmp_path / "tampered"
    shutil.copytree(runs["strong"], run)
    results = json.loads((run / "results.json").read_text())
    summary = results["tasks"]["smoke-gen"]
    summary["n_errors"] = summary["n"] = summary["metrics"]["accuracy"]["n"] = XSS
    summary["metrics"][IMG] = {"value": IMG, "ci95": [XSS, IMG], "n": IMG, "kind": XSS}
    (run / "results.json").write_text(json.dumps(results))
    build_site([run], tmp_path / "site")
    for page in (tmp_path / "site").glob("*.html"):
        text = page.read_text()
        assert XSS not in text and "<img src=x" not in text, page.name


def test_the_site_has_an_overview_task_pages_and_a_drill_down_per_entry(site, runs):
    entries = read_entries(list(runs.values()))
    index = (site / "index.html").read_text()
    assert all(f'href="entry-{e.key}.html"' in index for e in entries)
    for task in ("smoke-gen", "physics", "synthetic"):
        assert (site / f"task-{task}.html").exists()
    big = _by_run(entries)["big"]
    assert len(list((site / "data" / big.key).glob("shard-*.js"))) == 40  # 20,000 samples in shards of 500
    rows = json.loads((site / "leaderboard.json").read_text())["rows"]
    assert len(rows) == len(entries) and {r["task"] for r in rows} == {"smoke-gen", "physics", "synthetic"}


def test_a_folder_that_is_not_a_run_is_one_line_and_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["leaderboard", str(tmp_path), "--output", str(tmp_path / "site")])
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and len(err.splitlines()) == 1 and "results.json" in err


# ---------------------------------------------------------------- in a browser


def _chromium() -> str | None:
    return (
        os.environ.get("HARNESS_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    )


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = _chromium()
    if executable is None:
        pytest.skip("no Chromium to run the browser tests (apt-get install chromium, or set HARNESS_CHROMIUM)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(f"error: {e}"))
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    page.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None)
    yield page
    assert problems == []  # no script error, no alert from a run's strings
    page.close()


def test_the_overview_sorts_by_value_and_lower_bound_and_marks_the_best(site, runs, page):
    page.goto((site / "index.html").as_uri())
    table = page.locator("#family-smoke table")
    lower = lambda: [float(v) for v in table.locator("tbody tr").evaluate_all("rows => rows.map(r => r.dataset.lower)")]  # noqa: E731
    table.locator("th[data-sort=lower]").click()
    assert lower() == sorted(lower(), reverse=True)
    table.locator("th[data-sort=lower]").click()
    assert lower() == sorted(lower())
    best = table.locator("tr:has(.badge.best)")
    assert best.count() == 2  # the best of group A, and of group B (the run with --limit 10)
    assert table.locator(".badge.flag").first.inner_text().startswith("not comparable: limit 10")
    assert page.title() == f"board {XSS}"  # the title is text, not markup


def test_the_drill_down_filters_searches_and_shows_strings_as_text(site, runs, page):
    weak = _by_run(read_entries([runs["weak"]]))["weak"]
    page.goto((site / f"entry-{weak.key}.html").as_uri() + "#filter=wrong")
    page.wait_for_selector("#samples[data-ready='1']")
    cards = page.locator("article.sample")
    assert cards.count() == 15 and cards.locator("header .badge").all_inner_texts() == ["wrong"] * 15
    outputs = cards.locator("dd[data-field=output]").all_inner_texts()
    assert any(XSS in o for o in outputs) and any(IMG in o for o in outputs)  # shown as written
    assert page.locator("img").count() == 0 and page.locator("script:not([src])").count() == 0  # no element from an output
    shot = page.screenshot(full_page=False)
    assert len(Image.open(io.BytesIO(shot)).convert("L").getcolors(maxcolors=65536) or []) > 8  # not blank
    page.fill("input.search", "gen-07")
    page.wait_for_function("document.querySelectorAll('article.sample').length === 1")
    assert cards.first.get_attribute("data-id") == "gen-07"
    page.select_option("select.filter", "correct")  # gen-07 is wrong: nothing left
    page.wait_for_function("document.querySelector('.info').textContent.startsWith('0 of 20')")
    page.fill("input.search", "")
    page.wait_for_function("document.querySelectorAll('article.sample').length === 5")
    assert "filter=correct" in page.url


def test_a_large_run_opens_on_its_first_shard_and_loads_the_rest_on_search(site, runs, page):
    big = _by_run(read_entries([runs["big"]]))["big"]
    page.goto((site / f"entry-{big.key}.html").as_uri())
    page.wait_for_selector("#samples[data-ready='1']")
    loaded = lambda: page.evaluate("document.querySelectorAll('script[src*=\"/shard-\"]').length")  # noqa: E731
    assert loaded() == 1 and page.locator("article.sample").count() == 50
    page.click("button.next")
    page.wait_for_function("document.querySelector('.info').textContent.includes('page 2 of 400')")
    assert loaded() == 1  # page 2 is still in shard 0
    page.fill("input.search", "s19999")
    page.wait_for_function(
        "document.querySelectorAll('article.sample').length === 1 && document.querySelector('.info').textContent.startsWith('1 of')"
    )
    assert loaded() == 40


def test_the_pair_picker_opens_the_comparison_with_flipped_samples_and_diffs(site, runs, page):
    entries = _by_run(read_entries([runs["strong"], runs["weak"]]))
    page.goto((site / "task-smoke-gen.html").as_uri())
    page.select_option("form.pick-pair select[name=a]", entries["strong"].key)
    page.select_option("form.pick-pair select[name=b]", entries["weak"].key)
    page.click("form.pick-pair button")
    page.wait_for_selector("table.flipped")
    assert page.locator("table.flipped tbody tr").count() == 13
    assert page.locator("td.mcnemar").inner_text() == f"{binomtest(13, 13, 0.5).pvalue:.4f}"
    assert "model" in page.locator("h2:has-text('Configuration differences') + table").inner_text()
