"""Labelled responses for `halu_detect`: one item per (question, response, label).

`label` is 1 for a hallucinated response and 0 for a correct one. `group`
ties together the responses to one question (HaluEval QA and TruthfulQA give
a right and a wrong answer each), so few-shot demonstrations never show the
sibling of the item being judged. Items come in a fixed shuffled order of
groups, so `--limit N` takes a mix of both labels.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from harness.api import HarnessError
from harness.io import read_jsonl

DATA = Path(__file__).parent / "data"
FELM_FILES = ("felm_all.jsonl", "all.jsonl")


@dataclass(frozen=True)
class DetectItem:
    id: str
    question: str
    response: str
    label: int  # 1 = hallucinated
    group: str
    knowledge: str | None = None


def _halueval_general() -> list[DetectItem]:
    return [
        DetectItem(f"general-{n:04d}", row["user_query"], row["chatgpt_response"], int(row["hallucination"] == "yes"), f"general-{n:04d}")
        for n, row in enumerate(read_jsonl(DATA / "halueval_general.jsonl.gz"), 1)
    ]


def _halueval_qa() -> list[DetectItem]:
    items = []
    for n, row in enumerate(read_jsonl(DATA / "halueval_qa_one_turn_500.jsonl.gz")):
        group = f"qa-{n:03d}"
        items.append(DetectItem(f"{group}-right", row["question"], row["right_answer"], 0, group, row["knowledge"]))
        items.append(DetectItem(f"{group}-hallucinated", row["question"], row["hallucinated_answer"], 1, group, row["knowledge"]))
    return items


def _truthfulqa() -> list[DetectItem]:
    """The best answer (correct) and the first listed incorrect answer of each question."""
    items = []
    for n, row in enumerate(read_jsonl(DATA / "truthfulqa.jsonl.gz")):
        group = f"tqa-{n:03d}"
        wrong = row["Incorrect Answers"].split(";")[0].strip()
        items.append(DetectItem(f"{group}-best", row["Question"], row["Best Answer"], 0, group))
        items.append(DetectItem(f"{group}-incorrect", row["Question"], wrong, 1, group))
    return items


def _felm(data_dir: str | None) -> list[DetectItem]:
    """FELM responses; a response is hallucinated when any segment is labelled False (a factual error)."""
    if not data_dir:
        raise HarnessError(
            "dataset=felm is CC BY-NC-SA 4.0 and not shipped; download hkust-nlp/felm's all.jsonl and pass --task-arg data_dir=DIR"
        )
    path = Path(data_dir)
    if path.is_dir():
        path = next((path / f for f in FELM_FILES if (path / f).exists()), path / FELM_FILES[0])
    items = []
    for row in read_jsonl(path):
        if not {"index", "prompt", "response", "labels"} <= set(row):
            raise HarnessError(f"{path}: a row lacks index/prompt/response/labels; pass FELM's all.jsonl as data_dir")
        hallucinated = any(label is False for label in row["labels"])
        items.append(DetectItem(f"felm-{row['index']}", row["prompt"], row["response"], int(hallucinated), f"felm-{row['index']}"))
    return items


def load_items(dataset: str, data_dir: str | None = None) -> list[DetectItem]:
    loaders = {"halueval_general": _halueval_general, "halueval_qa": _halueval_qa, "truthfulqa": _truthfulqa}
    items = _felm(data_dir) if dataset == "felm" else loaders[dataset]()
    groups = list(dict.fromkeys(i.group for i in items))
    random.Random(f"halu_detect:{dataset}").shuffle(groups)
    rank = {g: n for n, g in enumerate(groups)}
    return sorted(items, key=lambda i: rank[i.group])
