"""The paper's transformer in plain PyTorch, with TransformerLens parameter names.

2 layers, 1 head, d_model 128, d_head 128, d_mlp 512, ReLU, no LayerNorm,
learned positions, layer-0 MLP removed, every bias frozen at zero. Parameters
and buffers carry TransformerLens' state-dict names and shapes, so the released
checkpoints load as they are and our checkpoints load in the paper's code.

Only the logits at the last position (`=`) matter for this task, so
`forward_last` runs layer 1 at that position alone: exact, and about four
times cheaper than the full forward. `forward_full` keeps every position and
returns the attention patterns (for the mechanistic diagnostics).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from harness.api import HarnessError
from harness.tasks.assign_add.generator import MOD, SEQ_LEN, VOCAB


@dataclass(frozen=True)
class ModelShape:
    d_model: int = 128
    n_heads: int = 1
    d_head: int = 128
    d_mlp: int = 512
    n_layers: int = 2
    n_ctx: int = SEQ_LEN
    d_vocab: int = VOCAB
    d_vocab_out: int = MOD


class _Holder(nn.Module):
    """A namespace module, so parameter names come out as `embed.W_E` etc."""


class Attention(nn.Module):
    def __init__(self, s: ModelShape):
        super().__init__()
        for name in ("W_Q", "W_K", "W_V"):
            setattr(self, name, nn.Parameter(torch.empty(s.n_heads, s.d_model, s.d_head)))
        self.W_O = nn.Parameter(torch.empty(s.n_heads, s.d_head, s.d_model))
        for name in ("b_Q", "b_K", "b_V"):
            self.register_buffer(name, torch.zeros(s.n_heads, s.d_head))
        self.register_buffer("b_O", torch.zeros(s.d_model))
        self.register_buffer("mask", torch.tril(torch.ones(s.n_ctx, s.n_ctx, dtype=torch.bool)))
        self.register_buffer("IGNORE", torch.tensor(-torch.inf))
        self.scale = math.sqrt(s.d_head)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Causal attention at every position; returns (output, pattern (B, H, P, P))."""
        q, k, v = (
            torch.einsum("bpd,hde->bhpe", x, w) + b[:, None] for w, b in ((self.W_Q, self.b_Q), (self.W_K, self.b_K), (self.W_V, self.b_V))
        )
        p = x.shape[1]
        scores = torch.where(self.mask[:p, :p], (q @ k.transpose(-1, -2)) / self.scale, self.IGNORE)
        pattern = scores.softmax(-1)
        return torch.einsum("bhpe,hed->bpd", pattern @ v, self.W_O) + self.b_O, pattern

    def forward_last(self, x: torch.Tensor) -> torch.Tensor:
        """Attention output (B, d_model) for the last query only (it sees every
        position). Keys and values are never materialised: the query is moved
        through W_K (scores = x . (W_K q)) and the pattern is applied to x before
        W_V, which is exact and saves two (B*P, d) x (d, d) products."""
        q = torch.einsum("bd,hde->bhe", x[:, -1], self.W_Q) + self.b_Q
        q_in_resid = torch.einsum("bhe,hde->bhd", q, self.W_K)  # q . b_K is the same for every key: softmax drops it
        pattern = (torch.einsum("bpd,bhd->bhp", x, q_in_resid) / self.scale).softmax(-1)
        mixed = torch.einsum("bhp,bpd->bhd", pattern, x)
        z = torch.einsum("bhd,hde->bhe", mixed, self.W_V) + self.b_V  # the pattern sums to 1, so b_V passes through
        return torch.einsum("bhe,hed->bd", z, self.W_O) + self.b_O

    def forward_first_layer(self, embed: torch.Tensor, pos: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Residual stream after a first attention layer (input `embed[tokens] + pos`),
        computed from per-token and per-position tables: the projections are
        linear in the input, so a query or key is `token row + position row`
        and every score is a sum of four table entries (token.token,
        token.position, position.token, position.position), looked up instead
        of multiplied out for B*16*16 pairs. Exact; ~5x cheaper for a training
        step on CPU than the plain layer."""
        h, d, e = self.W_Q.shape
        n_tok, p = embed.shape[0], tokens.shape[1]
        q_tok, k_tok = (torch.einsum("vd,hde->hve", embed, w) for w in (self.W_Q, self.W_K))
        q_pos = torch.einsum("pd,hde->hpe", pos[:p], self.W_Q) + self.b_Q[:, None]
        k_pos = torch.einsum("pd,hde->hpe", pos[:p], self.W_K) + self.b_K[:, None]
        t_i, j = tokens[:, :, None], torch.arange(p, device=tokens.device)
        scores = (
            (q_tok @ k_tok.transpose(1, 2)).flatten(1)[:, t_i * n_tok + tokens[:, None, :]]
            + (q_tok @ k_pos.transpose(1, 2)).flatten(1)[:, t_i * p + j]
            + (q_pos @ k_tok.transpose(1, 2)).flatten(1)[:, j[:, None] * n_tok + tokens[:, None, :]]
            + (q_pos @ k_pos.transpose(1, 2))[:, None]
        ).transpose(0, 1)  # (B, H, P, P)
        scores = torch.where(self.mask[:p, :p], scores / self.scale, self.IGNORE)
        w_ov = torch.einsum("hde,hef->dhf", self.W_V, self.W_O).reshape(d, h * d)
        b_ov = torch.einsum("he,hef->hf", self.b_V, self.W_O).reshape(-1)
        ov = (F.embedding(tokens, embed @ w_ov) + (pos[:p] @ w_ov + b_ov)).unflatten(-1, (h, d)).transpose(1, 2)
        out = (scores.softmax(-1) @ ov).sum(1)  # (B, P, d)
        return F.embedding(tokens, embed) + pos[:p] + out + self.b_O


class MLP(nn.Module):
    def __init__(self, s: ModelShape, removed: bool):
        super().__init__()
        w_in, w_out = torch.empty(s.d_model, s.d_mlp), torch.empty(s.d_mlp, s.d_model)
        if removed:  # zero and frozen, but kept in the state dict like the paper's
            self.register_buffer("W_in", torch.zeros_like(w_in))
            self.register_buffer("W_out", torch.zeros_like(w_out))
        else:
            self.W_in, self.W_out = nn.Parameter(w_in), nn.Parameter(w_out)
        self.register_buffer("b_in", torch.zeros(s.d_mlp))
        self.register_buffer("b_out", torch.zeros(s.d_model))
        self.removed = removed

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x @ self.W_in + self.b_in) @ self.W_out + self.b_out


class Block(nn.Module):
    def __init__(self, s: ModelShape, mlp_removed: bool):
        super().__init__()
        self.attn = Attention(s)
        self.mlp = MLP(s, mlp_removed)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out, pattern = self.attn(x)
        x = x + out
        if not self.mlp.removed:
            x = x + self.mlp(x)
        return x, pattern


class AssignAddTransformer(nn.Module):
    def __init__(self, shape: ModelShape = ModelShape(), mlp0_removed: bool = True):
        super().__init__()
        self.shape = shape
        self.embed, self.pos_embed, self.unembed = _Holder(), _Holder(), _Holder()
        self.embed.W_E = nn.Parameter(torch.empty(shape.d_vocab, shape.d_model))
        self.pos_embed.W_pos = nn.Parameter(torch.empty(shape.n_ctx, shape.d_model))
        self.blocks = nn.ModuleList([Block(shape, mlp_removed=(i == 0 and mlp0_removed)) for i in range(shape.n_layers)])
        self.unembed.W_U = nn.Parameter(torch.empty(shape.d_model, shape.d_vocab_out))
        self.unembed.register_buffer("b_U", torch.zeros(shape.d_vocab_out))

    def init_weights(self, generator: torch.Generator) -> None:
        """TransformerLens "gpt2" init: every trainable weight ~ N(0, 0.8/sqrt(d_model))."""
        std = 0.8 / math.sqrt(self.shape.d_model)
        with torch.no_grad():
            for p in self.parameters():
                p.normal_(0.0, std, generator=generator)

    def embed_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        return F.embedding(tokens, self.embed.W_E) + self.pos_embed.W_pos[: tokens.shape[1]]

    def forward_last(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits (B, 59) at the last position: the loss and the prediction need
        nothing else. Layer 0 uses the table trick when its MLP is removed."""
        first = self.blocks[0]
        if len(self.blocks) > 1 and first.mlp.removed:
            x = first.attn.forward_first_layer(self.embed.W_E, self.pos_embed.W_pos, tokens)
            middle = self.blocks[1:-1]
        else:
            x = self.embed_tokens(tokens)
            middle = self.blocks[:-1]
        for block in middle:
            x, _ = block(x)
        last = self.blocks[-1]
        r = x[:, -1] + last.attn.forward_last(x)
        if not last.mlp.removed:
            r = r + last.mlp(r)
        return r @ self.unembed.W_U + self.unembed.b_U

    def forward_full(self, tokens: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Logits (B, P, 59) and each layer's attention pattern (B, H, P, P)."""
        x = self.embed_tokens(tokens)
        patterns = []
        for block in self.blocks:
            x, pattern = block(x)
            patterns.append(pattern)
        return x @ self.unembed.W_U + self.unembed.b_U, patterns

    @torch.no_grad()
    def predict(self, tokens: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
        """Argmax number at the last position, in chunks."""
        device = self.unembed.W_U.device
        out = [self.forward_last(tokens[i : i + batch_size].to(device)).argmax(-1).cpu() for i in range(0, len(tokens), batch_size)]
        return torch.cat(out) if out else torch.empty(0, dtype=torch.long)


# ---------------------------------------------------------------- state dicts

_REQUIRED_PER_BLOCK = ("attn.W_Q", "attn.W_K", "attn.W_V", "attn.W_O")
_OPTIONAL_PER_BLOCK = (
    "attn.b_Q",
    "attn.b_K",
    "attn.b_V",
    "attn.b_O",
    "attn.mask",
    "attn.IGNORE",
    "mlp.W_in",
    "mlp.W_out",
    "mlp.b_in",
    "mlp.b_out",
)


def model_from_state_dict(sd: dict, source: str) -> AssignAddTransformer:
    """Build the model from a TransformerLens state dict, inferring its sizes.
    Missing biases, masks and a missing layer-0 MLP default to the paper's
    zeros; unknown keys (LayerNorm, a second unembedding...) are refused."""
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise HarnessError(f"{source}: not a state dict of tensors; pass a TransformerLens .pth of the Assign-and-Add model")
    for key in ("embed.W_E", "pos_embed.W_pos", "unembed.W_U"):
        if key not in sd:
            raise HarnessError(f"{source}: missing '{key}'; this is not an Assign-and-Add TransformerLens checkpoint")
    n_layers = 1 + max((int(k.split(".")[1]) for k in sd if k.startswith("blocks.")), default=-1)
    known = {"embed.W_E", "pos_embed.W_pos", "unembed.W_U", "unembed.b_U"}
    for i in range(n_layers):
        known.update(f"blocks.{i}.{name}" for name in _REQUIRED_PER_BLOCK + _OPTIONAL_PER_BLOCK)
    unknown = sorted(set(sd) - known)
    if unknown:
        raise HarnessError(
            f"{source}: unexpected parameters {', '.join(unknown[:3])}; this model has no LayerNorm or extra heads (see the README, section Assign-and-Add)"
        )
    missing = [f"blocks.{i}.{n}" for i in range(n_layers) for n in _REQUIRED_PER_BLOCK if f"blocks.{i}.{n}" not in sd]
    if n_layers == 0 or missing:
        raise HarnessError(f"{source}: missing attention weights {', '.join(missing[:3]) or '(no blocks)'}")
    n_heads, d_model, d_head = sd["blocks.0.attn.W_Q"].shape
    w_in = next((sd[f"blocks.{i}.mlp.W_in"] for i in range(n_layers) if f"blocks.{i}.mlp.W_in" in sd), None)
    shape = ModelShape(
        d_model=d_model,
        n_heads=n_heads,
        d_head=d_head,
        d_mlp=w_in.shape[1] if w_in is not None else 4 * d_model,
        n_layers=n_layers,
        n_ctx=sd["pos_embed.W_pos"].shape[0],
        d_vocab=sd["embed.W_E"].shape[0],
        d_vocab_out=sd["unembed.W_U"].shape[1],
    )
    if (shape.d_vocab, shape.d_vocab_out) != (VOCAB, MOD) or shape.n_ctx < SEQ_LEN:
        raise HarnessError(
            f"{source}: vocabulary {shape.d_vocab}->{shape.d_vocab_out} with {shape.n_ctx} positions; "
            f"the Assign-and-Add model needs {VOCAB}->{MOD} and at least {SEQ_LEN} positions"
        )
    mlp0 = [sd.get(f"blocks.0.mlp.{n}") for n in ("W_in", "W_out")]
    mlp0_removed = n_layers > 1 and all(t is None or not torch.any(t) for t in mlp0)
    model = AssignAddTransformer(shape, mlp0_removed=mlp0_removed)
    own = model.state_dict()
    for key, value in sd.items():
        if own[key].shape != value.shape:
            raise HarnessError(f"{source}: '{key}' has shape {tuple(value.shape)}, expected {tuple(own[key].shape)}")
    missing_mlp = [k for k in own if ".mlp.W_" in k and k not in sd and not (k.startswith("blocks.0.") and mlp0_removed)]
    if missing_mlp:
        raise HarnessError(f"{source}: missing {missing_mlp[0]}")
    model.load_state_dict({**own, **{k: v.to(own[k].dtype) for k, v in sd.items()}})
    return model


def load_checkpoint_file(path: Path) -> AssignAddTransformer:
    """Load a .pth state dict safely (`weights_only=True`: tensors, never code)."""
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a corrupt or non-weights pickle
        raise HarnessError(f"{path}: cannot be read as a weights-only PyTorch file ({type(e).__name__}: {e})") from None
    return model_from_state_dict(sd, str(path))
