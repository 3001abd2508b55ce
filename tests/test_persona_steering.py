"""On a tiny model trained here so that a persona instruction moves its answers,
prompt, mi and caa all move p(matching) the instructed way on held-out
statements; no steering moves nothing."""

from __future__ import annotations

import json
import random

import pytest
import torch

from harness.runner import RunConfig, run_eval
from harness.tasks.persona.data import load_items, split_items
from harness.tasks.persona.task import ANSWER_INSTRUCTION

TRAIT = "agreeableness"
GUIDANCE = "You are agreeable."


def build_persona_model(directory, steps: int = 150, seed: int = 0):
    """Tiny Llama trained on the trait's *train* statements: with GUIDANCE as a
    system message it answers as the trait would, without one it is undecided
    (target 50/50). Loss on the Yes/No choice only (about 30-60 s on one busy core)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from harness.testing.tiny_models import CHAT_TEMPLATE

    template_text = ["<|system|><|user|><|assistant|><|end|>", GUIDANCE, ANSWER_INSTRUCTION, "Yes No " * 20]
    corpus = [it.question for it in load_items(TRAIT)] + template_text * 50
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(
        corpus,
        trainer=trainers.BpeTrainer(
            vocab_size=1500,
            special_tokens=["<|endoftext|>", "<|pad|>"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        ),
    )
    tok = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        pad_token="<|pad|>",
        padding_side="left",
        clean_up_tokenization_spaces=False,
    )
    tok.chat_template = CHAT_TEMPLATE
    yes, no = (tok(a, add_special_tokens=False)["input_ids"] for a in ("Yes", "No"))
    assert len(yes) == len(no) == 1

    def render(system, question):
        messages = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": question + ANSWER_INSTRUCTION}
        ]
        return tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    rows = []
    for it in split_items(TRAIT, "train"):
        rows.append((render(GUIDANCE, it.question), 1.0 if it.matching == "Yes" else 0.0))
        rows.append((render(None, it.question), 0.5))
    torch.manual_seed(seed)
    model = LlamaForCausalLM(
        LlamaConfig(
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=4,
            num_attention_heads=4,
            num_key_value_heads=2,
            vocab_size=len(tok),
            max_position_embeddings=512,
            pad_token_id=tok.pad_token_id,
            bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id,
        )
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    rng = random.Random(seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for _ in range(steps):
            batch = rng.sample(rows, 32)
            enc = tok([text for text, _ in batch], return_tensors="pt", padding=True)
            positions = (enc["attention_mask"].cumsum(-1) - 1).clamp(min=0)
            last = model(**enc, position_ids=positions).logits[:, -1]
            pair = torch.stack([last[:, yes[0]], last[:, no[0]]], -1).log_softmax(-1)
            target = torch.tensor([[p, 1 - p] for _, p in batch])
            loss = -(target * pair).sum(-1).mean()
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    finally:
        torch.set_num_threads(threads)
    model.eval()
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    model.save_pretrained(directory)
    tok.save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def persona_model_dir(tmp_path_factory):
    return build_persona_model(tmp_path_factory.mktemp("persona_model"))


def control(tmp_path, model_dir, steer=None, steer_args=None, label=None) -> tuple[float, list[dict]]:
    config = RunConfig(
        model=f"hf:{model_dir}",
        tasks=["persona"],
        model_args={"dtype": "float32"},
        task_args={"trait": TRAIT, "direction": "toward", "n": "24", "n_drift": "0", "n_neutral": "0"},
        output=tmp_path / (label or steer or "none"),
        steer=steer,
        steer_args=steer_args or {},
    )
    result = run_eval(config)
    records = [json.loads(l) for l in (result.output / "samples.jsonl").read_text().splitlines()]
    return result.results["tasks"]["persona"]["metrics"]["control"]["value"], records


def test_prompt_mi_and_caa_move_the_trait_on_held_out_statements(tmp_path, persona_model_dir):
    from harness.adapters.steering.caa import build_prompted_vector, save_vector
    from harness.registry import create_model

    trained_on = {it.index for it in split_items(TRAIT, "train")}
    none, records = control(tmp_path, persona_model_dir)
    assert none == 0.0 and not {r["fields"]["statement_index"] for r in records} & trained_on
    baseline = sum(r["fields"]["p_match"] for r in records) / len(records)
    assert 0.4 < baseline < 0.6  # undecided without guidance

    prompted, _ = control(tmp_path, persona_model_dir, "prompt", {"guidance": GUIDANCE})
    mi, _ = control(tmp_path, persona_model_dir, "mi", {"guidance": GUIDANCE, "layers": "all"})
    adapter = create_model(f"hf:{persona_model_dir}", {"dtype": "float32"})
    questions = [it.question + ANSWER_INSTRUCTION for it in split_items(TRAIT, "train")[:64]]
    vector_path = tmp_path / "caa.safetensors"
    save_vector(build_prompted_vector(adapter, questions, GUIDANCE, 0), vector_path)
    caa, _ = control(tmp_path, persona_model_dir, "caa", {"vector": str(vector_path), "multiplier": "2"})
    caa_reversed, _ = control(tmp_path, persona_model_dir, "caa", {"vector": str(vector_path), "multiplier": "-1"}, "caa_reversed")
    assert prompted > 0.1
    assert abs(mi - prompted) < 1e-3  # bank at every layer = prompting
    # CAA (the prompted-contrast vector, layer 0) moves it too, and the negated vector the other way
    assert caa > 0.05 and caa_reversed < 0.0
