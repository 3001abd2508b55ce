"""The leaderboard site on a small and a large run, side by side: the time to build
the site, and in Chromium the time until an entry's first page of samples shows
(the page loads one shard) and until a search has read every shard; then the time
to build the site of ten runs of one task (2,000 samples each, 45 paired comparisons).
With --screenshots, pictures of the overview and of a drill-down of --site.

    python bench/leaderboard_site.py [--sizes 200,20000] [--chromium PATH] [--site SITE --screenshots DIR]

Needs playwright (`pip install playwright`) and a Chromium (`apt-get install chromium`).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from harness.leaderboards import build_site, read_entries
from harness.metrics import proportion_metric
from harness.record import SampleRecord
from harness.store import RunStore


def write_run(folder: Path, n: int, seed: int = 3) -> Path:
    """A finished run of n samples with ~300-character inputs and outputs, through the run store."""
    store = RunStore(folder)
    store.open({"tasks": {"synthetic": {"data_sha256": "0" * 64, "family": "synthetic"}}, "versions": {}}, {"limit": None}, False)
    text = "lorem ipsum dolor sit amet " * 11
    records = [
        SampleRecord(
            "synthetic", f"s{i:06d}", float(i % 3 == 0), None, str(i), "exact match", "0", f"{text} {i}", input=f"{text} question {i}"
        )
        for i in range(n)
    ]
    store.append(records)
    metric = proportion_metric(sum(int(r.score) for r in records), n).to_json()
    summary = {"metrics": {"accuracy": metric}, "n": n, "n_errors": 0, "n_samples": n, "args": {}, "headline": "accuracy"}
    store.write_results({"model": f"replay:synthetic{seed}.jsonl", "steering": None, "tasks": {"synthetic": summary}})
    store.close()
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="200,20000")
    parser.add_argument("--chromium", default=shutil.which("chromium") or shutil.which("chromium-browser"))
    parser.add_argument("--site", type=Path, help="A built site to take the screenshots of.")
    parser.add_argument("--screenshots", type=Path, help="Folder for overview.png and samples.png of --site.")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
        for n in sizes:
            run = write_run(Path(tmp) / f"run{n}", n)
            started = time.perf_counter()
            build_site([run], Path(tmp) / f"site{n}")
            build_s = time.perf_counter() - started
            key = read_entries([run])[0].key
            page = browser.new_page()
            page.goto((Path(tmp) / f"site{n}" / f"entry-{key}.html").as_uri())
            page.wait_for_selector("#samples[data-ready='1']", timeout=120_000)
            ready_ms = float(page.get_attribute("#samples", "data-ready-ms") or "nan")
            started = time.perf_counter()
            page.fill("input.search", f"s{n - 1:06d}")
            page.wait_for_function("document.querySelector('.info').textContent.startsWith('1 of')", timeout=120_000)
            search_s = time.perf_counter() - started
            size_mb = sum(f.stat().st_size for f in (Path(tmp) / f"site{n}").rglob("*") if f.is_file()) / 1e6
            rows.append((n, build_s, ready_ms, search_s, size_mb))
            page.close()
        ten = [write_run(Path(tmp) / f"ten{k}", 2000, seed=k + 1) for k in range(10)]
        started = time.perf_counter()
        build_site(ten, Path(tmp) / "site_ten")
        ten_s = time.perf_counter() - started
        if args.site and args.screenshots:
            screenshots(browser, args.site, args.screenshots)
        browser.close()
    print(f"{'samples':>8} {'build s':>8} {'first page ms':>14} {'search all s':>13} {'site MB':>8}")
    for n, build_s, ready_ms, search_s, size_mb in rows:
        print(f"{n:>8} {build_s:>8.2f} {ready_ms:>14.0f} {search_s:>13.2f} {size_mb:>8.1f}")
    (small, *_), (large, *_) = rows[0], rows[-1]
    print(f"\n{large} vs {small} samples: first page {rows[-1][2] / rows[0][2]:.2f}x, build {rows[-1][1] / rows[0][1]:.1f}x")
    print(f"ten runs of 2,000 samples of one task (45 paired comparisons): site built in {ten_s:.2f} s")


def screenshots(browser, site: Path, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto((site / "index.html").as_uri())
    page.screenshot(path=str(folder / "leaderboard_overview.png"), full_page=True)
    links = page.locator("#family-physics a[href^='entry-']")
    links = links if links.count() else page.locator("table.overview a[href^='entry-']")
    page.goto((site / str(links.first.get_attribute("href"))).as_uri() + "#filter=wrong")
    page.wait_for_selector("#samples[data-ready='1']")
    page.evaluate("document.getElementById('samples').scrollIntoView()")
    page.screenshot(path=str(folder / "leaderboard_samples.png"))
    page.close()


if __name__ == "__main__":
    main()
