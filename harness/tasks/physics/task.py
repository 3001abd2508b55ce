"""The `physics` task: PHYSICS (yale-nlp, 2025) with the sandboxed SymPy checker."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np

from harness.api import GenerateRequest, HarnessError, ModelRole, Response, Sample, Score, Task
from harness.checker import SANDBOX_STATUS, CheckerPool, max_bipartite_matching, verify
from harness.checker.compare import check_exact
from harness.checker.reading import (
    MAX_BOXES,
    STATED,
    AnswerPart,
    BoxReading,
    Definition,
    MatchResult,
    PartMatch,
    candidate_parts,
    lhs_key,
    match_parts,
    read_answers,
    response_definitions,
    stated_equations,
)
from harness.checker.units import is_unit
from harness.metrics import Metric, count_metric, mean_metric, proportion_metric, ratio_metric, statistic_metric
from harness.record import SampleRecord
from harness.registry import register_task
from harness.tasks.physics.judge import judge_request, parse_judge_reply
from harness.tasks.physics.loader import DOMAINS, Problem, load_directory, load_packaged
from harness.tasks.physics.prompt import build_messages
from harness.tasks.physics.scoring import PairCheck, decided_without_judge, paper_matched_boxes, unjudged_gold


@dataclass(frozen=True)
class PhysicsArgs:
    split: Literal["validation", "test", "all"] = "test"  # the benchmark's split
    modality: Literal["text", "all"] = "text"  # all: problems with figures too (needs data_dir)
    domain: Literal["all", "atomic", "electro", "mechanics", "optics", "quantum", "statistics"] = "all"
    scoring: Literal["strict", "paper"] = "strict"  # strict: gold answers matched one-to-one; paper: the official formula
    rel_tol: float = 0.01  # relative tolerance of numeric comparisons
    timeout_s: float = 5.0  # per check, in the sandbox
    data_dir: str | None = None  # a PHYSICS checkout instead of the packaged copy
    max_tokens: int = 8192  # generation budget per problem
    max_boxes: int = MAX_BOXES  # boxes read per response (the last ones)
    workers: int = 2  # sandbox worker processes

    def __post_init__(self):
        if not 0 < self.rel_tol < 1:
            raise HarnessError(f"rel_tol={self.rel_tol} is out of range; give a relative tolerance such as 0.01")
        if self.timeout_s <= 0:
            raise HarnessError(f"timeout_s={self.timeout_s} must be positive (seconds per check)")
        if self.max_boxes < 1 or self.workers < 1 or self.max_tokens < 1:
            raise HarnessError("max_boxes, workers and max_tokens must be at least 1")


@register_task
class PhysicsTask(Task):
    name = "physics"
    description = "PHYSICS (yale-nlp 2025): 1,297 university physics problems, boxed LaTeX answers, sandboxed SymPy checker."
    Args = PhysicsArgs
    roles = (
        ModelRole(
            "judge",
            "decides the gold answers SymPy cannot (words, unreadable answers), with the question in view",
            requires=frozenset({"generate", "structured_output"}),
        ),
    )

    def __init__(self, args: PhysicsArgs | None = None):
        super().__init__(args)
        if self.args.modality == "all":
            if self.args.data_dir is None:
                raise HarnessError(
                    "modality=all needs the figures, which the packaged copy lacks; add --task-arg data_dir=<PHYSICS folder>"
                )
            self.requires = frozenset({"generate", "images"})
        self._problems: list[Problem] | None = None
        self._pool: CheckerPool = self.own(CheckerPool(workers=self.args.workers))

    # ------------------------------------------------------------ data

    def problems(self) -> list[Problem]:
        if self._problems is None:
            if self.args.data_dir is not None:
                loaded = load_directory(self.args.data_dir, with_images=self.args.modality == "all")
            else:
                loaded = load_packaged()
            self._problems = [
                p
                for p in loaded
                if (self.args.split == "all" or p.split == self.args.split)
                and (self.args.domain == "all" or p.domain == self.args.domain)
                and (self.args.modality == "all" or p.n_images == 0)
            ]
        return self._problems

    def samples(self):
        for p in self.problems():
            yield Sample(
                id=p.id,
                input=build_messages(p.question, p.image_paths),
                target=list(p.final_answers),
                # the data set's own text of each gold answer it cuts off (completed from the worked solution)
                metadata={"domain": p.domain, "split": p.split, "question": p.question, "cut_off_gold": [list(c) for c in p.completed]},
            )

    def requests(self, sample: Sample):
        return [GenerateRequest(prompt=sample.input, max_tokens=self.args.max_tokens, temperature=0.0)]

    # ------------------------------------------------------------ scoring

    def _check_pairs(self, jobs: list[tuple[str, str, tuple[str, ...]]]) -> list[tuple[bool | None, str, str]]:
        """Verify (gold, candidate, the response's definitions) in the sandbox; identical jobs are checked once."""
        unique = list(dict.fromkeys(jobs))
        exact = {job: check_exact(job[0], job[1]) for job in unique}
        todo = [job for job in unique if exact[job] is None]
        outcomes = self._pool.map(verify, [(g, c, self.args.rel_tol, d) for g, c, d in todo], timeout_s=self.args.timeout_s)
        verdicts = {job: (v.equal, v.method, v.detail) for job, v in exact.items() if v is not None}
        for job, outcome in zip(todo, outcomes):
            if outcome.status == "ok":
                v = outcome.value
                verdicts[job] = (v.equal, v.method, v.detail)
            else:
                verdicts[job] = (None, SANDBOX_STATUS[outcome.status], outcome.error or "")
        return [verdicts[j] for j in jobs]

    def _judge_undecided(self, samples: Sequence[Sample], todo: list[tuple[int, PairCheck, str]]) -> None:
        """Ask the judge about (sample, check, candidate) pairs SymPy left undecided."""
        judge = self.role("judge")
        if judge is None or not todo:
            return
        requests = [judge_request(samples[i].metadata["question"], samples[i].target[c.gold], cand) for i, c, cand in todo]
        replies = judge.generate(requests, [samples[i].id for i, _, _ in todo])
        for (_, check, _), reply in zip(todo, replies):
            verdict, reason = parse_judge_reply(reply.text if reply.error is None else None)
            if reply.error is not None:
                reason = f"judge error: {reply.error}"
            if verdict is not None:
                check.detail = f"judge ({reason}); checker said {check.method}: {check.detail}"
                check.equal, check.method = verdict, "judge"
            else:
                check.detail = f"unjudged: {reason}; checker said {check.method}: {check.detail}"

    def score_batch(self, samples: Sequence[Sample], responses: Sequence[Sequence[Response]]) -> list[Score]:
        """Read every response into answer parts, check each part against each
        gold answer in the sandbox (with the response's own shorthands), match
        one-to-one; offer the gold answers no box answers the results the response
        states outside its boxes; the judge (if any) is asked only about gold
        answers SymPy left unmatched and undecided."""
        read = [read_answers(r[0].text or "", self.args.max_boxes) for r in responses]
        parts = [candidate_parts(boxes, len(s.target)) for s, boxes in zip(samples, read)]
        definitions = [response_definitions(r[0].text or "") for r in responses]
        jobs, owners = [], []
        for i, (s, ps) in enumerate(zip(samples, parts)):
            for k, part in enumerate(ps):
                for g, gold in enumerate(s.target):
                    jobs.append((gold, part.latex, _used_in(part.latex, definitions[i])))
                    owners.append((i, k, g))
        per_sample: list[list[PairCheck]] = [[] for _ in samples]
        for (i, k, g), (equal, method, detail) in zip(owners, self._check_pairs(jobs)):
            per_sample[i].append(PairCheck(k, parts[i][k].box, g, equal, method, detail))
        matched = [self._match(s, boxes, ps, checks) for s, boxes, ps, checks in zip(samples, read, parts, per_sample)]
        stated = self._stated_matches(samples, responses, parts, matched, per_sample, definitions)
        matched = [_with_stated(m, st) for m, st in zip(matched, stated)]
        if self.role("judge") is not None:
            todo: list[tuple[int, PairCheck, str]] = []
            for i, checks in enumerate(per_sample):
                answered = {m.gold for m in matched[i].matches}
                used = set(matched[i].parts)
                todo.extend(
                    (i, c, parts[i][c.part].latex)
                    for c in checks
                    if c.equal is None and c.gold not in answered and parts[i][c.part] in used
                )
            self._judge_undecided(samples, todo)
            matched = [self._match(s, boxes, ps, checks) for s, boxes, ps, checks in zip(samples, read, parts, per_sample)]
            matched = [_with_stated(m, st) for m, st in zip(matched, stated)]
        return [self._score_one(*args) for args in zip(samples, read, parts, per_sample, matched)]

    def _stated_matches(
        self,
        samples: Sequence[Sample],
        responses: Sequence[Sequence[Response]],
        parts: list[list[AnswerPart]],
        matched: list[MatchResult],
        per_sample: list[list[PairCheck]],
        definitions: list[tuple[Definition, ...]],
    ) -> list[list[PartMatch]]:
        """Gold answers no box answers, against the results the response states in
        its prose (`stated_equations`), as a careful grader reads a response whose box
        leaves parts out. A statement answers one only when SymPy finds it equal and
        it states the gold's own quantity (same left-hand side) or the same formula
        under another name (as a box may: `relation_lhs_differs`; checked only for
        statements on the same symbols); one statement per gold answer, and a
        statement never rejects anything; a number under another name counts only when
        that name is the gold's with a subscript added or left off
        (`_is_number`); a statement from a sub-question's own
        section ("### Part (b)") answers that sub-question's gold answer only. Accepted statements join `parts` and their
        deciding checks join `per_sample`."""
        jobs, owners = [], []
        statements: list[list[AnswerPart]] = []
        for i, (sample, response) in enumerate(zip(samples, responses)):
            answered = {m.gold for m in matched[i].matches}
            open_gold = {g: key for g in range(len(sample.target)) if g not in answered and (key := lhs_key(sample.target[g]))}
            found = stated_equations(response[0].text or "", matched[i].parts) if open_gold else []
            statements.append(found)
            gold_labels = question_labels(sample.metadata["question"], len(sample.target))
            for k, statement in enumerate(found):
                for g, key in open_gold.items():
                    if statement.label is not None and (gold_labels is None or gold_labels[g] != statement.label):
                        continue  # a statement of part (b) answers part (b) only
                    if _name_head(key) == _name_head(lhs_key(statement.latex) or "") or _same_symbols(sample.target[g], statement.latex):
                        jobs.append((sample.target[g], statement.latex, _used_in(statement.latex, definitions[i])))
                        owners.append((i, k, g))
        accepted: list[dict[tuple[int, int], tuple[str, str]]] = [{} for _ in samples]
        for (i, k, g), (equal, method, detail) in zip(owners, self._check_pairs(jobs)):
            statement = statements[i][k].latex
            renamed_number = method == "relation_lhs_differs" and _is_number(statement.split("=")[-1])
            if renamed_number and _subscript_added(lhs_key(samples[i].target[g]) or "", lhs_key(statement) or ""):
                renamed_number = False  # T for T_max, I_z for I: the gold's quantity with a subscript added or left off
            if (
                equal is True
                and not renamed_number
                and (method in ("exact", "relation_lhs_differs") or detail.startswith("same left-hand side"))
            ):
                accepted[i][(g, k)] = (method, detail)
        out: list[list[PartMatch]] = []
        for i, found in enumerate(statements):
            golds = sorted({g for g, _ in accepted[i]})
            pairs = max_bipartite_matching([[(g, k) in accepted[i] for k in range(len(found))] for g in golds])
            stated_i = []
            for row, k in sorted(pairs.items()):
                g = golds[row]
                method, detail = accepted[i][(g, k)]
                per_sample[i].append(PairCheck(len(parts[i]), STATED, g, True, method, detail))
                parts[i].append(found[k])
                stated_i.append(PartMatch(g, found[k], "stated in the response"))
            out.append(stated_i)
        return out

    @staticmethod
    def _match(sample: Sample, boxes: list[BoxReading], parts: list[AnswerPart], checks: list[PairCheck]) -> MatchResult:
        index = {p: k for k, p in enumerate(parts)}
        equal = {(c.gold, c.part) for c in checks if c.equal is True}
        open_ = {(c.gold, c.part) for c in checks if c.equal is None}
        return match_parts(
            boxes,
            len(sample.target),
            lambda g, part: (g, index[part]) in equal,
            undecided=lambda g, part: (g, index[part]) in open_,
            gold_labels=question_labels(sample.metadata["question"], len(sample.target)),
        )

    def _score_one(
        self, sample: Sample, boxes: list[BoxReading], parts: list[AnswerPart], checks: list[PairCheck], result: MatchResult
    ) -> Score:
        n_gold = len(sample.target)
        index = {p: k for k, p in enumerate(parts)}
        deciding = {(c.gold, c.part): c for c in checks if c.equal is True}
        deciding_check = {m.gold: deciding[(m.gold, index[m.part])] for m in result.matches}
        matches = [
            {
                "gold": m.gold,
                "part": index[m.part],
                "box": None if m.part.box == STATED else m.part.box,
                "reading": m.reading,
                "label": m.part.label,
                "method": deciding_check[m.gold].method,
                "detail": deciding_check[m.gold].detail,
            }
            for m in sorted(result.matches, key=lambda m: m.gold)
        ]
        # only the readings used count: a box read as three parts is not undecided because it is unreadable whole
        used = {index[p] for p in result.parts}
        checks_used = [c for c in checks if c.part in used]
        unjudged = unjudged_gold(n_gold, checks_used, set(deciding_check))
        decided = decided_without_judge(n_gold, checks_used, {g: c.method for g, c in deciding_check.items()}, unjudged)
        unsplit = [[index[p] for name in ("whole", "as written") for p in b.readings.get(name, ())] for b in boxes]
        paper_matched = paper_matched_boxes(unsplit, checks)
        fraction = len(matches) / n_gold if n_gold else 0.0
        paper_score = paper_matched / len(boxes) if boxes else 0.0
        value = fraction if self.args.scoring == "strict" else paper_score
        if not boxes:
            explanation = "no \\boxed{} answer and no final-answer statement found"
        else:
            found = (
                f"{len(boxes)} boxes" if all(b.origin.startswith("boxed") for b in boxes) else f"{len(boxes)} answers ({boxes[0].origin})"
            )
            explanation = (
                f"{len(matches)}/{n_gold} gold answers matched one-to-one by {len(parts)} answer parts of {found} ("
                + (
                    ", ".join(
                        f"gold {m.gold}<-{'stated' if m.part.box == STATED else f'box {m.part.box}'}"
                        f"{f' ({m.part.label})' if m.part.label else ''} by {deciding_check[m.gold].method}"
                        for m in sorted(result.matches, key=lambda m: m.gold)
                    )
                    or "none"
                )
                + f"); paper formula {paper_matched}/{len(boxes)} boxes; scored {self.args.scoring}"
            )
        return Score(
            value=value,
            answer=[p.latex for p in parts],
            explanation=explanation,
            fields={
                "domain": sample.metadata["domain"],
                "n_gold": n_gold,
                "n_boxes": len(boxes),
                "boxes": [{"content": b.content, "origin": b.origin, "reading": result.readings.get(b.index, "whole")} for b in boxes],
                "parts": [{"latex": p.latex, "box": p.box, "label": p.label, "words": p.words} for p in parts],
                "gold_matched": len(matches),
                "answer_fraction": fraction,
                "all_correct": len(matches) == n_gold,
                "paper_score": paper_score,
                "matches": matches,
                "checks": [c.to_json() for c in checks],
                "n_checks": len(checks),
                "n_timeouts": sum(c.method == "timeout" or "checker said timeout" in c.detail for c in checks),
                "n_parse_failures": sum(
                    c.method in ("parse_failure", "verbal") or "checker said parse_failure" in c.detail or "checker said verbal" in c.detail
                    for c in checks
                ),
                "n_judged": sum(c.method == "judge" for c in checks),
                "unjudged_gold": unjudged,
                "unjudged": bool(unjudged),  # the core's per-sample mark (leaderboard drill-down)
                "decided_without_judge": decided,
                "gold_completed_from_solution": [index for index, _ in sample.metadata.get("cut_off_gold", [])],
            },
        )

    # ------------------------------------------------------------ metrics

    def aggregate(self, records: list[SampleRecord]) -> dict[str, Metric]:
        metrics: dict[str, Metric] = {}
        if not records:
            return {"accuracy": mean_metric([])}
        metrics["accuracy"] = mean_metric([r.score for r in records])
        metrics.update(_accuracy_metrics(records, ""))
        metrics["paper_accuracy"] = mean_metric([r.fields["paper_score"] for r in records])
        diffs = [r.fields["paper_score"] - r.fields["answer_fraction"] for r in records]
        metrics["paper_minus_answer_fraction"] = statistic_metric(np.array(diffs), np.mean)  # a difference: can be < 0
        for domain in DOMAINS:
            subset = [r for r in records if r.fields["domain"] == domain]
            if subset:
                metrics.update(_accuracy_metrics(subset, f"/{domain}"))
        n_checks = sum(r.fields["n_checks"] for r in records)
        n_gold = sum(r.fields["n_gold"] for r in records)
        metrics["timeouts"] = count_metric(sum(r.fields["n_timeouts"] for r in records), n_checks)
        metrics["parse_failures"] = count_metric(sum(r.fields["n_parse_failures"] for r in records), n_checks)
        metrics["judged"] = count_metric(sum(r.fields["n_judged"] for r in records), n_checks)
        metrics["unjudged"] = count_metric(sum(len(r.fields["unjudged_gold"]) for r in records), n_gold)
        metrics["decided_without_judge"] = count_metric(sum(r.fields["decided_without_judge"] for r in records), n_gold)
        metrics["no_boxed_answer"] = count_metric(sum(r.fields["n_boxes"] == 0 for r in records), len(records))
        return metrics


def _with_stated(result: MatchResult, stated: list[PartMatch]) -> MatchResult:
    """The box matching plus the stated results that answer gold answers it leaves open."""
    answered = {m.gold for m in result.matches}
    extra = tuple(m for m in stated if m.gold not in answered)
    return MatchResult(result.matches + extra, result.readings, result.parts + tuple(m.part for m in extra))


def _used_in(latex: str, definitions: tuple[Definition, ...]) -> tuple[str, ...]:
    """The definitions whose name a candidate mentions (the checker decides which it may use)."""
    return tuple(d.equation for d in definitions if d.name in latex)


_LAYOUT = frozenset("frac dfrac tfrac left right cdot times quad qquad text mathrm mathbf vec hat bm boldsymbol big Big".split())


def _symbol_tokens(latex: str) -> frozenset[str]:
    return frozenset(t for t in re.findall(r"\\([A-Za-z]+)|([A-Za-z])", latex) for t in t if t and t not in _LAYOUT)


def _is_number(value: str) -> bool:
    """A value that is a number, with or without its unit (``300 K``, ``10^4 \\, \\text{J/K}``).
    Under another name than the gold's, a number in the prose is often a given or an
    intermediate value (the initial ``T_1 = 300 K`` against the final ``T_f = 302 K``,
    ``C_v`` against ``C_p``, a ``0`` of another quantity), not the result: it counts only
    under the gold's own name, or that name with a subscript added or left off."""
    tokens = _symbol_tokens(re.sub(r"\\(?:text|mathrm|rm)\s*\{[^{}]*\}", " ", value))
    return bool(re.search(r"\d", value)) and (not tokens or is_unit(" ".join(sorted(tokens))))


def _subscript_added(gold_key: str, statement_key: str) -> bool:
    """``T`` and ``T_{max}``, ``I_z`` and ``I``: one name is the other with a subscript; two
    different subscripts (``T_1``, ``T_f``) are two quantities."""
    g, c = gold_key.split("_", 1), statement_key.split("_", 1)
    return g[0] == c[0] and (len(g) == 1) != (len(c) == 1)


def _same_symbols(gold: str, statement: str) -> bool:
    """A statement under another name worth checking against a gold answer: the same
    letters and commands on both right-hand sides (``U_B' = \\frac{\\mu_0 I^2}{4\\pi}\\ln...``
    for ``\\frac{dW_m}{dz} = ...``)."""
    g, c = (_symbol_tokens(x.split("=")[-1]) for x in (gold, statement))
    return bool(g) and len(g & c) >= 0.8 * len(g | c)


def _name_head(key: str) -> str:
    """The first letter or command of a quantity's name: statements of ``p`` or ``p_{gas}`` are
    worth checking against a gold ``p = ...``, statements of ``T`` are not."""
    m = re.match(r"\\[A-Za-z]+|.", key.lstrip("("))
    return m.group(0) if m else ""


_QUESTION_LABEL = re.compile(r"(?m)(?:^|\s)\(([a-h])\)")


def question_labels(question: str, n_gold: int) -> list[str | None] | None:
    """The sub-question labels (a), (b), ... of a problem, one per gold answer, when the
    question has exactly as many as there are gold answers (the gold answers follow
    the sub-questions' order); None otherwise."""
    labels = list(dict.fromkeys(_QUESTION_LABEL.findall(question)))
    if labels != [chr(ord("a") + k) for k in range(len(labels))] or len(labels) != n_gold:
        return None
    return list(labels)


def _accuracy_metrics(records: list[SampleRecord], suffix: str) -> dict[str, Metric]:
    """answer_accuracy = matched gold answers / gold answers (bootstrap over
    problems); strict_accuracy = problems with every gold answer matched."""
    return {
        f"answer_accuracy{suffix}": ratio_metric([r.fields["gold_matched"] for r in records], [r.fields["n_gold"] for r in records]),
        f"strict_accuracy{suffix}": proportion_metric(sum(bool(r.fields["all_correct"]) for r in records), len(records)),
    }
