"""The paper's prompt, as chat messages."""

from __future__ import annotations

from harness.api import ChatMessage

# Same semantics as the official system prompt (api_evaluation/evaluate_*.py), which asks
# for step-by-step reasoning and the final answer in \[\boxed{}\].
SYSTEM_PROMPT = (
    "You are an AI expert specializing in answering advanced physics questions. "
    "Think step by step and provide solution and final answer. "
    "Provide the final answer at the end in Latex boxed format \\[\\boxed{}\\]. "
    "Example: \\[ \\boxed{ final_answer} \\]"
)


def build_messages(question: str, image_paths: tuple[str, ...] = ()) -> tuple[ChatMessage, ...]:
    """System prompt plus the question; figures follow the text as image parts, as in the paper."""
    if image_paths:
        content = ({"type": "text", "text": question},) + tuple({"type": "image", "path": p} for p in image_paths)
        user = ChatMessage("user", content)
    else:
        user = ChatMessage("user", question)
    return (ChatMessage("system", SYSTEM_PROMPT), user)
