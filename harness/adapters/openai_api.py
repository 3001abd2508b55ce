"""`openai:<model>`: any OpenAI-compatible server (OpenAI, vLLM, llama.cpp, TGI, LiteLLM...).

Requests go out concurrently (at most `concurrency` in flight) on a private
asyncio loop that lives in a background thread, so the synchronous
`generate` / `loglikelihood` calls of the runner work from any thread. The
HTTP client is aiohttp rather than the `openai` SDK: on the 2-core CI machine
the SDK spends about 2.4 ms of CPU per request against aiohttp's 0.4 ms,
which decides whether 32 parallel requests keep up with a 100 ms server
(bench/openai_adapter.py measures it).

Retries (tenacity) cover HTTP 408/409/429/5xx, timeouts, dropped connections
and malformed bodies; the wait is the server's Retry-After (seconds or an
HTTP date, or Retry-After-Ms), capped at `max_backoff_s`, else exponential
backoff with full jitter. A request that still fails becomes a response with
`error` set: one sample is marked, the run goes on.

Log-likelihoods use lm-eval's `local-completions` method on the completions
endpoint: prompt = context + continuation, `echo=True`, `logprobs=1`,
`max_tokens=1`; the continuation's tokens are found by character offset
(`text_offset`) and their log-probabilities summed.

The API key is read from the environment variable named by `api_key_env`
when the adapter starts; it is sent only in the Authorization header and is
never part of the args, fingerprint, describe(), logs or error messages.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import json
import logging
import math
import mimetypes
import os
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable, Literal, TypeVar
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from harness.api import (
    ChatMessage,
    GenerateRequest,
    Generation,
    HarnessError,
    Loglikelihood,
    LoglikelihoodRequest,
    ModelAdapter,
    Prompt,
    RequestContext,
)
from harness.fingerprint import canonical_json
from harness.registry import register_model
from harness.secrets import redact

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
MAX_STOP_SEQUENCES = 4  # OpenAI's limit; the rest are applied to the text here
RETRY_STATUSES = frozenset({408, 409, 429}) | frozenset(range(500, 600))
PROBE_TIMEOUT_S = 10.0
T = TypeVar("T")


@dataclass(frozen=True)
class Args:
    base_url: str | None = None  # default: $OPENAI_BASE_URL, else https://api.openai.com/v1
    endpoint: Literal["chat", "completions"] = "chat"
    concurrency: int = 8  # requests in flight at once (the CLI's --concurrency)
    max_retries: int = 5  # retries after the first attempt
    timeout_s: float = 300.0  # per attempt
    backoff_s: float = 1.0  # first backoff window; doubles per retry, full jitter
    max_backoff_s: float = 60.0  # cap on any wait, Retry-After included
    api_key_env: str = "OPENAI_API_KEY"  # name of the variable holding the key
    # Generation defaults: None keeps what each request asks for.
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None  # used when a request carries no seed
    system_prompt: str | None = None  # prepended to chat prompts that have no system turn
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"  # newer OpenAI chat models want the latter
    extra_body: str | None = None  # JSON object merged into every request body, e.g. {"top_k": 1}

    def __post_init__(self):
        checks = [
            (self.concurrency >= 1, "concurrency must be at least 1"),
            (self.max_retries >= 0, "max_retries must be 0 or more"),
            (self.timeout_s > 0, "timeout_s must be positive"),
            (self.backoff_s >= 0 and self.max_backoff_s >= 0, "backoff_s and max_backoff_s must be 0 or more"),
            (self.max_tokens is None or self.max_tokens >= 1, "max_tokens must be at least 1"),
            (bool(self.api_key_env), "api_key_env must name an environment variable"),
        ]
        for ok, problem in checks:
            if not ok:
                raise HarnessError(f"model arg: {problem}")
        if self.base_url is not None and not self.base_url.startswith(("http://", "https://")):
            raise HarnessError(
                f"model arg base_url '{redact_url(self.base_url)}' is not an http(s) URL; write it like http://127.0.0.1:8000/v1"
            )
        if self.extra_body is not None:
            try:
                parsed = json.loads(self.extra_body)
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict):
                raise HarnessError("model arg extra_body must be a JSON object, e.g. extra_body='{\"top_k\": 1}'")


# ------------------------------------------------------------------ errors and retry policy


class RetryableError(Exception):
    """A failure worth another attempt; `retry_after` is the server's requested wait."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(Exception):
    """A failure that another attempt will not fix (HTTP 400/401/404, missing logprobs)."""


def parse_retry_after(headers: Any, now: float | None = None) -> float | None:
    """Seconds to wait from `Retry-After-Ms`, or `Retry-After` as seconds or an HTTP date."""
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
        return max(0.0, seconds) if math.isfinite(seconds) else None
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class WaitRetryAfterOrBackoff:
    """tenacity wait: the server's Retry-After when it gave one, else jittered exponential backoff."""

    def __init__(self, backoff_s: float, max_backoff_s: float):
        self.max_backoff_s = max_backoff_s
        self.backoff = wait_random_exponential(multiplier=backoff_s, max=max_backoff_s)

    def __call__(self, retry_state) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return min(retry_after, self.max_backoff_s)
        return self.backoff(retry_state)


# ------------------------------------------------------------------ small helpers


def redact_url(url: str) -> str:
    """The URL without user:password@ (credentials must not reach config.json or logs)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def proxy_for(url: str) -> str | None:
    """The HTTP(S)_PROXY that applies to `url` (NO_PROXY respected), as the
    openai SDK would use; looked up once, since aiohttp's trust_env repeats
    the lookup per request and doubles the client's CPU per request."""
    parts = urlsplit(url)
    if urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return urllib.request.getproxies().get(parts.scheme)


def cut_at_stop(text: str, stop: tuple[str, ...]) -> tuple[str, bool]:
    """Text before the earliest stop sequence, and whether one was found."""
    cuts = [i for i in (text.find(s) for s in stop if s) if i >= 0]
    return (text[: min(cuts)], True) if cuts else (text, False)


def image_url(path: str) -> str:
    """A URL for an image part: http(s)/data URLs pass through, local files become base64 data URLs."""
    if path.startswith(("http://", "https://", "data:")):
        return path
    file = Path(path)
    mime, _ = mimetypes.guess_type(file.name)
    if mime is None or not mime.startswith("image/"):
        raise PermanentError(f"image part '{path}' is not an image file (by its suffix)")
    try:
        data = file.read_bytes()
    except OSError as e:
        raise PermanentError(f"cannot read image '{path}': {e.strerror or e}") from None
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def message_json(message: ChatMessage) -> dict:
    if isinstance(message.content, str):
        return {"role": message.role, "content": message.content}
    parts = []
    for part in message.content:
        if part.get("type") == "text":
            parts.append({"type": "text", "text": part.get("text", "")})
        elif part.get("type") == "image":
            parts.append({"type": "image_url", "image_url": {"url": image_url(str(part.get("path", "")))}})
        else:
            raise PermanentError(f"unsupported message part type {part.get('type')!r}; use 'text' or 'image'")
    return {"role": message.role, "content": parts}


def _text_of_choice(choice: dict, endpoint: str) -> str:
    if endpoint == "completions":
        text = choice.get("text")
        if not isinstance(text, str):
            raise RetryableError("malformed response: choice has no 'text'")
        return text
    message = choice.get("message")
    if not isinstance(message, dict):
        raise RetryableError("malformed response: choice has no 'message'")
    content = message.get("content")
    if content is None:  # a refusal or a reasoning model that ran out of tokens: an empty answer, not a fault
        return ""
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    if not isinstance(content, str):
        raise RetryableError("malformed response: message content is not text")
    return content


def first_choice(data: Any) -> dict:
    if not isinstance(data, dict):
        raise RetryableError("malformed response: body is not a JSON object")
    if "error" in data and not data.get("choices"):
        raise RetryableError(f"server error in an HTTP 200 body: {str(data['error'])[:300]}")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise RetryableError("malformed response: no choices")
    return choices[0]


def continuation_loglikelihood(choice: dict, context: str, continuation: str) -> Loglikelihood:
    """Sum the log-probabilities of the tokens that overlap the continuation's
    characters in an echoed prompt. A token straddling the context/continuation
    boundary counts as a continuation token (BPE merged across the boundary);
    tokens past the prompt (the one generated token) are ignored."""
    lp = choice.get("logprobs")
    if not isinstance(lp, dict) or not isinstance(lp.get("tokens"), list) or not isinstance(lp.get("token_logprobs"), list):
        raise PermanentError("the server returned no logprobs for echo=True; it does not support prompt logprobs on /completions")
    echoed = choice.get("text")
    if isinstance(echoed, str) and not echoed.startswith(context + continuation):
        raise PermanentError("the server's echo does not reproduce the prompt, so its tokens cannot be aligned with it")
    tokens, logprobs = lp["tokens"], lp["token_logprobs"]
    offsets = lp.get("text_offset")
    if not isinstance(offsets, list) or len(offsets) != len(tokens):
        if not "".join(tokens).startswith(context + continuation):
            raise PermanentError("the server's echoed tokens do not spell the prompt and it gives no text_offset")
        offsets, pos = [], 0
        for t in tokens:
            offsets.append(pos)
            pos += len(t)
    start, end = len(context), len(context) + len(continuation)
    picked = [i for i, (o, t) in enumerate(zip(offsets, tokens)) if o < end and o + max(len(t), 1) > start]
    if not picked:
        raise RetryableError("malformed response: no echoed token covers the continuation")
    values = [logprobs[i] for i in picked]
    if any(v is None for v in values):
        raise PermanentError("the continuation starts at the first token, which has no logprob; give the request a non-empty context")
    tops = lp.get("top_logprobs")
    is_greedy = None
    if isinstance(tops, list) and len(tops) == len(tokens) and all(isinstance(tops[i], dict) and tops[i] for i in picked):
        is_greedy = all(logprobs[i] >= max(tops[i].values()) - 1e-6 for i in picked)
    return Loglikelihood(logprob=float(sum(values)), is_greedy=is_greedy, token_logprobs=[float(v) for v in values])


# ------------------------------------------------------------------ the loop thread


class _LoopThread:
    """A private event loop in a daemon thread: callable from any thread, even inside a running loop."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="openai-adapter-loop", daemon=True)
        self.thread.start()

    def run(self, coro: Awaitable[T]) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()


# ------------------------------------------------------------------ the adapter


@register_model
class OpenAIAdapter(ModelAdapter):
    """An OpenAI-compatible HTTP server as the model under test."""

    name = "openai"
    description = "Any OpenAI-compatible server (chat or completions endpoint); key from $OPENAI_API_KEY."
    Args = Args

    def __init__(self, target: str, args: Args | None = None):
        super().__init__(target, args)
        if not target:
            raise HarnessError("name the served model: --model openai:<model name>, e.g. openai:gpt-4o-mini")
        a = self.args
        self.base_url = (a.base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        if not self.base_url.startswith(("http://", "https://")):
            raise HarnessError(
                f"OPENAI_BASE_URL '{redact_url(self.base_url)}' is not an http(s) URL; fix the variable or pass --model-arg base_url=..."
            )
        self._api_key = os.environ.get(a.api_key_env) or None
        self._proxy = proxy_for(self.base_url)
        self._extra_body = json.loads(a.extra_body) if a.extra_body else {}
        self.capabilities = (
            frozenset({"generate", "images", "structured_output"})
            if a.endpoint == "chat"
            else frozenset({"generate", "loglikelihood", "token_logprobs"})
        )
        self.stats: Counter = Counter()  # attempts, retries by reason, failures: read by the benchmark
        self.served_models: list[str] | None = None
        self._loop = _LoopThread()
        self._session: aiohttp.ClientSession | None = None
        self._semaphore: asyncio.Semaphore | None = None
        self._timeout: aiohttp.ClientTimeout | None = None
        try:
            self._loop.run(self._open())
            self._loop.run(self._probe())
        except BaseException:
            self.close()
            raise

    # ---------------------------------------------------------- identity

    def fingerprint(self) -> str:
        """Only what changes answers: not concurrency, retries, timeouts or the key's variable name."""
        a = self.args
        answer_affecting = {
            "base_url": redact_url(self.base_url),
            "endpoint": a.endpoint,
            "max_tokens": a.max_tokens,
            "temperature": a.temperature,
            "top_p": a.top_p,
            "seed": a.seed,
            "system_prompt": a.system_prompt,
            "max_tokens_field": a.max_tokens_field,
            "extra_body": self._extra_body,
        }
        return f"openai:{self.target}:{canonical_json(answer_affecting)}"

    def describe(self) -> dict:
        return {
            "base_url": redact_url(self.base_url),
            "endpoint": self.args.endpoint,
            "api_key": f"from ${self.args.api_key_env}" if self._api_key else f"none (${self.args.api_key_env} unset)",
            "model_listed_by_server": None if self.served_models is None else self.target in self.served_models,
        }

    def _redact(self, text: str) -> str:
        return redact(text, [self._api_key, urlsplit(self.base_url).password])

    # ---------------------------------------------------------- connection

    async def _open(self) -> None:
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        connector = aiohttp.TCPConnector(limit=self.args.concurrency, limit_per_host=0, ttl_dns_cache=300)
        self._session = aiohttp.ClientSession(connector=connector, headers=headers)
        self._semaphore = asyncio.Semaphore(self.args.concurrency)
        self._timeout = aiohttp.ClientTimeout(total=self.args.timeout_s)

    async def _probe(self) -> None:
        """GET /models once at start: an unreachable server or a rejected key
        stops the run with one line, instead of failing every sample."""
        url = f"{self.base_url}/models"
        shown = redact_url(self.base_url)
        try:
            timeout = aiohttp.ClientTimeout(total=min(PROBE_TIMEOUT_S, self.args.timeout_s))
            async with self._session.get(url, timeout=timeout, proxy=self._proxy) as resp:
                status = resp.status
                body = await resp.read()
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as e:
            reason = self._redact(str(e) or type(e).__name__)
            raise HarnessError(
                f"cannot reach the OpenAI-compatible server at {shown} ({reason}); start it, or point "
                "--model-arg base_url=... (or OPENAI_BASE_URL) at a running server"
            ) from None
        if status in (401, 403):
            fix = f"set ${self.args.api_key_env} to a valid key" if self._api_key else f"set ${self.args.api_key_env} to your API key"
            raise HarnessError(f"the server at {shown} rejected the API key (HTTP {status}); {fix}")
        if status == 404 and not self.base_url.endswith("/v1"):
            log.warning("GET %s/models answered 404; if every request fails with 404, add /v1 to base_url", shown)
        if status != 200:
            return  # reachable; some servers do not list models
        try:
            ids = [m["id"] for m in json.loads(body)["data"]]
        except (ValueError, KeyError, TypeError):
            return
        self.served_models = ids
        if ids and self.target not in ids:
            log.warning("model '%s' is not among the %d models listed by %s (e.g. %s)", self.target, len(ids), shown, ", ".join(ids[:5]))

    def close(self) -> None:
        if self._loop is None:
            return
        if self._session is not None:
            self._loop.run(self._session.close())
            self._session = None
        self._loop.close()
        self._loop = None

    # ---------------------------------------------------------- one HTTP call with retries

    async def _request(self, path: str, body: dict, parse: Callable[[Any], T]) -> T:
        """POST and parse with the retry policy; raises RetryableError or
        PermanentError after the last attempt.

        The first attempt runs outside tenacity: most requests succeed at once,
        and tenacity's per-attempt bookkeeping costs about a fifth of the CPU of
        a request (bench/openai_adapter.py). A first failure is replayed as
        tenacity's attempt 1, so its waits and attempt count are exact."""
        try:
            return await self._attempt(path, body, parse)
        except RetryableError as e:
            first_failure: RetryableError | None = e
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.args.max_retries + 1),
            wait=WaitRetryAfterOrBackoff(self.args.backoff_s, self.args.max_backoff_s),
            retry=retry_if_exception_type(RetryableError),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                if first_failure is not None:
                    failure, first_failure = first_failure, None
                    raise failure
                self.stats["retries"] += 1
                return await self._attempt(path, body, parse)
        raise AssertionError("unreachable: tenacity reraises the last error")

    async def _attempt(self, path: str, body: dict, parse: Callable[[Any], T]) -> T:
        """One POST; a body that `parse` rejects, or that has the wrong types
        where it reads (a TypeError there comes from server data), is malformed."""
        data = await self._post_once(path, body)
        try:
            return parse(data)
        except RetryableError:
            self.stats["malformed"] += 1
            raise
        except (TypeError, KeyError, AttributeError, IndexError) as e:
            self.stats["malformed"] += 1
            raise RetryableError(f"malformed response ({type(e).__name__}: {e})") from None

    async def _post_once(self, path: str, body: dict) -> dict:
        self.stats["attempts"] += 1
        try:
            async with self._semaphore:
                async with self._session.post(
                    self.base_url + path, data=json.dumps(body), timeout=self._timeout, proxy=self._proxy
                ) as resp:
                    raw = await resp.read()
                    status, headers = resp.status, resp.headers
        except asyncio.TimeoutError:
            self.stats["timeout"] += 1
            raise RetryableError(f"timed out after {self.args.timeout_s:g} s") from None
        except (aiohttp.ClientError, OSError) as e:
            self.stats["connection"] += 1
            raise RetryableError(f"connection failed ({type(e).__name__}: {e})") from None
        if status != 200:
            self.stats[f"http_{status}"] += 1
            message = f"HTTP {status}: {_server_message(raw)}"
            if status in RETRY_STATUSES:
                raise RetryableError(message, parse_retry_after(headers))
            raise PermanentError(message)
        try:
            return json.loads(raw)
        except ValueError:
            self.stats["malformed"] += 1
            raise RetryableError(f"malformed response: body is not JSON ({raw[:80]!r})") from None

    async def _answer(self, make: Callable[[], Awaitable[T]], on_error: Callable[[str, bool], T]) -> T:
        """Run one request's coroutine; a failure that survived the retries becomes an error response."""
        try:
            return await make()
        except (RetryableError, PermanentError) as e:
            self.stats["failed"] += 1
            attempts = f" after {self.args.max_retries + 1} attempts" if isinstance(e, RetryableError) else ""
            return on_error(self._redact(f"openai request failed{attempts}: {e}"), isinstance(e, PermanentError))

    # ---------------------------------------------------------- generation

    def generate(self, requests: list[GenerateRequest], contexts: list[RequestContext]) -> list[Generation]:
        if self.args.endpoint == "completions":
            chat = next((r for r in requests if not isinstance(r.prompt, str)), None)
            if chat is not None:
                raise HarnessError(
                    "this task sends chat messages, which the completions endpoint cannot take; use --model-arg endpoint=chat"
                )
        return self._loop.run(self._gather([self._generate_one(r) for r in requests]))

    async def _gather(self, coros: list[Awaitable[T]]) -> list[T]:
        """All answers in order; each is reported (`answered`) the moment it arrives."""

        async def one(index: int, coro: Awaitable[T]) -> T:
            response = await coro
            self.answered(index, response)  # type: ignore[arg-type]
            return response

        return list(await asyncio.gather(*(one(i, c) for i, c in enumerate(coros))))

    def _generation_body(self, req: GenerateRequest) -> tuple[str, dict]:
        a = self.args
        body: dict[str, Any] = {"model": self.target}
        if a.endpoint == "chat":
            path = "/chat/completions"
            body["messages"] = self._messages(req.prompt)
            body[a.max_tokens_field] = a.max_tokens or req.max_tokens
        else:
            path = "/completions"
            body["prompt"] = req.prompt
            body["max_tokens"] = a.max_tokens or req.max_tokens
        body["temperature"] = req.temperature if a.temperature is None else a.temperature
        if a.top_p is not None:
            body["top_p"] = a.top_p
        seed = req.seed if req.seed is not None else a.seed
        if seed is not None:
            body["seed"] = seed
        if req.stop:
            body["stop"] = list(req.stop[:MAX_STOP_SEQUENCES])
        if req.response_format is not None and a.endpoint == "chat":
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": req.response_format.name, "schema": json.loads(req.response_format.schema_json)},
            }
        body.update(self._extra_body)
        return path, body

    def _messages(self, prompt: Prompt) -> list[dict]:
        messages = [ChatMessage("user", prompt)] if isinstance(prompt, str) else list(prompt)
        if self.args.system_prompt is not None and not any(m.role == "system" for m in messages):
            messages.insert(0, ChatMessage("system", self.args.system_prompt))
        return [message_json(m) for m in messages]

    async def _generate_one(self, req: GenerateRequest) -> Generation:
        async def call() -> Generation:
            path, body = self._generation_body(req)
            return await self._request(path, body, lambda data: self._parse_generation(data, req))

        return await self._answer(call, lambda msg, permanent: Generation(text=None, error=msg, permanent=permanent))

    def _parse_generation(self, data: Any, req: GenerateRequest) -> Generation:
        choice = first_choice(data)
        text, stopped = cut_at_stop(_text_of_choice(choice, self.args.endpoint), req.stop)
        return Generation(text=text, finish_reason="stop" if stopped else choice.get("finish_reason"))

    # ---------------------------------------------------------- log-likelihood

    def loglikelihood(self, requests: list[LoglikelihoodRequest], contexts: list[RequestContext]) -> list[Loglikelihood]:
        if self.args.endpoint != "completions":
            raise HarnessError("log-likelihoods need the completions endpoint (echo + logprobs); pass --model-arg endpoint=completions")
        if any(not isinstance(r.context, str) for r in requests):
            raise HarnessError(
                "this task scores chat-formatted contexts, which the completions endpoint cannot take; use a local hf: model"
            )
        return self._loop.run(self._gather([self._loglikelihood_one(r) for r in requests]))

    async def _loglikelihood_one(self, req: LoglikelihoodRequest) -> Loglikelihood:
        async def call() -> Loglikelihood:
            body = {
                "model": self.target,
                "prompt": req.context + req.continuation,
                "max_tokens": 1,
                "temperature": 0,
                "echo": True,
                "logprobs": 1,
                **self._extra_body,
            }
            return await self._request(
                "/completions", body, lambda data: continuation_loglikelihood(first_choice(data), req.context, req.continuation)
            )

        return await self._answer(call, lambda msg, permanent: Loglikelihood(logprob=None, error=msg, permanent=permanent))


def _server_message(raw: bytes) -> str:
    """The error message a server put in its body, shortened for the sample log."""
    try:
        data = json.loads(raw)
        message = data.get("error", {}).get("message") if isinstance(data.get("error"), dict) else data.get("error") or data.get("message")
    except (ValueError, AttributeError):
        message = None
    text = str(message) if message else raw[:200].decode("utf-8", "replace")
    return text[:300] or "(empty body)"
