"""Models for the core tests, loaded with --include: deterministic and scriptable."""

import os
import time

from harness import Generation, Loglikelihood, ModelAdapter, register_model


@register_model
class SlowAnswers(ModelAdapter):
    """Answers ' 4' to everything after sleeping SLOW_MODEL_DELAY seconds per request;
    fails requests whose prompt contains the text in SLOW_MODEL_FAIL."""

    name = "slow4"
    description = "test model: answers ' 4' slowly"
    capabilities = frozenset({"generate", "loglikelihood"})

    def generate(self, requests, contexts):
        out = []
        fail = os.environ.get("SLOW_MODEL_FAIL")
        for r in requests:
            time.sleep(float(os.environ.get("SLOW_MODEL_DELAY", "0")))
            if fail and fail in r.prompt:
                out.append(Generation(text=None, error="scripted failure"))
            else:
                out.append(Generation(text=" 4\n", finish_reason="stop"))
        return out

    def loglikelihood(self, requests, contexts):
        return [
            Loglikelihood(logprob=-float(len(r.continuation)) - (0.5 if "No" in r.continuation else 0.0), is_greedy=False) for r in requests
        ]
