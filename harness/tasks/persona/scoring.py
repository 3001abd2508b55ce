"""p(matching) from Yes/No log-likelihoods, and the Monte Carlo KL estimate."""

from __future__ import annotations

import math

from harness.api import Loglikelihood

YES_NO = ("Yes", "No")


def p_match(logprob_yes: float, logprob_no: float, matching: str) -> float:
    """p(match) / (p(Yes) + p(No)), computed stably from the two log-probs."""
    lp_match, lp_other = (logprob_yes, logprob_no) if matching == "Yes" else (logprob_no, logprob_yes)
    return 1.0 / (1.0 + math.exp(lp_other - lp_match))


def kl_per_token(base: Loglikelihood, steered: Loglikelihood) -> tuple[float, int]:
    """KL(base || steered) per token, estimated on one continuation sampled from
    the base model: log p_base(y) - log p_steered(y), divided by y's tokens.
    Unbiased for the sequence KL in expectation over samples."""
    n_tokens = len(base.token_logprobs) if base.token_logprobs else 1
    return (base.logprob - steered.logprob) / max(n_tokens, 1), n_tokens
