"""Harness models inside lm-eval: the lm-eval model `harness`.

    lm_eval.simple_evaluate(model="harness", model_args="spec=hf:DIR,steer=mi,steer_guidance=...", tasks=[...])
    harness lm-eval --model harness --model_args spec=hf:DIR,steer=mi,steer_guidance=... --tasks NAME

`spec` is any harness model spec (`hf:`, `openai:`, `replay:`, ...); `steer`
names a steering method (`prompt`, `caa`, `mi`) and every `steer_KEY=VALUE` is
its option; every other key is a model arg of the adapter (`dtype`,
`base_url`, ...). lm-eval's requests become harness requests, so lm-eval users
get the harness's steered models without leaving lm-eval. Importing this module
registers the model with lm-eval (it needs the [lm-eval] extra).
"""

from __future__ import annotations

from typing import Any

from lm_eval.api.model import LM
from lm_eval.api.registry import register_model

from harness import registry
from harness.api import GenerateRequest, HarnessError, LoglikelihoodRequest, ModelAdapter, RequestContext

LM_EVAL_ONLY = {"device", "max_batch_size"}  # options lm-eval passes to every model; the harness adapter has its own


def build_adapter(spec: str, options: dict[str, Any]) -> ModelAdapter:
    """The harness adapter for `spec`, steered when `steer` is among the options."""
    steer = options.pop("steer", None)
    steer_args = {k[len("steer_") :]: str(v) for k, v in list(options.items()) if k.startswith("steer_")}
    model_args = {k: str(v) for k, v in options.items() if not k.startswith("steer_") and k not in LM_EVAL_ONLY and v is not None}
    cls, _ = registry.parse_model_spec(spec)
    if "batch_size" in model_args and ("batch_size" not in registry.arg_keys(cls.Args) or not model_args["batch_size"].isdigit()):
        del model_args["batch_size"]  # lm-eval's own batch size ("auto", or for an adapter without one)
    adapter = registry.create_model(spec, model_args)
    if steer:
        wrap = registry.lookup("wrapper", "steer")
        if wrap is None:
            raise HarnessError("steering is not installed; reinstall harness with the [hf] extra")
        adapter = wrap(adapter, str(steer), steer_args)
    return adapter


def _checked(responses: list, what: str) -> list:
    failed = next((r.error for r in responses if r.error), None)
    if failed:
        raise HarnessError(f"the harness model failed a {what} request: {failed}")
    return responses


@register_model("harness")
class HarnessLM(LM):
    """lm-eval's `LM` interface over any harness model (steered or not)."""

    def __init__(self, spec: str | None = None, **options: Any):
        super().__init__()
        if not spec:
            raise HarnessError("the lm-eval model 'harness' needs spec=NAME:TARGET, e.g. --model_args spec=hf:DIR")
        self.adapter = build_adapter(spec, dict(options))
        self._n = 0

    def _contexts(self, n: int) -> list[RequestContext]:
        start, self._n = self._n, self._n + n
        return [RequestContext("lm-eval", str(start + i), 0) for i in range(n)]

    def loglikelihood(self, requests) -> list[tuple[float, bool]]:
        batch = [LoglikelihoodRequest(context, continuation) for context, continuation in (r.args for r in requests)]
        out = _checked(self.adapter.loglikelihood(batch, self._contexts(len(batch))), "loglikelihood")
        return [(float(r.logprob), bool(r.is_greedy)) for r in out]

    def loglikelihood_rolling(self, requests) -> list[float]:
        """The text's whole log-probability: harness adapters score a continuation
        after an empty context (texts longer than the model's window are refused)."""
        batch = [LoglikelihoodRequest("", text) for (text, *_) in (r.args for r in requests)]
        out = _checked(self.adapter.loglikelihood(batch, self._contexts(len(batch))), "loglikelihood_rolling")
        return [float(r.logprob) for r in out]

    def generate_until(self, requests) -> list[str]:
        batch = []
        for context, gen_kwargs in (r.args for r in requests):
            until = gen_kwargs.get("until") or ()
            until = (until,) if isinstance(until, str) else tuple(until)
            temperature = float(gen_kwargs.get("temperature", 0.0)) if gen_kwargs.get("do_sample", False) else 0.0
            batch.append(
                GenerateRequest(
                    context,
                    stop=until,
                    max_tokens=int(gen_kwargs.get("max_gen_toks", 256)),
                    temperature=temperature,
                    seed=0 if temperature else None,
                )
            )
        out = _checked(self.adapter.generate(batch, self._contexts(len(batch))), "generate_until")
        return [r.text or "" for r in out]
