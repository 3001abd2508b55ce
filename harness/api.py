"""The typed boundary between tasks, model adapters and the runner.

A task is a dataset of `Sample`s, a way to query the model (`Request`s, possibly
over several rounds) and a scorer that turns the responses into a `Score`.
A model adapter answers `Request`s. Neither knows about the other; the runner
moves data between them and the run store records everything.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterable, Literal, Sequence, Union

if TYPE_CHECKING:
    from harness.metrics import Metric
    from harness.record import SampleRecord


class HarnessError(Exception):
    """A problem with the user's input: reported as one line and exit status 2."""


# ---------------------------------------------------------------- inputs


@dataclass(frozen=True)
class ChatMessage:
    """One chat turn. `content` is text, or a tuple of parts for multimodal input:
    ``{"type": "text", "text": ...}`` or ``{"type": "image", "path": ...}``."""

    role: Literal["system", "user", "assistant"]
    content: str | tuple[dict, ...]

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(p.get("text", "") for p in self.content if p.get("type") == "text")

    def has_images(self) -> bool:
        return not isinstance(self.content, str) and any(p.get("type") == "image" for p in self.content)


Prompt = Union[str, tuple[ChatMessage, ...]]
"""Plain text (completion-style) or a chat transcript."""


@dataclass(frozen=True)
class Sample:
    """One item of a task's dataset. `id` is stable across runs (resume keys on it)."""

    id: str
    input: Prompt
    target: Any = None
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ResponseFormat:
    """Structured output: the reply must be one JSON object matching `schema_json`
    (a JSON Schema, as text so that requests stay hashable)."""

    name: str
    schema_json: str


GuidanceSchedule = tuple[tuple[int, str], ...]
"""(first message index, guidance text) pairs: which guidance a steered model
applies from which chat message on (a guidance shift mid-conversation)."""


@dataclass(frozen=True)
class GenerateRequest:
    """Generate text from `prompt` until a stop sequence or `max_tokens`.

    `steered=False` asks a steered model for its unsteered answer (an unsteered
    model ignores it); `guidance_schedule` overrides a steered model's guidance;
    `response_format` asks for structured output (adapters without the
    `structured_output` capability are refused by the runner when a role needs it)."""

    prompt: Prompt
    stop: tuple[str, ...] = ()
    max_tokens: int = 256
    temperature: float = 0.0
    seed: int | None = None
    steered: bool = True
    guidance_schedule: GuidanceSchedule | None = None
    response_format: ResponseFormat | None = None
    # Structured view of the request for models that are not language models
    # (reference learners, the assign-add transformer); LMs ignore it.
    metadata: dict = field(default_factory=dict, compare=False)
    kind: ClassVar[str] = "generate"


@dataclass(frozen=True)
class LoglikelihoodRequest:
    """Log-probability of `continuation` given `context` (summed over its tokens).
    `steered` and `guidance_schedule` as for `GenerateRequest`."""

    context: Prompt
    continuation: str
    steered: bool = True
    guidance_schedule: GuidanceSchedule | None = None
    metadata: dict = field(default_factory=dict, compare=False)
    kind: ClassVar[str] = "loglikelihood"


Request = Union[GenerateRequest, LoglikelihoodRequest]


@dataclass(frozen=True)
class RequestContext:
    """Who asked: lets adapters such as `replay` look answers up by sample."""

    task: str
    sample_id: str
    index: int  # position of the request among the sample's requests


# ---------------------------------------------------------------- responses


@dataclass
class Generation:
    """Generated text, or the `error` that prevented it; `permanent` errors are
    ones a rerun cannot fix (a missing replay output, HTTP 404), so the runner
    does not suggest retrying them."""

    text: str | None
    finish_reason: str | None = None  # "stop" | "length" | ...
    error: str | None = None
    permanent: bool = False


@dataclass
class Loglikelihood:
    logprob: float | None
    is_greedy: bool | None = None
    token_logprobs: list[float] | None = None
    error: str | None = None
    permanent: bool = False  # as for Generation


Response = Union[Generation, Loglikelihood]


def response_to_json(r: Response) -> dict:
    d = dataclasses.asdict(r)
    d["type"] = "generation" if isinstance(r, Generation) else "loglikelihood"
    return d


def response_from_json(d: dict) -> Response:
    d = dict(d)
    kind = d.pop("type")
    return Generation(**d) if kind == "generation" else Loglikelihood(**d)


# ---------------------------------------------------------------- scores


@dataclass
class Score:
    """A verdict on one sample. `value` is a number (1.0 correct, 0.0 wrong, or
    partial credit). `answer` is what was extracted from the output and
    `explanation` says how the verdict was reached. `fields` are task-specific
    columns written into the sample log (e.g. per-regime verdicts)."""

    value: float
    answer: Any = None
    explanation: str = ""
    fields: dict = field(default_factory=dict)


# ---------------------------------------------------------------- task


@dataclass(frozen=True)
class SteeringTarget:
    """What a task offers `harness steer` (compare, layer ranking, CAA vectors):
    the behaviour it measures as guidance text (None when its requests carry
    guidance schedules instead), its control and drift metrics, and train-split
    material for steering vectors that never overlaps its scored samples."""

    guidance: str | None
    control_metric: str
    drift_metric: str
    probe_questions: tuple[str, ...]  # user messages: layer-ranking probes, prompted CAA vectors
    contrastive_pairs: tuple[tuple[str, str, str], ...] = ()  # (question with A/B choices, toward letter, away letter)
    meta: dict = field(default_factory=dict, compare=False)  # recorded with vectors built from it


@dataclass(frozen=True)
class NoArgs:
    """Tasks without options use this as their `Args`."""


@dataclass(frozen=True)
class ModelRole:
    """A model a task calls besides the model under test (a judge). `default`
    is the model spec used when `--model-role NAME=SPEC` is not given; with
    None the role is off unless the user names a model for it."""

    name: str
    description: str
    default: str | None = None
    requires: frozenset[str] = frozenset({"generate"})


class Task:
    """Base class for tasks. Subclasses set `name`, `description`, `Args` (a
    frozen dataclass whose fields are the task's options; `Literal` types list
    the allowed values) and implement `samples`, `requests` and `score`.

    Multi-round tasks (an interactive stream) override `followup`: it is
    called with all responses so far and returns more requests, or [] when the
    sample is ready to score. Models other than the one under test (a judge)
    are declared in `roles`; the runner binds them before the first request and
    the scorer reaches them with `self.role(name)`.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    Args: ClassVar[type] = NoArgs
    # What the model must support: subset of {"generate", "loglikelihood", "images", "token_logprobs"}.
    requires: ClassVar[frozenset[str]] = frozenset({"generate"})
    roles: ClassVar[tuple[ModelRole, ...]] = ()
    headline: ClassVar[str] = "accuracy"  # the metric a leaderboard ranks by, printed first
    control_drift: ClassVar[tuple[str, str] | None] = None  # (control, drift) metrics of a steering task: the leaderboard plots them

    def __init__(self, args: Any = None):
        self.args = args if args is not None else self.Args()
        self.role_models: dict[str, Any] = {}
        self._owned: list[Any] = []

    @property
    def family(self) -> str:
        """The task's family, which the leaderboard groups by: its folder under
        `harness/tasks`, or the top-level package of a plugin's task."""
        parts = type(self).__module__.split(".")
        return parts[2] if parts[:2] == ["harness", "tasks"] and len(parts) > 2 else parts[0]

    def own(self, resource: Any) -> Any:
        """Register something with a `close()` (a checker pool) to be closed with the task."""
        self._owned.append(resource)
        return resource

    def bind_roles(self, models: dict[str, Any]) -> None:
        """Receive the `RoleModel` of every role that has a model (called by the runner)."""
        self.role_models = dict(models)

    def role(self, name: str) -> Any:
        """The bound `RoleModel` for `name`, or None when the role has no model."""
        return self.role_models.get(name)

    def samples(self) -> Iterable[Sample]:
        raise NotImplementedError

    def requests(self, sample: Sample) -> list[Request]:
        raise NotImplementedError

    def followup(self, sample: Sample, responses: Sequence[Response]) -> list[Request]:
        return []

    def score(self, sample: Sample, responses: Sequence[Response]) -> Score:
        raise NotImplementedError

    def score_batch(self, samples: Sequence[Sample], responses: Sequence[Sequence[Response]]) -> list[Score]:
        """Score many samples at once; override to parallelise slow checkers."""
        return [self.score(s, r) for s, r in zip(samples, responses)]

    def aggregate(self, records: list[SampleRecord]) -> dict[str, Metric]:
        """Metrics over the scored `SampleRecord`s (errors excluded): `r.score` and the
        task's own `r.fields`. Default: mean score as `accuracy` with a bootstrap CI."""
        from harness.metrics import mean_metric

        return {"accuracy": mean_metric([r.score for r in records])}

    def steering_target(self, n: int) -> SteeringTarget | None:
        """The task's steering material (at most `n` probes and pairs), or None: steering
        comparisons on it then need --guidance and the metrics named."""
        return None

    def data_fingerprint(self) -> str:
        """A hash of the task's data, recorded in config.json. Default: hash of the samples."""
        from harness.fingerprint import hash_samples

        return hash_samples(self.samples())

    def write_artifacts(self, records: list[SampleRecord], run_dir: Path) -> None:
        """Optional extra outputs (CSV curves, plots) written into the run directory."""

    def close(self) -> None:
        """Close what the task owns (worker pools); role models are closed by the runner."""
        while self._owned:
            self._owned.pop().close()


# ---------------------------------------------------------------- model adapter


class ModelAdapter:
    """Base class for model adapters, in the shape of lm-eval's `LM`.

    `generate` and `loglikelihood` answer a batch of requests; a request that
    fails returns a response with `error` set rather than raising, so one bad
    request marks one sample as errored and the run goes on. `contexts` says
    which sample each request belongs to (used by `replay`; others ignore it).
    An adapter whose answers arrive one at a time (an API) calls
    `self.answered(index, response)` as each arrives, so the runner's cache
    keeps it even if the run is killed before the batch completes.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    Args: ClassVar[type] = NoArgs
    capabilities: frozenset[str] = frozenset({"generate"})
    # True when the answer depends on which sample asked (replay): the response
    # cache then keys on the RequestContext as well as the request.
    answers_depend_on_context: ClassVar[bool] = False
    # True for a model held in this process (hf, assign-add): `--backend ray` can run replicas of it.
    replicable: ClassVar[bool] = False

    def __init__(self, target: str, args: Any = None):
        self.target = target
        self.args = args if args is not None else self.Args()

    answered_sink: Callable[[int, Response], None] | None = None  # set by the runner's cache for one call

    def answered(self, index: int, response: Response) -> None:
        """Report that request `index` of the current batch has its response."""
        if self.answered_sink is not None:
            self.answered_sink(index, response)

    def fingerprint(self) -> str:
        """Identifies the model for the response cache: same fingerprint, same answers."""
        return f"{self.name}:{self.target}:{dataclasses.asdict(self.args)}"

    def describe(self) -> dict:
        """Extra facts for config.json (model revision, dtype, steering settings...)."""
        return {}

    def generate(self, requests: list[GenerateRequest], contexts: list[RequestContext]) -> list[Generation]:
        raise HarnessError(f"model '{self.name}' cannot generate text; use a task that needs log-likelihoods")

    def loglikelihood(self, requests: list[LoglikelihoodRequest], contexts: list[RequestContext]) -> list[Loglikelihood]:
        raise HarnessError(f"model '{self.name}' does not provide log-likelihoods; use a local 'hf:' model or a server with logprobs")

    def close(self) -> None:
        pass
