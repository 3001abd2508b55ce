"""`harness export lm-eval RUN_DIR`: a run directory as lm-eval 0.4 writes its own
results, so pipelines built on lm-eval's files read harness runs unchanged.

`results_<date>.json` holds, per task, every metric as `"<metric>,none"` with
`"<metric>_stderr,none"` (the 95% interval's half-width / 1.96) and the interval
itself as `"<metric>_ci95,none"`, plus `configs`, `versions`, `n-samples`,
`config`, `git_hash` and `date`; `samples_<task>_<date>.jsonl` holds one line
per sample. Writing needs no lm-eval install.
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

from harness.store import read_finished_run, write_json_atomic

Z95 = 1.959963984540054


def _metric_name(name: str) -> str:
    return name.replace("/", "_")  # lm-eval keys are "<metric>,<filter>": no slashes


def export_lm_eval(run_dir: Path, output: Path) -> list[Path]:
    run = read_finished_run(run_dir)
    run_dir, output, config, results = run.path, Path(output), run.config, run.results
    created = _dt.datetime.fromisoformat(config["created"])
    stamp = created.strftime("%Y-%m-%dT%H-%M-%S.%f")
    identity = config.get("identity", {})
    out: dict = {
        "results": {},
        "configs": {},
        "versions": {},
        "n-shot": {},
        "higher_is_better": {},
        "n-samples": {},
        "config": {
            "model": "harness",
            "model_args": f"spec={identity.get('model')}",
            "limit": identity.get("limit"),
            "random_seed": identity.get("seed"),
        },
        "git_hash": (config.get("git_revision") or "")[:7] or None,
        "date": created.timestamp(),
        "harness": {"run_dir": str(run_dir), "model": config.get("model"), "roles": config.get("roles", {})},
    }
    for task, summary in results["tasks"].items():
        entry: dict = {"alias": task}
        for name, metric in summary["metrics"].items():
            key, ci = _metric_name(name), metric["ci95"]
            entry[f"{key},none"] = metric["value"]
            entry[f"{key}_stderr,none"] = (ci[1] - ci[0]) / (2 * Z95) if ci else "N/A"
            entry[f"{key}_ci95,none"] = ci
        out["results"][task] = entry
        out["configs"][task] = {
            "task": task,
            "description": config["tasks"][task].get("description", ""),
            "metadata": {"harness_args": summary["args"], "data_sha256": config["tasks"][task]["data_sha256"]},
        }
        out["versions"][task] = config.get("versions", {}).get("harness")
        out["n-shot"][task] = 0
        out["higher_is_better"][task] = {}
        out["n-samples"][task] = {"original": summary["n_samples"], "effective": summary["n"]}
    output.mkdir(parents=True, exist_ok=True)
    paths = [output / f"results_{stamp}.json"]
    write_json_atomic(paths[0], out)
    records = run.records()
    for task, summary in results["tasks"].items():
        path = output / f"samples_{task}_{stamp}.jsonl"
        headline = _metric_name(summary.get("headline", "accuracy"))
        with open(path, "w", encoding="utf-8") as f:
            for doc_id, rec in enumerate(r for (name, _), r in records.items() if name == task):
                texts = [d.get("text") for d in rec.responses if d.get("type") == "generation"]
                line = {
                    "doc_id": doc_id,
                    "doc": {"id": rec.id},
                    "target": rec.target,
                    "arguments": {},
                    "resps": [texts or [d.get("logprob") for d in rec.responses]],
                    "filtered_resps": [rec.answer],
                    headline: rec.score,
                    "harness": {"error": rec.error, "explanation": rec.explanation},
                }
                f.write(json.dumps(line, ensure_ascii=False, default=str) + "\n")
        paths.append(path)
    return paths
