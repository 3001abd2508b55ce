"""`hf:<local path or hub id>`: a transformers causal LM run in-process.

See the package docstring (harness.adapters.hf) for the steering interface.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import logging
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal
from urllib.parse import urlsplit

import torch

from harness.adapters.hf.batching import ForwardInfo, left_pad
from harness.adapters.hf.decoding import DecodeRow, DecodeSettings, decode_all
from harness.adapters.hf.scoring import ScoreRow, ScoreSettings, encode_pair, score_all
from harness.api import (
    GenerateRequest,
    Generation,
    HarnessError,
    Loglikelihood,
    LoglikelihoodRequest,
    ModelAdapter,
    Prompt,
    RequestContext,
)
from harness.registry import register_model

_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
_DEVICE_PATTERN = re.compile(r"^(cpu|auto|mps|cuda(:\d+)?)$")
# Where transformers keeps the decoder blocks, by architecture family.
_LAYER_PATHS = ("model.layers", "transformer.h", "gpt_neox.layers", "model.decoder.layers", "transformer.layers")
# Config fields that give the context window, in lm-eval's order, then two used by remote code.
_WINDOW_FIELDS = ("n_positions", "max_position_embeddings", "n_ctx", "max_sequence_length", "seq_length")
_DEFAULT_WINDOW = 2048  # lm-eval's default when neither the config nor the tokenizer says
# TruncationCounts field -> the input it counts, for the log.
_TRUNCATED_INPUTS = {"prompts": "generation prompt", "contexts": "log-likelihood context", "texts": "hidden-states text"}

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HFArgs:
    device: str = "auto"  # cpu, cuda, cuda:N, mps, or auto (cuda when available)
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"  # auto: float32 on CPU, the checkpoint's on GPU
    chat_template: bool = True  # render chat prompts with the tokenizer's template
    batch_size: int = 16
    max_length: int | None = None  # context window in tokens (prompt + generation); default: the model's
    trust_remote_code: bool = False
    revision: str | None = None
    attn_implementation: str | None = None  # eager, sdpa, ...; default: transformers' choice

    def __post_init__(self):
        if not _DEVICE_PATTERN.match(self.device):
            raise HarnessError(f"model arg device={self.device} is not understood; use cpu, cuda, cuda:N, mps or auto")
        if self.batch_size < 1:
            raise HarnessError(f"model arg batch_size={self.batch_size} must be at least 1")
        if self.max_length is not None and self.max_length < 2:
            raise HarnessError(f"model arg max_length={self.max_length} must be at least 2 tokens")


def _resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise HarnessError(f"model arg device={name} but no CUDA GPU is visible; use device=cpu")
    if name == "mps" and not torch.backends.mps.is_available():
        raise HarnessError("model arg device=mps but MPS is not available; use device=cpu")
    return torch.device(name)


def _resolve_dtype(name: str, device: torch.device) -> torch.dtype | str:
    if name != "auto":
        return _DTYPES[name]
    return torch.float32 if device.type == "cpu" else "auto"


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


def layer_hidden(output) -> torch.Tensor:
    """The hidden states in a decoder layer's output (a Tensor, or a tuple led by one)."""
    return output[0] if isinstance(output, tuple) else output


def with_layer_hidden(output, hidden: torch.Tensor):
    """`output` with its hidden states replaced, in the same structure (for forward hooks)."""
    return (hidden,) + tuple(output[1:]) if isinstance(output, tuple) else hidden


@dataclass
class TruncationCounts:
    """Inputs longer than the window that lost tokens on the left, since the model loaded."""

    prompts: int = 0  # generation prompts
    contexts: int = 0  # log-likelihood contexts
    texts: int = 0  # hidden_states texts
    tokens_dropped: int = 0

    @property
    def total(self) -> int:
        return self.prompts + self.contexts + self.texts


class HiddenStates(dict):
    """{layer: Tensor[B, T, hidden]}: the residual stream after each requested
    decoder layer, left-padded; `attention_mask` [B, T] marks real tokens,
    `lengths` their count per row, `input_ids` the tokens."""

    def __init__(self, states: dict[int, torch.Tensor], input_ids: torch.Tensor, attention_mask: torch.Tensor, lengths: tuple[int, ...]):
        super().__init__(states)
        self.input_ids = input_ids
        self.attention_mask = attention_mask
        self.lengths = lengths


def _hub_cached(repo_id: str, revision: str | None) -> bool:
    """Whether the hub id's config is in the local cache (then loading needs no network)."""
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(repo_id, "config.json", revision=revision), str)
    except Exception:  # noqa: BLE001 - an odd id: let from_pretrained report it
        return True


def _hub_reachable(timeout_s: float = 3.0) -> bool:
    """One TCP connection to the hub (False at once when HF_HUB_OFFLINE is set)."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    endpoint = urlsplit(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    try:
        with socket.create_connection((endpoint.hostname or "huggingface.co", endpoint.port or 443), timeout=timeout_s):
            return True
    except OSError:
        return False


def cache_argument(model: torch.nn.Module) -> str:
    """The name the model's forward takes its KV cache under: `cache` in current
    transformers (`past_key_values` is deprecated there), `past_key_values` before."""
    return _cache_argument_of(type(model))


@functools.cache
def _cache_argument_of(model_class: type) -> str:
    return "cache" if "cache" in inspect.signature(model_class.forward).parameters else "past_key_values"


@register_model
class HFAdapter(ModelAdapter):
    name = "hf"
    description = "A local transformers causal LM (path or cached hub id): generation, log-likelihoods, steering hooks."
    Args = HFArgs
    capabilities = frozenset({"generate", "loglikelihood", "token_logprobs"})
    replicable = True

    def __init__(self, target: str, args: HFArgs | None = None):
        super().__init__(target, args)
        if not target:
            raise HarnessError("hf needs a model: --model hf:PATH_OR_HUB_ID")
        from transformers import AutoModelForCausalLM, AutoTokenizer

        looks_like_path = target.startswith(("/", ".", "~")) or target.count("/") > 1
        if looks_like_path and not Path(target).expanduser().exists():
            raise HarnessError(f"hf model directory '{target}' does not exist; pass a local model directory or a hub id in the local cache")
        target = str(Path(target).expanduser()) if looks_like_path else target
        self.device = _resolve_device(self.args.device)
        common = {"revision": self.args.revision, "trust_remote_code": self.args.trust_remote_code}
        load = {"dtype": _resolve_dtype(self.args.dtype, self.device), **common}
        if self.args.attn_implementation:
            load["attn_implementation"] = self.args.attn_implementation
        fix = "pass a local model directory or a hub id in the local cache"
        offline = (
            {}
            if looks_like_path or Path(target).is_dir() or _hub_cached(target, self.args.revision) or _hub_reachable()
            else {"local_files_only": True}
        )  # not cached and no hub: fail now, not after the hub client's retries
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(target, **common, **offline)
            self.model = AutoModelForCausalLM.from_pretrained(target, **load, **offline).to(self.device)
        except Exception as e:  # noqa: BLE001 - any load failure is reported as the user's input problem
            hub = "; the Hugging Face hub cannot be reached and it is not in the local cache" if offline else ""
            raise HarnessError(f"cannot load hf model '{target}': {_first_line(e)}{hub}; {fix}") from None
        self.model.train(False)  # no dropout
        self.forward_info: ForwardInfo | None = None
        self._pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        if self._pad_id is None:
            raise HarnessError(f"hf model '{target}': the tokenizer has neither a pad nor an end-of-text token")
        # What an empty prompt or context is conditioned on (as lm-eval does).
        specials = (self.tokenizer.bos_token_id, self.tokenizer.eos_token_id, self._pad_id)
        self._prefix_id = next(i for i in specials if i is not None)
        self.uses_chat_template = self.args.chat_template and bool(getattr(self.tokenizer, "chat_template", None))
        self.max_length, self.max_length_source = self._context_window()
        self.truncations = TruncationCounts()
        self._keeps_logits = "logits_to_keep" in inspect.signature(self.model.forward).parameters

    # ------------------------------------------------------------ description

    def _context_window(self) -> tuple[int, str]:
        """(tokens, where that number came from): the `max_length` model arg, else
        the config's n_positions / max_position_embeddings / n_ctx (then
        max_sequence_length / seq_length), else the tokenizer's model_max_length
        unless it is transformers' "unset" huge value, else 2048 (lm-eval's rule)."""
        config = self.model.config.get_text_config()
        from_config = next(((key, v) for key in _WINDOW_FIELDS if isinstance(v := getattr(config, key, None), int) and v > 0), None)
        if self.args.max_length:
            if from_config and self.args.max_length > from_config[1]:
                log.warning(
                    "hf: max_length=%d exceeds the model's %s=%d; positions past it may fail (learned position tables) or degrade (rotary)",
                    self.args.max_length,
                    from_config[0],
                    from_config[1],
                )
            return self.args.max_length, "model arg max_length"
        if from_config:
            return from_config[1], f"config.{from_config[0]}"
        tokenizer_limit = getattr(self.tokenizer, "model_max_length", None)
        if isinstance(tokenizer_limit, int) and 0 < tokenizer_limit < 10**7:
            return tokenizer_limit, "tokenizer.model_max_length"
        return _DEFAULT_WINDOW, "default"

    def _left_truncate(self, ids: list[int], keep: int, counter: Literal["prompts", "contexts", "texts"]) -> list[int]:
        """The last `keep` tokens of `ids` (lm-eval keeps the end of a long input).
        The first truncation is logged; later ones are counted in `truncations`
        and summed up when the adapter closes."""
        if len(ids) <= keep:
            return ids
        if not self.truncations.total:
            log.warning(
                "hf: a %s of %d tokens does not fit max_length %d (%s); keeping its last %d tokens, as lm-eval does "
                "(further truncations are counted and reported when the run ends)",
                _TRUNCATED_INPUTS[counter],
                len(ids),
                self.max_length,
                self.max_length_source,
                keep,
            )
        setattr(self.truncations, counter, getattr(self.truncations, counter) + 1)
        self.truncations.tokens_dropped += len(ids) - keep
        return ids[-keep:]

    def fingerprint(self) -> str:
        """Model identity for the response cache: the checkpoint's content, not just its path."""
        h = hashlib.sha256()
        local = Path(self.target).expanduser()
        if local.is_dir():
            for f in sorted(local.iterdir()):
                if f.is_file():
                    stat = f.stat()
                    h.update(f"{f.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
        else:
            h.update(str(getattr(self.model.config, "_commit_hash", None)).encode())
        settings = {"dtype": str(self.model.dtype), "chat_template": self.uses_chat_template, "max_length": self.max_length}
        h.update(json.dumps(settings, sort_keys=True).encode())
        return f"hf:{self.target}:{h.hexdigest()[:16]}"

    def describe(self) -> dict:
        return {
            "dtype": str(self.model.dtype).removeprefix("torch."),
            "device": str(self.device),
            "architecture": type(self.model).__name__,
            "parameters": sum(p.numel() for p in self.model.parameters()),
            "revision": getattr(self.model.config, "_commit_hash", None) or self.args.revision,
            "chat_template": self.uses_chat_template,
            "max_length": self.max_length,
            "max_length_source": self.max_length_source,
            "attn_implementation": self.attention_implementation,
        }

    # ------------------------------------------------------------ prompts and tokens

    def render(self, prompt: Prompt) -> str:
        """The text the model sees: plain text as is; a chat through the tokenizer's
        template with the assistant turn opened, or, without a template (or with
        chat_template=false), the message texts joined by blank lines."""
        if isinstance(prompt, str):
            return prompt
        if any(m.has_images() for m in prompt):
            raise HarnessError("hf models here are text-only; this prompt contains images")
        if self.uses_chat_template:
            messages = [{"role": m.role, "content": m.text()} for m in prompt]
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return "\n\n".join(m.text() for m in prompt)

    def _adds_special_tokens(self, prompt: Prompt, text: str) -> bool:
        """A chat template writes its own BOS; plain text gets the tokenizer's default
        specials unless it already starts with BOS (as lm-eval does)."""
        if not isinstance(prompt, str) and self.uses_chat_template:
            return False
        bos = self.tokenizer.bos_token
        return not (bos and text.startswith(bos))

    def _encode(self, text: str, add_special_tokens: bool) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=add_special_tokens)

    def _decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def _eos_ids(self) -> frozenset[int]:
        ids = {self.tokenizer.eos_token_id}
        configured = getattr(self.model.generation_config, "eos_token_id", None)
        ids.update(configured if isinstance(configured, list) else [configured])
        return frozenset(i for i in ids if i is not None)

    # ------------------------------------------------------------ forward passes

    @torch.no_grad()
    def _call_model(self, info: ForwardInfo, last_only: bool = True, **kwargs) -> torch.Tensor:
        """One forward pass with `forward_info` published to hooks; returns logits
        ([B, V] of the last position when `last_only`, else [B, T, V])."""
        if last_only and self._keeps_logits:
            kwargs["logits_to_keep"] = 1
        kwargs.setdefault("use_cache", kwargs.get("past_key_values") is not None)
        if "past_key_values" in kwargs:
            kwargs[cache_argument(self.model)] = kwargs.pop("past_key_values")
        self.forward_info = info
        try:
            logits = self.model(**kwargs).logits
        finally:
            self.forward_info = None
        return logits[:, -1] if last_only else logits

    # ------------------------------------------------------------ requests

    def generate(self, requests: list[GenerateRequest], contexts: list[RequestContext]) -> list[Generation]:
        rows, errors = [], {}
        for i, req in enumerate(requests):
            if req.response_format is not None:
                errors[i] = "hf: models cannot constrain their output to a JSON schema; use an openai: chat model for this role"
                continue
            try:
                text = self.render(req.prompt)
            except HarnessError as e:
                errors[i] = str(e)
                continue
            ids = self._encode(text, self._adds_special_tokens(req.prompt, text)) or [self._prefix_id]
            # Room for the answer, but a huge max_tokens never truncates the prompt below half the window.
            budget = max(self.max_length - req.max_tokens, self.max_length // 2)
            generator = None
            if req.temperature > 0 and req.seed is not None:
                generator = torch.Generator(device=self.device).manual_seed(req.seed)
            prompt_ids = self._left_truncate(ids, budget, "prompts")
            rows.append(DecodeRow(i, prompt_ids, req.max_tokens, tuple(req.stop), req.temperature, generator))
        settings = DecodeSettings(
            self._pad_id, self._eos_ids(), self.device, self.args.batch_size, self.max_length, self._decode, self.model.config
        )
        decode_all(rows, settings, self._call_model)
        out = [Generation(text=None, error=errors[i]) if i in errors else None for i in range(len(requests))]
        for row in rows:
            out[row.index] = Generation(text=row.text, finish_reason=row.finish_reason)
        return out

    def loglikelihood(self, requests: list[LoglikelihoodRequest], contexts: list[RequestContext]) -> list[Loglikelihood]:
        rows, errors = [], {}
        for i, req in enumerate(requests):
            try:
                text = self.render(req.context)
            except HarnessError as e:
                errors[i] = str(e)
                continue
            context_ids, continuation_ids = encode_pair(
                text, req.continuation, self._encode, self._adds_special_tokens(req.context, text), [self._prefix_id]
            )
            # lm-eval keeps the last max_length + 1 tokens of context + continuation
            # (the last one is only predicted), so at least one context token stays.
            room = self.max_length + 1 - len(continuation_ids)
            if room < 1:
                errors[i] = (
                    f"the continuation alone is {len(continuation_ids)} tokens, more than the model's window of "
                    f"{self.max_length} ({self.max_length_source}); shorten it or raise --model-arg max_length"
                )
                continue
            rows.append(ScoreRow(i, self._left_truncate(context_ids, room, "contexts"), continuation_ids))
        score_all(rows, ScoreSettings(self._pad_id, self.device, self.args.batch_size, self.model.config), self._call_model)
        out = [Loglikelihood(logprob=None, error=errors[i]) if i in errors else None for i in range(len(requests))]
        for row in rows:
            out[row.index] = Loglikelihood(
                logprob=float(sum(row.token_logprobs)), is_greedy=row.is_greedy, token_logprobs=row.token_logprobs
            )
        return out

    # ------------------------------------------------------------ steering interface

    def decoder_layers(self) -> list[torch.nn.Module]:
        """The model's decoder blocks, in order."""
        for path in _LAYER_PATHS:
            module = self.model
            for part in path.split("."):
                module = getattr(module, part, None)
                if module is None:
                    break
            if isinstance(module, torch.nn.ModuleList):
                return list(module)
        n_layers = getattr(self.model.config.get_text_config(), "num_hidden_layers", None)
        for _, module in self.model.named_modules():
            if isinstance(module, torch.nn.ModuleList) and len(module) == n_layers:
                return list(module)
        raise HarnessError(f"cannot find the decoder layers of {type(self.model).__name__}; steering does not support it")

    def add_layer_hook(self, layer: int, hook: Callable) -> torch.utils.hooks.RemovableHandle:
        """`hook(module, args, kwargs, output)` after decoder layer `layer`; it may
        return a replacement output (use `with_layer_hidden`). Remove it with
        `handle.remove()`."""
        layers = self.decoder_layers()
        if not -len(layers) <= layer < len(layers):
            raise HarnessError(f"layer {layer} does not exist; the model has layers 0-{len(layers) - 1}")
        return layers[layer].register_forward_hook(hook, with_kwargs=True)

    @property
    def attention_implementation(self) -> str:
        return self.model.config._attn_implementation

    def set_attention_implementation(self, name: str) -> None:
        """Switch the attention backend (eager, sdpa, or one registered in transformers' AttentionInterface)."""
        try:
            self.model.set_attn_implementation(name)
        except (ValueError, ImportError, KeyError) as e:
            raise HarnessError(f"cannot use attention implementation '{name}': {_first_line(e)}") from None

    @torch.no_grad()
    def hidden_states(self, texts: list[str], layers: list[int]) -> HiddenStates:
        """Residual stream after each of `layers` for every token of `texts`
        (tokenised as plain-text prompts), left-padded to one length."""
        n_layers = len(self.decoder_layers())
        bad = [l for l in layers if not 0 <= l < n_layers]
        if bad:
            raise HarnessError(f"layer {bad[0]} does not exist; the model has layers 0-{n_layers - 1}")
        token_rows = [self._encode(t, self._adds_special_tokens(t, t)) or [self._prefix_id] for t in texts]
        token_rows = [self._left_truncate(ids, self.max_length, "texts") for ids in token_rows]
        batch = left_pad(token_rows, self._pad_id, self.device)
        captured: dict[int, list[torch.Tensor]] = {l: [] for l in layers}
        handles = []
        for l in layers:
            handles.append(self.add_layer_hook(l, lambda m, a, k, out, l=l: captured[l].append(layer_hidden(out).detach())))
        try:
            for start in range(0, len(texts), self.args.batch_size):
                part = slice(start, start + self.args.batch_size)
                info = ForwardInfo("hidden_states", tuple(range(len(texts)))[part], batch.lengths[part], batch.pad_lengths[part], 0)
                self._call_model(
                    info,
                    input_ids=batch.input_ids[part],
                    attention_mask=batch.attention_mask[part],
                    position_ids=batch.position_ids[part],
                    use_cache=False,
                )
        finally:
            for h in handles:
                h.remove()
        states = {l: torch.cat(chunks, dim=0) for l, chunks in captured.items()}
        return HiddenStates(states, batch.input_ids, batch.attention_mask, batch.lengths)

    def spectral_probe(self):
        """This model for the spectral lens, `harness analyze spectra` (see harness.adapters.hf.spectral)."""
        from harness.adapters.hf.spectral import HFSpectralProbe

        return HFSpectralProbe(self)

    def kv_bytes_per_token(self) -> int:
        """Bytes of KV cache per token: layers x KV heads x head_dim x 2 (K and V) x dtype size."""
        config = self.model.config.get_text_config()
        heads = config.num_attention_heads
        kv_heads = getattr(config, "num_key_value_heads", None) or heads
        head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
        return config.num_hidden_layers * kv_heads * head_dim * 2 * self.model.dtype.itemsize

    def close(self) -> None:
        if self.truncations.total:
            t = self.truncations
            log.warning(
                "hf: left-truncated to fit max_length %d: %d generation prompts, %d log-likelihood contexts, "
                "%d hidden-states texts (%d tokens dropped in all)",
                self.max_length,
                t.prompts,
                t.contexts,
                t.texts,
                t.tokens_dropped,
            )
        self.model = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
