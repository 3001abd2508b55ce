"""The shared tiny models load like released checkpoints and behave as documented."""

from transformers import AutoModelForCausalLM, AutoTokenizer

from harness.testing.tiny_models import QA_PAIRS


def _greedy(tok, model, prompt, max_new_tokens=8):
    ids = tok(prompt, return_tensors="pt")
    out = model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False)
    return tok.decode(out[0, ids.input_ids.shape[1] :])


def test_tokenizer_has_specials_left_padding_and_chat_template(tiny_gpt2_dir):
    tok = AutoTokenizer.from_pretrained(tiny_gpt2_dir)
    assert len(tok) == 512
    assert tok.eos_token == "<|endoftext|>" and tok.pad_token == "<|pad|>"
    assert tok.padding_side == "left"
    rendered = tok.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True)
    assert rendered == "<|user|>Hi<|end|>\n<|assistant|>"


def test_llama_and_qwen3_use_grouped_query_attention(tiny_llama_dir, tiny_qwen3_dir):
    for d in (tiny_llama_dir, tiny_qwen3_dir):
        cfg = AutoModelForCausalLM.from_pretrained(d).config
        assert (cfg.num_attention_heads, cfg.num_key_value_heads) == (4, 2)


def test_builders_are_deterministic(tmp_path, tiny_llama_dir):
    from harness.testing.tiny_models import build_tiny_llama

    again = build_tiny_llama(tmp_path / "again")
    assert (again / "model.safetensors").read_bytes() == (tiny_llama_dir / "model.safetensors").read_bytes()


def test_trained_model_answers_known_questions(trained_qa_dir):
    tok = AutoTokenizer.from_pretrained(trained_qa_dir)
    model = AutoModelForCausalLM.from_pretrained(trained_qa_dir)
    for question, answer in QA_PAIRS:
        chat = tok.apply_chat_template([{"role": "user", "content": question}], tokenize=False, add_generation_prompt=True)
        for prompt in (question, f"Question: {question}\nAnswer:", chat):
            assert _greedy(tok, model, prompt) == f" {answer}\n<|endoftext|>"
