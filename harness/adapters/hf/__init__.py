"""The local Hugging Face adapter, `--model hf:<local path or hub id>`.

Generation: requests sorted by prompt length, left-padded waves of
`batch_size` rows sharing a KV cache; rows that finish (end-of-text, a stop
string found in the decoded text, their token budget) leave the batch and the
cache at once (`decoding.py`). Log-likelihoods: one forward pass per distinct
context, shared by all its continuations (`scoring.py`).

Steering interface (public; steering wrappers use only these names):

- `adapter.model`, `adapter.tokenizer`, `adapter.device`: the loaded
  PreTrainedModel, its tokenizer and torch device. Read-only use.
- `adapter.render(prompt) -> str`: the text the model sees (chat template
  applied to chat prompts when enabled).
- `adapter.decoder_layers() -> list[nn.Module]`: the decoder blocks.
- `adapter.add_layer_hook(layer, hook) -> handle`: `hook(module, args, kwargs,
  output)` runs after that block (`register_forward_hook(with_kwargs=True)`);
  returning a value replaces the output. The output is a Tensor [B, T, H] for
  Llama, Qwen and GPT-2 in transformers 5, a tuple led by it in some remote
  code: read it with `layer_hidden(output)`, replace it with
  `with_layer_hidden(output, new_hidden)`. `handle.remove()` uninstalls it.
- `adapter.forward_info`: during every forward pass the adapter makes, a
  `ForwardInfo` (batching.py): `kind` ("generate", "loglikelihood",
  "hidden_states"), `rows`, `prompt_lengths`, `pad_lengths`, `prompt_ends`,
  `offset`, and `relative_positions(seq_len)` giving each token's position
  relative to its row's prompt end (0 = first generated or continuation
  token). It stays correct under cached decoding (one token per forward,
  `offset` = cached length) and when finished rows have left the batch; it is
  None outside the adapter's forward passes.
- `adapter.attention_implementation` / `adapter.set_attention_implementation(name)`.
- `adapter.hidden_states(texts, layers) -> HiddenStates`: a dict {layer:
  Tensor[B, T, H]} of the residual stream after each block, left-padded, with
  `.attention_mask`, `.lengths` and `.input_ids` to pick token positions.
- `adapter.kv_bytes_per_token()`: KV-cache bytes stored per token.

Running code around each batch: install hooks, call `adapter.generate(...)` /
`adapter.loglikelihood(...)`, remove the hooks (a context manager in the
wrapper); inside a hook, `adapter.forward_info` says which rows and positions
the current forward covers.
"""

from harness.adapters.hf.adapter import HFAdapter, HFArgs, HiddenStates, layer_hidden, with_layer_hidden
from harness.adapters.hf.batching import ForwardInfo

__all__ = ["HFAdapter", "HFArgs", "HiddenStates", "ForwardInfo", "layer_hidden", "with_layer_hidden"]
