"""The static leaderboard site: plain HTML pages written here, one stylesheet and one
script copied beside them, and each run's samples as JavaScript shards that the
per-sample browser loads on demand. No server: it opens from file:// and from any
static host. Every string from a run is escaped here or written by the script as text.
"""

from __future__ import annotations

import csv
import html
import json
import math
import re
import shutil
from pathlib import Path
from typing import Any

from harness.io import markdown_cell
from harness.leaderboards.compare import Pair, compare, mark_best_and_ties
from harness.leaderboards.entries import STATUSES, Entry
from harness.leaderboards.pictures import plot_control_drift, plot_headlines, plot_training_run

SHARD_SIZE = 500
STATIC = Path(__file__).parent / "static"
e = html.escape


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


def _num(value: Any, digits: int = 3) -> str:
    if not (isinstance(value, (int, float)) and math.isfinite(value)):
        return "n/a"
    text = f"{value:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text  # no "-0.000"


def _interval(metric: dict) -> str:
    ci = metric.get("ci95")
    if metric.get("kind") == "count":
        return f"{_num(metric.get('value'), 0)} [{_num(ci[0], 1)}, {_num(ci[1], 1)}]" if ci else _num(metric.get("value"), 0)
    return f"{_num(metric.get('value'))} [{_num(ci[0])}, {_num(ci[1])}]" if ci else _num(metric.get("value"))


def _js(function: str, *args: Any) -> str:
    """A call of `function` with JSON arguments; `<` is escaped so no string can end a script."""
    text = ", ".join(json.dumps(a, ensure_ascii=False, default=str) for a in args)
    return f"{function}({text.replace('<', chr(92) + 'u003c')});\n"


def _page(title: str, body: str, site_title: str) -> str:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{e(title)}</title><link rel="stylesheet" href="site.css"></head><body>'
        f'<nav><a href="index.html">{e(site_title)}</a></nav><h1>{e(title)}</h1>{body}'
        '<script src="site.js"></script></body></html>\n'
    )


def _bar(metric: dict, scale: tuple[float, float]) -> str:
    """The value as a dot on its 95% interval, on the table's common scale."""
    value, ci = metric.get("value"), metric.get("ci95")
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return ""
    lo, hi = scale
    width = 140

    def x(v: float) -> float:
        return 4 + (width - 8) * (min(max(v, lo), hi) - lo) / ((hi - lo) or 1)

    line = f'<line x1="{x(ci[0]):.1f}" x2="{x(ci[1]):.1f}" y1="7" y2="7" stroke="#557" stroke-width="3"/>' if ci else ""
    return (
        f'<svg class="bar" width="{width}" height="14" role="img" aria-label="{e(_interval(metric))}">'
        f'<line x1="4" x2="{width - 4}" y1="7" y2="7" stroke="#dde"/>{line}'
        f'<circle cx="{x(value):.1f}" cy="7" r="4" fill="#1f5fbf"/></svg>'
    )


def _scale(entries: list[Entry]) -> tuple[float, float]:
    points = [v for en in entries for v in [en.headline_metric.get("value"), *(en.headline_metric.get("ci95") or [])]]
    points = [p for p in points if isinstance(p, (int, float)) and math.isfinite(p)]
    if points and min(points) >= 0 and max(points) <= 1:
        return (0.0, 1.0)
    return (min(points), max(points)) if points else (0.0, 1.0)


def _badges(en: Entry) -> str:
    out = ""
    if en.best:
        out += '<span class="badge best" title="highest headline in its comparison group">best</span>'
    elif en.tied_with_best:
        out += '<span class="badge tied" title="not distinguishable from the best at 95%">tied with best</span>'
    if en.group_reason:
        out += f'<span class="badge flag" title="{e(en.group_reason)}">not comparable: {e(en.group_reason)}</span>'
    return out


def _overview(entries: list[Entry], title: str, warnings: list[str], training: str) -> str:
    parts = [f'<p class="warn">{e(w)}</p>' for w in warnings]
    parts.append(
        "<p>One row per model, steering and task arguments; the value is the task's headline metric with its 95% "
        "interval. Rows are ranked within their comparison group (the same samples of the same data); click "
        "<em>value</em> or <em>lower bound</em> to sort.</p>"
    )
    for family in sorted({en.family for en in entries}):
        rows = sorted((en for en in entries if en.family == family), key=lambda en: (en.task, en.group, -_value(en)))
        scale = _scale(rows)
        body = []
        for en in rows:
            m = en.headline_metric
            ci = m.get("ci95") or [None, None]
            body.append(
                f'<tr data-value="{_num(m.get("value"), 6)}" data-lower="{_num(ci[0], 6)}" data-entry="{en.key}">'
                f'<td><a href="task-{_slug(en.task)}.html">{e(en.task)}</a></td>'
                f'<td><a href="entry-{en.key}.html">{e(en.label)}</a>{_badges(en)}</td>'
                f"<td>{e(en.headline)}</td><td class=num>{_num(m.get('value'))}</td><td>{_bar(m, scale)}</td>"
                f"<td class=num>{_num(ci[0])}</td><td class=num>{_num(ci[1])}</td><td class=num>{e(str(en.headline_n))}</td>"
                f"<td class=num>{e(str(en.n_errors))}</td><td class=num>{en.n_unjudged}</td><td>{e(en.group)}</td>"
                f'<td><a href="entry-{en.key}.html#config">config</a></td></tr>'
            )
        parts.append(
            f'<section id="family-{_slug(family)}"><h2>{e(family)}</h2><div class="scroll"><table class="sortable overview">'
            "<thead><tr><th>task</th><th>model</th><th>headline</th><th data-sort=value>value</th><th>95% interval</th>"
            '<th data-sort=lower>lower bound</th><th>upper</th><th>n</th><th>errors</th><th title="samples a judge left undecided">unjudged</th>'
            f"<th>group</th><th></th></tr></thead><tbody>{''.join(body)}</tbody></table></div></section>"
        )
    return _page(title, "".join(parts) + training, title)


def _value(en: Entry) -> float:
    v = en.headline_metric.get("value")
    return v if isinstance(v, (int, float)) and math.isfinite(v) else -math.inf


def _pair_cell(pair: Pair, row: Entry) -> str:
    """The pair as row minus column (a pair is stored once, as A minus B)."""
    d, sign = pair.bootstrap, (1 if pair.a is row else -1)
    ci = sorted(sign * c for c in d.ci95) if d.ci95 else None
    text = f"{_num(sign * d.value)} [{_num(ci[0])}, {_num(ci[1])}]" if ci else _num(d.value)
    p = f" p={pair.mcnemar_p:.3g}" if pair.mcnemar_p is not None else ""
    mark = " *" if pair.significant else ""
    return f'<a href="compare-{pair.a.key}-{pair.b.key}.html">{e(text + p + mark)}</a>'


def _task_page(task: str, rows: list[Entry], pairs: dict[tuple[str, str], Pair], title: str, pictures: list[tuple[str, str]]) -> str:
    metrics: list[str] = []
    for en in rows:
        metrics += [m for m in en.metrics if m not in metrics]
    head = "".join(f'<th><a href="entry-{en.key}.html">{e(en.label)}</a> <span class="muted">({e(en.group)})</span></th>' for en in rows)
    body = "".join(
        f"<tr><td>{e(m)}{' *' if m == rows[0].headline else ''}</td>"
        + "".join(f"<td class=num>{e(_interval(en.metrics[m])) if m in en.metrics else ''}</td>" for en in rows)
        + "</tr>"
        for m in metrics
    )
    counts = "".join(
        f"<tr><td>{e(label)}</td>" + "".join(f"<td class=num>{e(str(get(en)))}</td>" for en in rows) + "</tr>"
        for label, get in (
            ("n (scored)", lambda en: en.n),
            ("samples", lambda en: en.n_samples),
            ("errors", lambda en: en.n_errors),
            ("unjudged samples", lambda en: en.n_unjudged),
        )
    )
    parts = [f'<p><img src="{e(src)}" alt="{e(alt)}"></p>' for src, alt in pictures]
    parts += [
        "<p>Every metric of every row (value [95% interval]; * the headline). Groups: rows in the same group scored "
        f'the same samples of the same data. As a table: <a href="task-{_slug(task)}.csv">CSV</a>, '
        f'<a href="task-{_slug(task)}.json">JSON</a>.</p>',
        f'<div class="scroll"><table class="metrics"><thead><tr><th>metric</th>{head}</tr></thead><tbody>{body}{counts}</tbody></table></div>',
    ]
    if len(rows) > 1:
        options = "".join(f'<option value="{en.key}">{e(en.label)}</option>' for en in rows)
        options_b = "".join(f'<option value="{en.key}"{" selected" if k == 1 else ""}>{e(en.label)}</option>' for k, en in enumerate(rows))
        grid = "".join(
            f"<tr><th>{e(a.label)}</th>"
            + "".join(f"<td>{_pair_cell(pairs[(a.key, b.key)], a)}</td>" if (a.key, b.key) in pairs else "<td></td>" for b in rows)
            + "</tr>"
            for a in rows
        )
        parts += [
            "<h2>Paired comparisons</h2><p>Row minus column: the mean per-sample score difference on the samples both "
            "scored, with its paired bootstrap 95% interval and, for 0/1 scores, McNemar's exact p; * where the difference "
            "is significant at 95% (for 0/1 scores by Newcombe's paired interval). As a table: "
            f'<a href="pairs-{_slug(task)}.csv">CSV</a>.</p>',
            f'<form class="pick-pair"><select name="a">{options}</select> vs <select name="b">{options_b}</select> '
            '<button type="submit">compare</button> <span class="pick-message muted"></span></form>',
            f'<div class="scroll"><table class="pairs"><thead><tr><th></th>{"".join(f"<th>{e(b.label)}</th>" for b in rows)}</tr></thead>'
            f"<tbody>{grid}</tbody></table></div>",
        ]
    return _page(f"{task}", "".join(parts), title)


def _config_block(en: Entry) -> str:
    return (
        f'<details id="config"><summary>full configuration</summary><pre>{e(json.dumps(en.run.config, indent=1, default=str))}</pre>'
        "</details>"
    )


def _entry_page(en: Entry, title: str) -> str:
    facts = [
        ("task", f'<a href="task-{_slug(en.task)}.html">{e(en.task)}</a>'),
        ("model", e(en.model)),
        ("steering", e(en.steering)),
        ("task arguments", e(json.dumps(en.args, default=str))),
        ("run directory", e(str(en.run.path))),
        ("data sha256", e(str(en.data_sha256))),
        ("limit", e(str(en.limit))),
        ("comparison group", e(en.group + (f" ({en.group_reason})" if en.group_reason else ""))),
    ]
    metrics = "".join(
        f"<tr><td>{e(name)}</td><td class=num>{e(_interval(m))}</td><td class=num>{e(str(m.get('n', '')))}</td></tr>"
        for name, m in en.metrics.items()
    )
    options = "".join(f'<option value="{s}">{s}</option>' for s in ("all", *STATUSES, "judge"))
    browser = (
        f'<h2>Samples</h2><div id="samples" data-entry="{en.key}"><div class="controls">'
        f'<label>show <select class="filter">{options}</select></label>'
        '<input class="search" type="search" placeholder="search id, input, output, answer, explanation">'
        '<button class="prev">previous</button><button class="next">next</button><span class="info">loading...</span></div>'
        '<div class="list"></div></div>'
    )
    body = (
        "<table>" + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in facts) + "</table>"
        f'<h2>Metrics</h2><table class="metrics"><thead><tr><th>metric</th><th>value [95% interval]</th><th>n</th></tr></thead>'
        f"<tbody>{metrics}</tbody></table>{_config_block(en)}{browser}"
    )
    return _page(en.label, body, title)


def _diff_table(rows: list[tuple[str, Any, Any]], a: str, b: str) -> str:
    if not rows:
        return '<p class="muted">none</p>'
    cells = "".join(
        f"<tr><td>{e(k)}</td><td>{e(json.dumps(x, default=str))}</td><td>{e(json.dumps(y, default=str))}</td></tr>" for k, x, y in rows
    )
    return f"<table><thead><tr><th>key</th><th>{e(a)}</th><th>{e(b)}</th></tr></thead><tbody>{cells}</tbody></table>"


def _compare_page(pair: Pair, title: str) -> str:
    a, b, d = pair.a, pair.b, pair.bootstrap

    def interval(m) -> str:
        return f"[{_num(m.ci95[0])}, {_num(m.ci95[1])}]" if m.ci95 else "n/a"

    notes = []
    if a.group != b.group:
        notes.append("These rows are in different comparison groups: only the samples both scored are compared.")
    if not pair.headline_paired:
        notes.append(f"The headline ({a.headline}) is not the mean per-sample score here; the paired figures compare per-sample scores.")
    flipped = "".join(
        f'<tr><td><a href="entry-{a.key}.html#filter=all&amp;q={e(f["id"])}">{e(f["id"])}</a></td><td>{e(f["a"])} ({_num(f["a_score"])})</td>'
        f"<td>{e(f['b'])} ({_num(f['b_score'])})</td></tr>"
        for f in pair.flipped
    )
    body = (
        "".join(f'<p class="warn">{e(n)}</p>' for n in notes)
        + f'<table class="summary"><tr><th>A</th><td><a href="entry-{a.key}.html">{e(a.label)}</a>: {e(_interval(a.headline_metric))}</td></tr>'
        f'<tr><th>B</th><td><a href="entry-{b.key}.html">{e(b.label)}</a>: {e(_interval(b.headline_metric))}</td></tr>'
        f"<tr><th>common scored samples</th><td class=num>{pair.n_common}</td></tr>"
        f'<tr><th>A - B (mean per-sample score)</th><td class="num difference">{_num(d.value)}</td></tr>'
        f'<tr><th>paired bootstrap 95% interval</th><td class="num bootstrap">{interval(d)}</td></tr>'
        f'<tr><th>Newcombe 95% interval (0/1 scores)</th><td class="num newcombe">{interval(pair.difference) if pair.mcnemar_p is not None else "n/a"}</td></tr>'
        f'<tr><th>McNemar exact p</th><td class="num mcnemar">{_num(pair.mcnemar_p, 4) if pair.mcnemar_p is not None else "n/a (scores not all 0/1)"}</td></tr></table>'
        f'<h2>Samples whose verdict differs ({len(pair.flipped)})</h2><div class="scroll"><table class="flipped">'
        f"<thead><tr><th>sample</th><th>A</th><th>B</th></tr></thead><tbody>{flipped}</tbody></table></div>"
        f"<h2>Configuration differences</h2>{_diff_table(pair.config_diff, 'A', 'B')}"
        f"<h2>Package versions</h2>{_diff_table(pair.versions_diff, 'A', 'B')}"
        f"<h2>Data hashes</h2>{_diff_table(pair.data_diff, 'A', 'B')}"
    )
    return _page(f"{a.task}: {a.label} vs {b.label}", body, title)


def _write_samples(en: Entry, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    n_shards = max(1, math.ceil(len(en.records) / SHARD_SIZE))
    index = {
        "n": len(en.records),
        "shard_size": SHARD_SIZE,
        "n_shards": n_shards,
        "status": en.statuses,
        "judged": [int(bool(r.role_responses)) for r in en.records],
    }
    (folder / "index.js").write_text(_js("harnessIndex", en.key, index), encoding="utf-8")
    for k in range(n_shards):
        chunk = range(k * SHARD_SIZE, min(len(en.records), (k + 1) * SHARD_SIZE))
        rows = [en.sample_view(en.records[i], en.statuses[i]) for i in chunk]
        (folder / f"shard-{k}.js").write_text(_js("harnessShard", en.key, k, rows), encoding="utf-8")


def _metric_json(m: Any) -> dict:
    return {"value": m.value, "ci95": list(m.ci95) if m.ci95 else None, "n": m.n}


def _pair_json(pair: Pair) -> dict:
    return {
        "a": pair.a.key,
        "b": pair.b.key,
        "task": pair.a.task,
        "n_common": pair.n_common,
        "difference": pair.bootstrap.value,
        "bootstrap_ci95": _metric_json(pair.bootstrap)["ci95"],
        "newcombe_ci95": _metric_json(pair.difference)["ci95"] if pair.mcnemar_p is not None else None,
        "mcnemar_p": pair.mcnemar_p,
        "significant": pair.significant,
        "headline_paired": pair.headline_paired,
        "n_flipped": len(pair.flipped),
    }


def _row_json(en: Entry) -> dict:
    return {
        "key": en.key,
        "family": en.family,
        "task": en.task,
        "row": en.label,
        "model": en.model,
        "steering": en.steering,
        "task_args": en.args,
        "run": str(en.run.path),
        "headline": en.headline,
        "metrics": en.metrics,
        "n": en.headline_n,
        "errors": en.n_errors,
        "unjudged": en.n_unjudged,
        "group": en.group,
        "not_comparable": en.group_reason or None,
        "best": en.best,
        "tied_with_best": en.tied_with_best,
    }


LEADERBOARD_SCHEMA = 1


def _write_csv(path: Path, rows: list[list[Any]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)


def _write_tables(entries: list[Entry], pairs: list[Pair], training: list[dict], output: Path, title: str) -> list[Path]:
    """Every table as CSV (the overview, each task's metrics, each task's pairs) and the whole
    leaderboard as `leaderboard.json` (schema in docs/leaderboards.md), plus the overview as Markdown."""
    entries = sorted(entries, key=lambda en: (en.family, en.task, en.group, -_value(en)))
    header = "family task row model steering task_args headline value ci95_lo ci95_hi n errors unjudged group".split()
    lines: list[list[Any]] = [header]
    for en in entries:
        m, row = en.headline_metric, _row_json(en)
        ci = m.get("ci95") or ["", ""]
        lines.append(
            [
                en.family,
                en.task,
                en.label,
                en.model,
                en.steering,
                json.dumps(en.args, default=str),
                en.headline,
                m.get("value"),
                *ci,
                *(row[k] for k in ("n", "errors", "unjudged", "group")),
            ]
        )
    paths = [output / "leaderboard.csv", output / "leaderboard.md", output / "leaderboard.json"]
    _write_csv(paths[0], lines)
    md = [
        f"# {markdown_cell(title)}",
        "",
        "Headline metric per row: value [95% interval].",
        "",
        "| task | row | headline | value [95% interval] | n | errors | unjudged | group |",
        "|---|---|---|---|---|---|---|---|",
    ]
    md += [
        f"| {markdown_cell(en.task)} | {markdown_cell(en.label)} | {markdown_cell(en.headline)} | {_interval(en.headline_metric)} "
        f"| {markdown_cell(str(en.headline_n))} | {markdown_cell(str(en.n_errors))} | {en.n_unjudged} | {en.group} |"
        for en in entries
    ]
    paths[1].write_text("\n".join(md) + "\n", encoding="utf-8")
    document = {
        "schema": LEADERBOARD_SCHEMA,
        "title": title,
        "rows": [_row_json(en) for en in entries],
        "pairs": [_pair_json(p) for p in pairs],
        "training_runs": training,
    }
    paths[2].write_text(json.dumps(document, indent=1, default=str), encoding="utf-8")
    for task in sorted({en.task for en in entries}):
        rows = [en for en in entries if en.task == task]
        names: list[str] = []
        for en in rows:
            names += [m for m in en.metrics if m not in names]
        table: list[list[Any]] = [["metric", "statistic", *(en.label for en in rows)]]
        for name in names:
            for stat in ("value", "ci95_lo", "ci95_hi", "n"):
                cells = []
                for en in rows:
                    m = en.metrics.get(name, {})
                    ci = m.get("ci95") or [None, None]
                    cells.append({"value": m.get("value"), "ci95_lo": ci[0], "ci95_hi": ci[1], "n": m.get("n")}[stat])
                table.append([name, stat, *("" if c is None else c for c in cells)])
        _write_csv(output / f"task-{_slug(task)}.csv", table)
        (output / f"task-{_slug(task)}.json").write_text(
            json.dumps([_row_json(en) for en in rows], indent=1, default=str), encoding="utf-8"
        )
        task_pairs = [_pair_json(p) for p in pairs if p.a.task == task]
        labels = {en.key: en.label for en in rows}
        pair_header = "a b n_common difference bootstrap_lo bootstrap_hi newcombe_lo newcombe_hi mcnemar_p significant".split()
        pair_rows: list[list[Any]] = [pair_header]
        for p in task_pairs:
            boot, newc = p["bootstrap_ci95"] or ["", ""], p["newcombe_ci95"] or ["", ""]
            pair_rows.append(
                [
                    labels[p["a"]],
                    labels[p["b"]],
                    p["n_common"],
                    p["difference"],
                    *boot,
                    *newc,
                    "" if p["mcnemar_p"] is None else p["mcnemar_p"],
                    p["significant"],
                ]
            )
        _write_csv(output / f"pairs-{_slug(task)}.csv", pair_rows)
    return paths


def _training_section(training: list[dict]) -> str:
    if not training:
        return ""
    items = "".join(
        f'<figure><img src="{e(t["picture"])}" alt="{e("curves of " + t["run"])}"><figcaption>{e(t["run"])}</figcaption></figure>'
        for t in training
    )
    return f'<section id="training"><h2>Training runs</h2><p>Every evaluated column of each run\'s metrics.csv against the step; phases as vertical lines.</p>{items}</section>'


def write_site(entries: list[Entry], output: Path, title: str, training_runs: tuple[Path, ...] = ()) -> list[Path]:
    """Write the site under `output` and return the main files written (index.html first)."""
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    for name in ("site.css", "site.js"):
        shutil.copyfile(STATIC / name, output / name)
    warnings = []
    identities: dict[tuple, int] = {}
    for en in entries:
        identities[en.identity] = identities.get(en.identity, 0) + 1
    if any(n > 1 for n in identities.values()):
        warnings.append(
            "Some rows come from several runs of the same model, steering and task arguments; each run is its own row, labelled by its folder."
        )
    pairs: dict[tuple[str, str], Pair] = {}
    ordered_pairs: list[Pair] = []
    tasks = {
        task: sorted((en for en in entries if en.task == task), key=lambda en: (en.group, -_value(en)))
        for task in sorted({en.task for en in entries})
    }
    for rows in tasks.values():
        for i, a in enumerate(rows):
            for b in rows[i + 1 :]:
                x, y = sorted((a, b), key=lambda en: en.key)
                pair = pairs[(x.key, y.key)] = pairs[(y.key, x.key)] = compare(x, y)
                ordered_pairs.append(pair)
    mark_best_and_ties(entries, pairs)
    for pair in ordered_pairs:
        (output / f"compare-{pair.a.key}-{pair.b.key}.html").write_text(_compare_page(pair, title), encoding="utf-8")
    for task, rows in tasks.items():
        pictures = []
        if plot_headlines(rows, output / f"task-{_slug(task)}.png"):
            pictures.append((f"task-{_slug(task)}.png", f"{task}: headline per row with its 95% interval"))
        plane = rows[0].control_drift
        if plane and plot_control_drift(rows, *plane, output / f"plane-{_slug(task)}.png"):
            pictures.append((f"plane-{_slug(task)}.png", f"{task}: {plane[0]} against {plane[1]} per row"))
        (output / f"task-{_slug(task)}.html").write_text(_task_page(task, rows, pairs, title, pictures), encoding="utf-8")
    for en in entries:
        (output / f"entry-{en.key}.html").write_text(_entry_page(en, title), encoding="utf-8")
        _write_samples(en, output / "data" / en.key)
    training = []
    for k, folder in enumerate(training_runs):
        if plot_training_run(folder, output / f"training-{k}.png"):
            training.append({"run": str(folder), "picture": f"training-{k}.png"})
    index = output / "index.html"
    index.write_text(_overview(entries, title, warnings, _training_section(training)), encoding="utf-8")
    return [index, *_write_tables(entries, ordered_pairs, training, output, title)]
