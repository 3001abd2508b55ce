"""Prompts of the four `halu_detect` detectors.

judge (generation; k labelled demonstrations, correct ones answered "No",
hallucinated ones "Yes"):

    Decide whether the response to the question contains a hallucination: a claim that is false, unsupported or made up. Answer Yes or No.

    Question: <demonstration question>
    Response: <demonstration response>
    Hallucination: No

    Question: <question>
    Response: <response>
    Hallucination:

ptrue: "<context>Proposed answer: <response>\\nIs the proposed answer true or
false?\\nThe proposed answer is:" scored with the continuations " True" and
" False" (Kadavath et al. 2022). logprob: the response as the continuation of
"<context>Response:". selfcheck: the model answers "<context>Answer:" with
sampling; its answers are compared with the response. <context> is
"Knowledge: ...\\n" (HaluEval QA only) then "Question: ...\\n".
"""

from __future__ import annotations

from harness.tasks.halu.detect_data import DetectItem

JUDGE_INSTRUCTION = (
    "Decide whether the response to the question contains a hallucination: a claim that is false, unsupported or made up. Answer Yes or No."
)


def context(item: DetectItem) -> str:
    knowledge = f"Knowledge: {item.knowledge}\n" if item.knowledge else ""
    return f"{knowledge}Question: {item.question}\n"


def judge_prompt(item: DetectItem, demonstrations: list[DetectItem]) -> str:
    blocks = [JUDGE_INSTRUCTION]
    for d in demonstrations:
        blocks.append(f"{context(d)}Response: {d.response}\nHallucination: {'Yes' if d.label else 'No'}")
    blocks.append(f"{context(item)}Response: {item.response}\nHallucination:")
    return "\n\n".join(blocks)


def ptrue_context(item: DetectItem) -> str:
    return f"{context(item)}Proposed answer: {item.response}\nIs the proposed answer true or false?\nThe proposed answer is:"


def logprob_context(item: DetectItem) -> str:
    return f"{context(item)}Response:"


def answer_prompt(item: DetectItem) -> str:
    return f"{context(item)}Answer:"
