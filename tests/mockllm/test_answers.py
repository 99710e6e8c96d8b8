"""Deterministic answers: same prompt and seed, same answer; length follows complexity."""

from __future__ import annotations

import openai
import pytest

from chatopt import tokens as token_counter
from chatopt.mockllm.answers import classify, compose_answer, detect_language

FAQ = "What are your opening hours?"
MODERATE = "Why is my chat slow and how should I fix it?"
COMPLEX = (
    "Analyze the trade-offs between Redis and PostgreSQL for storing chat history, compare their "
    "scaling behaviour step by step and recommend an architecture."
)


def answer_tokens(question: str, seed: int = 0) -> int:
    return token_counter.count_text(compose_answer([{"role": "user", "content": question}], seed=seed))


def test_same_messages_and_seed_give_the_same_answer() -> None:
    messages = [{"role": "user", "content": MODERATE}]
    assert compose_answer(messages, seed=4) == compose_answer([dict(m) for m in messages], seed=4)


def test_another_seed_or_another_history_changes_the_answer() -> None:
    messages = [{"role": "user", "content": MODERATE}]
    longer = [{"role": "system", "content": "Be brief."}, *messages]
    assert compose_answer(messages, seed=1) != compose_answer(messages, seed=2)
    assert compose_answer(messages, seed=1) != compose_answer(longer, seed=1)


def test_complexity_classes() -> None:
    assert classify(FAQ) == "faq"
    assert classify(MODERATE) == "moderate"
    assert classify(COMPLEX) == "complex"
    assert classify(
        "Explique passo a passo como otimizar a arquitetura de um chat e compare estratégias."
    ) == ("complex")


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_answer_length_grows_with_complexity(seed: int) -> None:
    faq, moderate, complex_ = (
        answer_tokens(FAQ, seed),
        answer_tokens(MODERATE, seed),
        answer_tokens(COMPLEX, seed),
    )
    assert 40 <= faq <= 80
    assert 130 <= moderate <= 230
    assert 320 <= complex_ <= 480
    assert faq < moderate < complex_


def test_portuguese_questions_get_portuguese_answers() -> None:
    question = "Qual é o horário de funcionamento da loja?"
    assert detect_language(question) == "pt"
    assert detect_language(FAQ) == "en"
    answer = compose_answer([{"role": "user", "content": question}])
    assert detect_language(answer) == "pt"
    assert detect_language(compose_answer([{"role": "user", "content": COMPLEX}])) == "en"


def test_the_server_is_deterministic_and_honours_the_request_seed(mock_llm) -> None:
    client = openai.OpenAI(base_url=mock_llm.base_url, api_key="unused", max_retries=0)
    messages = [{"role": "user", "content": MODERATE}]

    def ask(**options) -> str:
        return (
            client.chat.completions.create(model="gpt-4o", messages=messages, **options)
            .choices[0]
            .message.content
        )

    assert ask() == ask()
    assert ask(seed=11) == ask(seed=11)
    assert ask(seed=11) != ask(seed=12)
    assert ask() == compose_answer(messages, seed=0)
