"""`--steer METHOD`: a ModelAdapter that delegates to a local hf adapter with a steering method applied.

Requests with `steered=False` are answered by the same
model unsteered (tasks use this for their reference: persona's p(match)
change and KL). The fingerprint carries a hash of the steering config and
content, so the response cache never mixes steered and unsteered answers.
"""

from __future__ import annotations

import dataclasses
import time
from contextlib import contextmanager
from typing import Iterator

from harness.adapters.steering.method import SteeringMethod, check_local_model
from harness.api import (
    GenerateRequest,
    Generation,
    HarnessError,
    Loglikelihood,
    LoglikelihoodRequest,
    ModelAdapter,
    RequestContext,
)
from harness.fingerprint import sha256_of
from harness.registry import build_args, known, lookup

LATENCY_PROMPT = "Tell me about yourself in a few words."
LATENCY_TOKENS = 8


class SteeredAdapter(ModelAdapter):
    def __init__(self, inner: ModelAdapter, method: SteeringMethod):
        super().__init__(inner.target, inner.args)
        self.inner = inner
        self.method = method
        self.name = inner.name
        self.capabilities = inner.capabilities
        self._latency: tuple[float, float] | None = None
        self._fingerprint: str | None = None

    # ------------------------------------------------------------ identity

    def steering_config(self) -> dict:
        return {"method": self.method.name, "settings": self.method.settings(), "content": self.method.content_hash()}

    def fingerprint(self) -> str:
        if self._fingerprint is None:  # hashing a large bank once, not per batch
            self._fingerprint = f"{self.inner.fingerprint()}|steer:{sha256_of(self.steering_config())[:16]}"
        return self._fingerprint

    def describe(self) -> dict:
        steered_ms, unsteered_ms = self.measure_latency()
        guidance_tokens = self.method.guidance_token_count()
        info = dict(self.inner.describe())
        info["steering"] = {
            "method": self.method.name,
            "settings": self.method.settings(),
            "kv_bytes_added_per_sequence": self.method.kv_bytes_added_per_sequence(),
            "kv_bytes_prompting_equivalent": guidance_tokens * self.inner.kv_bytes_per_token() if guidance_tokens else None,
            "latency_ms_per_token": steered_ms,
            "latency_ms_per_token_unsteered": unsteered_ms,
        }
        return info

    # ------------------------------------------------------------ answering

    def _split(self, requests, contexts, call):
        steered = [i for i, r in enumerate(requests) if r.steered]
        plain = [i for i, r in enumerate(requests) if not r.steered]
        out: list = [None] * len(requests)
        if plain:
            for i, resp in zip(plain, call([requests[i] for i in plain], [contexts[i] for i in plain])):
                out[i] = resp
        # Requests with different guidance schedules need different steering state.
        groups: dict[str, list[int]] = {}
        for i in steered:
            groups.setdefault(sha256_of(requests[i].guidance_schedule), []).append(i)
        for indices in groups.values():
            schedule = requests[indices[0]].guidance_schedule
            batch = [self._rewritten(requests[i]) for i in indices]
            with self.method.active(schedule):
                for i, resp in zip(indices, call(batch, [contexts[i] for i in indices])):
                    out[i] = resp
        return out

    def _rewritten(self, request):
        if isinstance(request, GenerateRequest):
            return dataclasses.replace(request, prompt=self.method.rewrite(request.prompt, request.guidance_schedule))
        return dataclasses.replace(request, context=self.method.rewrite(request.context, request.guidance_schedule))

    def generate(self, requests: list[GenerateRequest], contexts: list[RequestContext]) -> list[Generation]:
        return self._split(requests, contexts, self.inner.generate)

    def loglikelihood(self, requests: list[LoglikelihoodRequest], contexts: list[RequestContext]) -> list[Loglikelihood]:
        return self._split(requests, contexts, self.inner.loglikelihood)

    @contextmanager
    def unsteered(self) -> Iterator[ModelAdapter]:
        """The same loaded model without steering (for references computed outside requests)."""
        yield self.inner

    # ------------------------------------------------------------ accounting

    def measure_latency(self) -> tuple[float | None, float | None]:
        """ms per generated token with and without steering, from one short greedy
        generation each (after a warm-up); measured once per wrapper."""
        if self._latency is None:
            if self.method.guidance_token_count() is None and self.method.name != "caa":
                return None, None  # nothing to apply yet (guidance arrives with the task's requests)
            request = GenerateRequest(LATENCY_PROMPT, max_tokens=LATENCY_TOKENS)
            context = [RequestContext("steering-latency", "0", 0)]
            timings = []
            for steer in (False, True, False, True):
                started = time.perf_counter()
                if steer:
                    self.generate([request], context)
                else:
                    self.inner.generate([request], context)
                timings.append(1000 * (time.perf_counter() - started) / LATENCY_TOKENS)
            self._latency = (round(timings[3], 3), round(timings[2], 3))
        return self._latency

    def close(self) -> None:
        self.inner.close()


def wrap_with_steering(adapter: ModelAdapter, method: str, raw_args: dict[str, str]) -> ModelAdapter:
    """The runner's entry point for `--steer METHOD --steer-arg k=v`."""
    cls = lookup("steering", method)
    if cls is None:
        raise HarnessError(f"unknown steering method '{method}'; use one of {', '.join(known('steering'))}")
    check_local_model(adapter)
    args = build_args(cls.Args, raw_args, "steer arg", f"steering '{method}'")
    return SteeredAdapter(adapter, cls(adapter, args))
