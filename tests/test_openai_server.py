"""The loopback server speaks the OpenAI protocol: checked with the official `openai` client."""

import openai
import pytest

from harness.testing.openai_server import LoopbackOpenAIServer, tokenize


def client(srv, **kw):
    return openai.OpenAI(base_url=srv.base_url, api_key="sk-local", max_retries=0, **kw)


def test_official_client_lists_models_chats_and_completes_with_logprobs():
    with LoopbackOpenAIServer(models=("mock", "other")) as srv:
        c = client(srv)
        assert [m.id for m in c.models.list()] == ["mock", "other"]
        chat = c.chat.completions.create(model="mock", messages=[{"role": "user", "content": "hi there. bye"}], stop=["."])
        assert chat.choices[0].message.content == "hi there" and chat.choices[0].finish_reason == "stop"
        assert chat.usage.prompt_tokens == 3
        done = c.completions.create(model="mock", prompt="a bb ccc", max_tokens=1, echo=True, logprobs=1)
        lp = done.choices[0].logprobs
        assert done.choices[0].text == "a bb ccc" + "a"
        assert lp.tokens == ["a", " bb", " ccc", "a"] and lp.text_offset == [0, 1, 4, 8]
        assert lp.token_logprobs[0] is None and lp.token_logprobs[1:] == pytest.approx([-0.3, -0.4, -0.1])
        with pytest.raises(openai.NotFoundError):
            c.chat.completions.create(model="absent", messages=[{"role": "user", "content": "x"}])


def test_injected_429_carries_retry_after_and_is_counted():
    with LoopbackOpenAIServer(faults_per_prompt=("429",), retry_after="7") as srv:
        c = client(srv)
        with pytest.raises(openai.RateLimitError) as e:
            c.chat.completions.create(model="mock", messages=[{"role": "user", "content": "x"}])
        assert e.value.response.headers["retry-after"] == "7"
        assert c.chat.completions.create(model="mock", messages=[{"role": "user", "content": "x"}]).choices[0].message.content == "x"
        assert srv.stats.faults == {"429": 1} and srv.stats.successes_by_prompt.most_common(1)[0][1] == 1


def test_random_fault_rates_are_seeded_and_roughly_right():
    def faults(seed):
        with LoopbackOpenAIServer(fault_rates={"500": 0.2, "429": 0.1}, seed=seed) as srv:
            c = client(srv)
            for i in range(60):
                try:
                    c.completions.create(model="mock", prompt=f"p{i}", max_tokens=2)
                except openai.APIStatusError:
                    pass
            return dict(srv.stats.faults), srv.stats.successes

    first = faults(3)
    assert first == faults(3)
    assert 5 <= first[0].get("500", 0) <= 22 and 1 <= first[0].get("429", 0) <= 14
    assert first[1] == 60 - sum(first[0].values())


def test_tokenize_round_trips_text():
    text = "  Hello,  world!\n\tnext  "
    assert "".join(tokenize(text)) == text


def test_unknown_fault_kind_is_rejected():
    with pytest.raises(ValueError, match="unknown fault"):
        LoopbackOpenAIServer(faults_per_prompt=("418",))
