"""Answer reading on excerpts of real model outputs (the shipped published
outputs of PHYSICS and HARDMath): each box must yield the parts a careful
grader reads in it, and a single answer must never be split into wrong parts."""

from __future__ import annotations

import pytest

from harness.checker.latex import replace_unicode_math
from harness.checker.reading import STATED, match_parts, read_answers, stated_equations


def split_of(text: str) -> list[tuple[str | None, str]]:
    """(label, latex) of the finest reading of the last box."""
    box = read_answers(text)[-1]
    reading = box.readings.get("split+commas") or box.readings.get("split") or box.readings["whole"]
    return [(p.label, " ".join(p.latex.split())) for p in reading]


# (excerpt as published, the parts it must yield), from qwen2.5-72b-instruct and llama-3.1-8b-instruct
REAL_BOXES = [
    (  # atomic/1-47: aligned rows with \text{(a)} labels and & alignment
        "\\[\n\\boxed{\n\\begin{aligned}\n&\\text{(a)} & P_{100} &= 1 \\\\\n&\\text{(b)} & P_{200} &= 0 \\\\\n&\\text{(c)} & P_{210} &= 0\n\\end{aligned}\n}\n\\]",
        [("a", "P_{100} = 1"), ("b", "P_{200} = 0"), ("c", "P_{210} = 0")],
    ),
    (  # atomic/1-49: aligned rows, trailing commas and period, no labels
        "\\boxed{\n\\begin{aligned}\nE_{n, 1, -1}(B) &= -\\frac{2 k e^2 m_e}{\\hbar^2 n^2} - \\frac{e \\hbar B}{2 m_e}, \\\\\nE_{n, 1, 0}(B) &= -\\frac{2 k e^2 m_e}{\\hbar^2 n^2}, \\\\\nE_{n, 1, +1}(B) &= -\\frac{2 k e^2 m_e}{\\hbar^2 n^2} + \\frac{e \\hbar B}{2 m_e}.\n\\end{aligned}\n}",
        [
            (None, "E_{n, 1, -1}(B) = -\\frac{2 k e^2 m_e}{\\hbar^2 n^2} - \\frac{e \\hbar B}{2 m_e}"),
            (None, "E_{n, 1, 0}(B) = -\\frac{2 k e^2 m_e}{\\hbar^2 n^2}"),
            (None, "E_{n, 1, +1}(B) = -\\frac{2 k e^2 m_e}{\\hbar^2 n^2} + \\frac{e \\hbar B}{2 m_e}"),
        ],
    ),
    (  # atomic/4-24: labels inside the text group keep the words in it
        "\\boxed{\\begin{array}{l}\n\\text{(a) Impossible} \\\\\n\\text{(b) Impossible} \\\\\n\\text{(c) Impossible}\n\\end{array}}",
        [("a", "\\text{Impossible}"), ("b", "\\text{Impossible}"), ("c", "\\text{Impossible}")],
    ),
    (  # atomic/1-44: headings dropped, rows and \quad separators
        "\\boxed{\\begin{array}{c}\n\\text{Hydrogen: } \\\\\nE_2 = -3.4 \\text{ eV}, \\quad E_3 = -1.51 \\text{ eV} \\\\\n\\\\\n\\text{Lithium: } \\\\\nE_2 = -2.92 \\text{ eV}\n\\end{array}}",
        [(None, "E_2 = -3.4 \\text{ eV}"), (None, "E_3 = -1.51 \\text{ eV}"), (None, "E_2 = -2.92 \\text{ eV}")],
    ),
    (  # mechanics/1_27: \quad \text{and} \quad
        "\\boxed{k_x > 0 \\quad \\text{and} \\quad k_y > 0}",
        [(None, "k_x > 0"), (None, "k_y > 0")],
    ),
    (  # the example: "and" between two results, a unit after a thin space
        "\\boxed{\\beta = \\frac{1}{3} \\quad \\text{and} \\quad E_0 = 96\\sqrt{2}\\,\\text{MeV}}",
        [(None, "\\beta = \\frac{1}{3}"), (None, "E_0 = 96\\sqrt{2}\\,\\text{MeV}")],
    ),
    (  # electro/2_22: cut off inside its last box; the written rows are read, labels too
        "### Final Answers\n\\[\n\\boxed{\n\\begin{aligned}\n&\\text{(a) } \\mathbf{B}(r) = \\frac{\\mu_0 I}{2\\pi r} \\\\\n&\\text{(b) } U",
        [("a", "\\mathbf{B}(r) = \\frac{\\mu_0 I}{2\\pi r}"), ("b", "U")],
    ),
    (  # statistics/1-23 (llama): a label after a tilde
        "\\boxed{~\\textbf{(a)}~T_s = T \\left(\\frac{1}{2}\\right)^{1/4}, ~\\textbf{(b)}~P_n = P_0\\cdot (\\frac{1}{2})^n}",
        [("a", "T_s = T \\left(\\frac{1}{2}\\right)^{1/4}"), ("b", "P_n = P_0\\cdot (\\frac{1}{2})^n")],
    ),
    (  # array rows "name &:& value"
        "\\boxed{\\begin{array}{rcl} \\text{(a)}\\quad E &:& 5 \\\\ \\text{(b)}\\quad F &:& 6 \\end{array}}",
        [("a", "E = 5"), ("b", "F = 6")],
    ),
    (  # statistics/1-15: a remark in parentheses after the value
        "\\boxed{T \\approx 753.57 \\, \\text{K} \\quad \\text{(for helium)}}",
        [(None, "T \\approx 753.57 \\, \\text{K}")],
    ),
    (  # a description before the value
        "\\boxed{\\text{Magnetic field: } B = 5 \\text{ T}}",
        [(None, "B = 5 \\text{ T}")],
    ),
    (  # quantum/8004: a leading \sim stays with the value (the parser reads it as the value alone)
        "\\boxed{\\sim 10^{27}}",
        [(None, r"\sim 10^{27}")],
    ),
    (  # labels without \text, commas between them
        "\\boxed{(a) 3, (b) 4}",
        [("a", "3"), ("b", "4")],
    ),
    (  # R = ..., \quad C = ...
        "\\boxed{R = 5 \\, \\Omega, \\quad C = 3 \\, \\mu\\text{F}}",
        [(None, "R = 5 \\, \\Omega"), (None, "C = 3 \\, \\mu\\text{F}")],
    ),
    (  # quantum/8001: a matrix keeps its columns and rows; they separate nothing
        "\\[\n\\boxed{U = \\begin{pmatrix} \\cos(a) & a \\sin(a) \\\\ -a \\sin(a) & \\cos(a) \\end{pmatrix}, \\quad E = 5}\n\\]",
        [(None, "U = \\begin{pmatrix} \\cos(a) & a \\sin(a) \\\\ -a \\sin(a) & \\cos(a) \\end{pmatrix}"), (None, "E = 5")],
    ),
]


@pytest.mark.parametrize("text,parts", REAL_BOXES, ids=[f"box{k}" for k in range(len(REAL_BOXES))])
def test_real_boxes_yield_the_parts_a_grader_reads(text, parts):
    assert split_of(text) == [(label, " ".join(latex.split())) for label, latex in parts]


def test_a_cases_block_read_whole_keeps_its_conditions():
    # mechanics/1_39: the whole reading is the cases answer, the split one its rows
    box = read_answers(
        r"\boxed{V(\mathbf{r}) = \begin{cases} \frac{1}{2} mv_1^2 & \text{for } r < a, \\ 0 & \text{for } r > a. \end{cases}}"
    )[0]
    assert [p.latex for p in box.readings["whole"]] == [
        r"V(\mathbf{r}) = \begin{cases} \frac{1}{2} mv_1^2 & \text{for } r < a, \\ 0 & \text{for } r > a. \end{cases}"
    ]
    assert [" ".join(p.latex.split()) for p in box.readings["split"]] == [r"V(\mathbf{r}) = \frac{1}{2} mv_1^2", "0"]


def test_whole_reading_is_always_offered_and_strips_labels_and_remarks():
    box = read_answers(r"\boxed{\text{(a)} x = 1}")[0]
    assert box.readings["whole"][0].latex == "x = 1" and box.readings["whole"][0].label == "a"
    box = read_answers(r"so \boxed{T \approx 753.57 \, \text{K} \quad \text{(for helium)}}")[0]
    assert box.readings["whole"][0].latex == r"T \approx 753.57 \, \text{K}"


def test_a_single_answer_is_not_split_for_a_single_gold():
    # "(x, y)" or "a, b" may be one answer: with one gold answer only the whole box is tried
    boxes = read_answers(r"\boxed{v = (3, 4) \text{ m/s}}")
    result = match_parts(boxes, 1, lambda g, part: part.latex == r"v = (3, 4) \text{ m/s}")
    assert [m.reading for m in result.matches] == ["whole"]
    result = match_parts(boxes, 1, lambda g, part: part.latex == "4) \\text{ m/s}")
    assert result.matches == ()


def test_matching_uses_the_reading_that_matches_most_gold_answers():
    boxes = read_answers(r"First \boxed{x = 1} then \boxed{a = 2 \quad \text{and} \quad b = 3}")
    golds = ["a = 2", "b = 3", "x = 1"]
    result = match_parts(boxes, 3, lambda g, part: part.latex == golds[g])
    assert len(result.matches) == 3 and result.readings == {0: "whole", 1: "split"}
    assert {m.gold: m.part.box for m in result.matches} == {0: 1, 1: 1, 2: 0}


def test_labels_break_ties_towards_the_gold_of_the_same_label():
    boxes = read_answers(r"\boxed{(a)\ v = 0 \quad (b)\ w = 0}")
    result = match_parts(boxes, 2, lambda g, part: True, gold_labels=["b", "a"])
    assert {m.gold: m.part.label for m in result.matches} == {0: "b", 1: "a"}


def test_boxes_without_backslash_and_final_answer_sections():
    # HARDMath's own spelling, copied by few-shot models (gpt3.5_0shot id 0)
    text = r"Therefore, the value of $\\epsilon$ is:" + "\n\n" + r"\[boxed{\epsilon = a_{2}^{\frac{5}{2}}}\]"
    (box,) = read_answers(text)
    assert box.origin == "boxed (no backslash)" and box.content == r"\epsilon = a_{2}^{\frac{5}{2}}"
    (box,) = read_answers("Work...\n\n**Final Answer:** $E = 13.6 \\text{ eV}$")
    assert box.origin == "final-answer section" and box.content == r"E = 13.6 \text{ eV}"
    (box,) = read_answers("### Final Answer\nThe energy is 1.6×10⁻¹⁹ J.")
    assert box.content == r"1.6\times 10^{-19} \text{J}"
    assert read_answers("We find E = 5 J, and more work remains") == []
    # "the answer is" opens a final-answer section too; a unit written after the math joins it
    (box,) = read_answers("So the answer is $v = 5\\text{ m/s}$.")
    assert box.origin == "final-answer section" and box.content == r"v = 5\text{ m/s}"
    boxes = read_answers("Work.\n\n### Final Answer\n- Part (a): $v = 5$ m/s\n- **Part B:** $t = 2$ s.\n- $x = 3$ in the end")
    # "in" is a word here, not inches; a line's label labels its math
    assert [[(p.label, p.latex) for p in b.readings["whole"]] for b in boxes] == [
        [("a", r"v = 5 \text{m/s}")],
        [("b", r"t = 2 \text{s}")],
        [(None, "x = 3")],
    ]
    # an empty box after "The final answer is:" (llama-3.1-8b atomic/3-52) answers nothing; an answer written
    # after one is the answer (llama-3.1-8b quantum/6015, mistral7b_0shot id 19)
    assert read_answers("Work.\n\nThe final answer is: \n\n$\\boxed{}$.") == []
    (box,) = read_answers("Work.\n\nThe final answer is: $boxed{}\\frac{2}{x}$")
    assert box.content == r"\frac{2}{x}"


def test_unicode_math_becomes_latex():
    assert replace_unicode_math("3.0×10⁸ m/s") == r"3.0\times 10^{8} m/s"
    assert replace_unicode_math("ħω") == r"\hbar \omega "
    assert replace_unicode_math("E₀ − 2") == "E_{0} - 2"


def test_hardmath_nested_regime_lists_and_labelled_boxes():
    from harness.tasks.hardmath.answers import regime_answers

    nested = r"\boxed{\left[ \left[1, -1, I, -I\right], \left[\epsilon^{-1/5}, 2\right] \right]}"
    assert regime_answers(nested, "roots", ("small", "large")) == {"small": ["1", "-1", "I", "-I"], "large": [r"\epsilon^{-1/5}", "2"]}
    labelled = r"For large $x$: \boxed{y = 2 x} and for small $x$: \boxed{y = 1 + x}"
    assert regime_answers(labelled, "ode", ("small", "large")) == {"small": "1 + x", "large": "2 x"}
    inside = r"\boxed{\text{large } x: y = 2, \quad \text{small } x: y = 1}"
    assert {k: v.split("=")[-1].strip() for k, v in regime_answers(inside, "ode", ("small", "large")).items()} == {
        "small": "1",
        "large": "2",
    }
    only_one = r"For small $x$: \boxed{y = 1 + x}"
    assert regime_answers(only_one, "ode", ("small", "large")) == {"small": "1 + x"}


# ------------------------------------------------------------------ whole published responses, end to end

# (model, problem): responses whose math gold answers the careful grader judged one by one; read whole, through
# the runner, each must be accepted exactly where the grade says correct (a split box, a renamed left-hand side,
# units, several boxes).
WHOLE_RESPONSES = [
    ("qwen2.5-72b", "electro/4_15"),  # one box split into labelled parts; only part (b) is right
    ("qwen2.5-72b", "electro/5_8"),  # two results in one box
    ("qwen2.5-72b", "quantum/3-3013"),  # two boxes, two gold answers
    ("qwen2.5-72b", "statistics/1-15"),  # the right value under another left-hand side name
    ("qwen2.5-72b", "mechanics/1_24"),  # a value in other units
    ("qwen2.5-72b", "quantum/2-2001"),  # part (b) stated in the prose only: \psi_{111}(x,y,z) = ...
    ("qwen2.5-72b", "electro/5_22"),  # part (a) stated in the prose only, (b) and (c) boxed and wrong
    ("qwen2.5-72b", "mechanics/1_43"),  # a gold answer whose braces the data set leaves open
    ("llama-3.1-8b", "atomic/3-26"),  # ratios \sigma_1 : \sigma_2 : \sigma_3 = 9 : 1 : 2, decided wrong
]


def _physics_folder(root, ids):
    """A PHYSICS data folder (the repository's layout) holding just the problems `ids`."""
    import json

    from harness.tasks.physics.loader import DOMAINS, load_packaged

    (root / "PHYSICS-eval").mkdir(parents=True)
    problems = [p for p in load_packaged() if p.id in set(ids)]
    for domain in DOMAINS:
        rows = [{"id": p.id, "questions": p.question, "final_answers": list(p.final_answers)} for p in problems if p.domain == domain]
        (root / f"{domain}_dataset.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        (root / "PHYSICS-eval" / f"{domain}_dataset_eval.jsonl").write_text("")
    return root


def test_whole_published_responses_are_graded_as_the_careful_grader_did(tmp_path):
    import json

    from harness.runner import RunConfig, run_eval
    from harness.tasks.physics.published import graded_problems, published_outputs

    grades = {(p.model, p.id): p for p in graded_problems()}
    for model in sorted({m for m, _ in WHOLE_RESPONSES}):
        ids = [pid for m, pid in WHOLE_RESPONSES if m == model]
        data = _physics_folder(tmp_path / f"data-{model}", ids)
        outputs = published_outputs(model)
        replay = tmp_path / f"{model}.jsonl"
        replay.write_text("".join(json.dumps({"id": i, "output": outputs[i]["output"]}) + "\n" for i in ids))
        out = tmp_path / model
        run = run_eval(
            RunConfig(
                model=f"replay:{replay}", tasks=["physics"], output=out, use_cache=False, task_args={"split": "all", "data_dir": str(data)}
            )
        )
        records = {r["id"]: r for r in map(json.loads, (out / "samples.jsonl").read_text().splitlines()) if r["id"] in ids}
        assert run.n_errors == 0 and set(records) == set(ids)
        for pid in ids:
            record = records[pid]
            accepted = {m["gold"] for m in record["fields"]["matches"]}
            assert all(isinstance(g, int) for g in accepted)
            for grade in grades[(model, pid)].grades:
                if grade.kind == "math" and grade.verdict != "unclear":
                    assert (grade.gold in accepted) == (grade.verdict == "correct"), (pid, grade, record["fields"]["matches"])
            assert all({"part", "box", "reading", "method", "detail"} <= set(m) for m in record["fields"]["matches"])


def test_hardmath_rows_matrices_and_program_text():
    from harness.checker.reading import is_program_text
    from harness.tasks.hardmath.answers import regime_answers, split_items

    # rows labelled by a limit (mistral7b_0shot id 136) and cases rows labelled in words (id 181)
    rows = r"\boxed{\begin{aligned} \epsilon \to 0^+ &: \sqrt{\epsilon}, -\sqrt[4]{3}\epsilon^{1/2}\\ \epsilon \to +\infty &: -1, 0, 1 \end{aligned}}"
    assert regime_answers(rows, "roots", ("small", "large")) == {
        "small": [r"\sqrt{\epsilon}", r"-\sqrt[4]{3}\epsilon^{1/2}"],
        "large": ["-1", "0", "1"],
    }
    cases = (
        r"\boxed{\begin{cases} \epsilon^{1/9}, & \text{for small positive $\epsilon$} \\ (1/\epsilon)^{1/9}, "
        r"& \text{for large positive $\epsilon$} \end{cases}}"
    )
    assert regime_answers(cases, "roots", ("small", "large")) == {"small": [r"\epsilon^{1/9}"], "large": [r"(1/\epsilon)^{1/9}"]}
    # matrices, sets and redundant braces are lists (mistral7b_5shot id 130, id 318; mistral7b_0shot id 140)
    assert split_items(r"\begin{bmatrix} \epsilon^{-1/10}, \\ 1, \\ -1 \end{bmatrix}") == [r"\epsilon^{-1/10}", "1", "-1"]
    assert split_items(r"\left\{ \frac{1}{\epsilon}, \frac{44}{\epsilon} \right\}") == [r"\frac{1}{\epsilon}", r"\frac{44}{\epsilon}"]
    assert split_items(r"{\sqrt[3]{-1/27\epsilon^3}}") == [r"\sqrt[3]{-1/27\epsilon^3}"]
    assert split_items("[a], [b]") == ["[a]", "[b]"]
    # a printed template is program code, a decided wrong answer (mistral7b_5shot id 279)
    assert is_program_text("' + str(I_approx) + '") and is_program_text("{{formula}}")
    assert not is_program_text(r"\frac{1}{\epsilon} + \sqrt{x}")


# qwen2.5-72b electro/2_22, shortened: the derivation states U_B' and L' in display math, the box only B(r)
DERIVATION = r"""
\[ U_B' = \int_{R_1}^{R_2} u_B(r) \cdot 2\pi r dr \]
\[ U_B' = \frac{\mu_0 I^2}{4\pi} \int_{R_1}^{R_2} \frac{dr}{r} \]
\[ U_B' = \frac{\mu_0 I^2}{4\pi} \ln\left(\frac{R_2}{R_1}\right) \]
Solving for \(L'\):
\[ L' = \frac{2 U_B'}{I^2} = \frac{\mu_0}{2\pi} \ln\left(\frac{R_2}{R_1}\right). \]
\[ \begin{aligned} E &= \frac{V}{r} \\ &= \frac{V}{r \ln(R_2/R_1)} \end{aligned} \] with $E < 1$ and $x \to 0$
\[ \Delta V = -\int_0^x v \frac{B_0 y}{a} dx' \]
\[ = -v \frac{B_0 xy}{a} \]
\[ \mathbf{B}(r) = \frac{\mu_0 I}{4\pi r} \]
\[ \boxed{\mathbf{B}(r) = \frac{\mu_0 I}{2\pi r}} \]
"""


def test_stated_equations_are_the_last_statement_of_each_quantity_outside_the_boxes():
    boxed = [p for b in read_answers(DERIVATION) for reading in b.readings.values() for p in reading]
    stated = {p.latex for p in stated_equations(DERIVATION, boxed)}
    assert r"U_B' = \frac{\mu_0 I^2}{4\pi} \ln\left(\frac{R_2}{R_1}\right)" in stated  # the last of three, not the integral
    assert r"L' = \frac{\mu_0}{2\pi} \ln\left(\frac{R_2}{R_1}\right)" in stated  # a chain read as its last side
    assert r"E = \frac{V}{r \ln(R_2/R_1)}" in stated  # an aligned "&=" row continues the row above
    assert r"\Delta V = -v \frac{B_0 xy}{a}" in stated  # and so does a display that starts with "="
    assert not any(s.startswith(r"\mathbf{B}") for s in stated)  # the box is the final word on B, not the prose
    assert not any("<" in s or r"\to" in s for s in stated)  # inequalities and limits are no results
    assert all(p.box == STATED for p in stated_equations(DERIVATION, boxed))
    assert stated_equations("no math at all") == []


def test_a_result_stated_in_the_prose_answers_a_gold_no_box_answers_and_never_rejects():
    from harness.api import Generation
    from harness.registry import create_task

    task = create_task("physics", {"split": "all"})
    try:
        sample = next(s for s in task.samples() if s.id == "electro/2_22")
        box = r"\boxed{\mathbf{B} = \frac{\mu_0 i}{2 \pi r} \mathbf{e_\theta}}"

        def score(prose):
            return task.score_batch([sample], [[Generation(prose + box)]])[0]

        # gold 2 is dW_m/dz = \frac{\mu_0 i^2}{4 \pi} \ln \frac{R_2}{R_1}: stated under its own name, it counts
        right = score(r"so \[ \frac{dW_m}{dz} = \int \ldots = \frac{\mu_0 i^2}{4 \pi} \ln \frac{R_2}{R_1} \] ")
        by_gold = {m["gold"]: m for m in right.fields["matches"]}
        assert set(by_gold) == {0, 2}
        assert by_gold[2]["reading"] == "stated in the response" and by_gold[2]["box"] is None
        assert "gold 2<-stated" in right.explanation
        # the same formula under another name counts too, as a box's would (relation_lhs_differs)
        renamed = {m["gold"]: m for m in score(r"\[ W' = \frac{\mu_0 i^2}{4 \pi} \ln \frac{R_2}{R_1} \] ").fields["matches"]}
        assert set(renamed) == {0, 2} and renamed[2]["method"] == "relation_lhs_differs"
        # a wrong statement rejects nothing new
        wrong = score(r"\[ \frac{dW_m}{dz} = \frac{\mu_0 i^2}{8 \pi} \ln \frac{R_2}{R_1} \] ")
        assert {m["gold"] for m in wrong.fields["matches"]} == {0}
        assert wrong.fields["unjudged_gold"] == score("").fields["unjudged_gold"]
    finally:
        task.close()


# qwen2.5-72b "Electricity and Magenetism/11-1", shortened: part (b) derives R, part (c) evaluates it, the box holds the number
SECTIONED = r"""
### Part (a): Intensity of the Input Current
\[ I_{\text{rms}} = \frac{q \omega}{\sqrt{2}}. \]

### Part (b): Real Part of Antenna Impedance
\[ R = \frac{\mu_0 (qd)^2 \omega^4}{6 \pi c \cdot q^2 \omega^2} = \frac{\mu_0 d^2 \omega^2}{6 \pi c}. \]
Finally, the real part of the antenna impedance is:
\[ R = \frac{2\pi}{3} \sqrt{\frac{\mu_0}{\epsilon_0}} \left( \frac{d}{\lambda} \right)^2. \]

### Part (c): Numerical Value for \( d = 0.3\lambda \)
\[ R = \frac{2\pi}{3} \cdot 377 \cdot 0.09 \approx 70.8 \, \Omega. \]
Thus, the numerical value of the resistance is:
\[ \boxed{70.8 \, \Omega}. \]
"""


def test_sub_question_sections_and_their_last_statements():
    from harness.checker.reading import part_sections

    assert [label for label, _, _ in part_sections(SECTIONED)] == ["a", "b", "c"]
    # labels that do not run a, b, c, ... from the start are no sections: an "(b)" in passing opens none
    assert part_sections("(b) first\n(c) then") == []
    assert [label for label, _, _ in part_sections("**(a)** x\n## Part b: y\n(a) again\n(d) skipped")] == ["a", "b"]
    stated = stated_equations(SECTIONED)
    # over the whole response R's last word is the number; within part (b) it is the formula, labelled (b)
    assert [(p.label, p.latex) for p in stated if p.latex.startswith("R")] == [
        (None, r"R = 70.8 \, \Omega"),
        ("b", r"R = \frac{2\pi}{3} \sqrt{\frac{\mu_0}{\epsilon_0}} \left( \frac{d}{\lambda} \right)^2"),
    ]
    assert not any(p.label == "a" for p in stated)  # part (a)'s last word is already the response's last word on I_rms


def test_a_sub_question_statement_answers_its_own_sub_question_only():
    from harness.api import Generation
    from harness.registry import create_task

    task = create_task("physics", {"split": "all"})
    try:
        sample = next(s for s in task.samples() if s.id == "Electricity and Magenetism/11-1")
        # golds: (a) I = |q omega sin(omega t)|, (b) R = (2 pi/3) sqrt(mu_0/epsilon_0) (d/lambda)^2, (c) R ~ 71 Omega
        by_gold = {m["gold"]: m for m in task.score_batch([sample], [[Generation(SECTIONED)]])[0].fields["matches"]}
        assert set(by_gold) == {1, 2}
        assert by_gold[1]["reading"] == "stated in the response" and by_gold[1]["label"] == "b"
        assert by_gold[2]["box"] == 0
        # the same formula stated only in part (a)'s section answers nothing: it is not part (b)'s result there
        moved = SECTIONED.replace("### Part (b): Real Part of Antenna Impedance", "").replace("### Part (c)", "### Part (b)")
        matches = task.score_batch([sample], [[Generation(moved)]])[0].fields["matches"]
        assert {m["gold"] for m in matches} == {2}
    finally:
        task.close()


def test_display_environments_outside_dollars_are_read_too():
    text = (
        "We find\n\\begin{align*}\nU' &= \\int u \\, dV \\\\\n   &= \\frac{\\mu_0 I^2}{4\\pi} \\ln\\frac{R_2}{R_1}\n\\end{align*}\n"
        "and \\begin{equation} L' = \\frac{\\mu_0}{2\\pi}\\ln\\frac{R_2}{R_1} \\end{equation}"
    )
    assert [p.latex for p in stated_equations(text)] == [
        "U' = \\frac{\\mu_0 I^2}{4\\pi} \\ln\\frac{R_2}{R_1}",
        "L' = \\frac{\\mu_0}{2\\pi}\\ln\\frac{R_2}{R_1}",
    ]


def test_a_number_stated_under_another_name_is_no_result():
    from harness.api import Generation
    from harness.registry import create_task

    task = create_task("physics", {"split": "all"})
    try:
        sample = next(s for s in task.samples() if s.id == "statistics/1-55")  # golds: T_f = 302 K, p_f = 2.0e5 N/m^2
        given = "Initial conditions:\n- Temperature \\(T_1 = 300 K\\)\n\nSo \\[ \\boxed{\\Delta T \\approx 2.22 K} \\]"
        # qwen2.5-72b's response restates the given T_1 = 300 K: within 1% of the final 302 K, but not the result
        assert task.score_batch([sample], [[Generation(given)]])[0].fields["matches"] == []
        stated = given.replace("So", "and \\[ T_f = 302.2 K \\] so")
        assert [m["gold"] for m in task.score_batch([sample], [[Generation(stated)]])[0].fields["matches"]] == [0]
    finally:
        task.close()
