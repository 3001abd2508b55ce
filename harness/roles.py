"""Model roles: models a task calls besides the model under test, such as a judge.

A task declares its roles (`Task.roles`); the runner builds each role's model
once from `--model-role NAME=SPEC`, routes it through the response cache and
hands the task a `RoleModel`. Every call is counted, and every response is kept
with the sample it was made for: it is written to samples.jsonl, and
`harness score` replays it instead of calling the model again.
"""

from __future__ import annotations

from typing import Any, Callable

from harness.api import (
    GenerateRequest,
    Generation,
    HarnessError,
    ModelAdapter,
    Request,
    RequestContext,
    Response,
    response_from_json,
    response_to_json,
)
from harness.fingerprint import sha256_of
from harness.record import SampleRecord

Send = Callable[[str, list[Request], list[RequestContext]], list[Response]]


def request_digest(request: Request) -> str:
    """Identifies what was asked, so a stored response is replayed only for the same request."""
    return sha256_of([request.kind, request])


class RoleModel:
    """A task's handle on one role: `generate` answers a batch of requests, each
    made on behalf of one sample; failures come back as responses with `error`
    set (the task counts them as unjudged), never as exceptions."""

    def __init__(self, role: str, spec: str, task: str, send: Send):
        self.role = role
        self.spec = spec
        self.task = task
        self._send = send
        self._log: dict[str, list[dict]] = {}

    @classmethod
    def direct(cls, role: str, adapter: ModelAdapter, task: str) -> RoleModel:
        """A role that calls `adapter` without the runner's cache: for using a task's scorer on its own."""

        def send(kind: str, requests: list[Any], contexts: list[RequestContext]) -> list[Response]:
            return list(adapter.generate(requests, contexts))

        return cls(role, f"{adapter.name}:{adapter.target}", task, send)

    def generate(self, requests: list[GenerateRequest], sample_ids: list[str]) -> list[Generation]:
        contexts: list[RequestContext] = []
        for sample_id in sample_ids:
            index = len(self._log.setdefault(sample_id, [])) + sum(c.sample_id == sample_id for c in contexts)
            contexts.append(RequestContext(f"{self.task}/{self.role}", sample_id, index))
        try:
            replies = self._send("generate", list(requests), contexts)
        except HarnessError:
            raise
        except Exception as e:  # a failing role model leaves these requests unanswered (counted by the task)
            replies = [Generation(text=None, error=f"{type(e).__name__}: {e}") for _ in requests]
        out: list[Generation] = []
        for request, context, reply in zip(requests, contexts, replies):
            if not isinstance(reply, Generation):
                reply = Generation(text=None, error=f"role '{self.role}' answered a generation request with {type(reply).__name__}")
            self._log[context.sample_id].append({"request_sha256": request_digest(request), "response": response_to_json(reply)})
            out.append(reply)
        return out

    def take(self, sample_id: str) -> list[dict]:
        """The calls made for `sample_id` since the last take (for its sample record)."""
        return self._log.pop(sample_id, [])


class StoredRoleResponses:
    """A `Send` that answers from the role responses kept in sample records: the
    zero-call model behind `harness score`. A request that was never asked (a
    scoring argument changed what the task asks) gets an error response."""

    def __init__(self, role: str, records: dict[str, SampleRecord]):
        self.role = role
        self.records = records
        self.calls = 0

    def __call__(self, kind: str, requests: list[Request], contexts: list[RequestContext]) -> list[Response]:
        out: list[Response] = []
        for request, context in zip(requests, contexts):
            record = self.records.get(context.sample_id)
            stored = record.role_responses.get(self.role, []) if record else []
            entry = stored[context.index] if context.index < len(stored) else None
            if entry is None or entry["request_sha256"] != request_digest(request):
                out.append(
                    Generation(
                        text=None,
                        error=f"no stored '{self.role}' response for this request; "
                        "re-scoring makes no model calls (rerun `harness eval` to ask the model)",
                    )
                )
            else:
                out.append(response_from_json(entry["response"]))
        return out
